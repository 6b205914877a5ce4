// Names of ingest problems.
#include "ingest/ingest_error.h"

#include "common/byte_format.h"

namespace nw::ingest {

const char *problemName(IngestProblem problem)
{
    switch (problem) {
    case IngestProblem::Missing:
        return "missing";
    case IngestProblem::Unreadable:
        return "unreadable";
    case IngestProblem::NotPdf:
        return "not-pdf";
    case IngestProblem::Unsupported:
        return "unsupported";
    case IngestProblem::Corrupt:
        return "corrupt";
    case IngestProblem::Truncated:
        return "truncated";
    case IngestProblem::Encrypted:
        return "encrypted";
    case IngestProblem::ZeroPages:
        return "zero-pages";
    case IngestProblem::NoText:
        return "no-text";
    case IngestProblem::TooLarge:
        return "too-large";
    case IngestProblem::Empty:
        return "empty";
    case IngestProblem::OcrUnavailable:
        return "ocr-unavailable";
    case IngestProblem::TooDeep:
        return "too-deep";
    }
    return "unknown";
}

QString bytesText(std::int64_t bytes)
{
    return QString::fromStdString(formatBytes(static_cast<std::uint64_t>(bytes)));
}

} // namespace nw::ingest
