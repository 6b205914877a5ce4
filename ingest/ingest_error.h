// Why a file could not be ingested: a kind for programs and a reason for people. Every bad
// input becomes one of these, never an abort, so one bad file never stops a batch.
#pragma once

#include "common/error.h"

#include <QString>

#include <cstdint>

namespace nw::ingest {

enum class IngestProblem {
    Missing, // the path does not exist
    Unreadable, // permissions or I/O error
    NotPdf, // named .pdf but something else inside
    Unsupported, // no format Needlework reads
    Corrupt, // the file (PDF, zip, XML, MIME) is damaged: it cannot be read
    Truncated, // the end of the file is missing
    Encrypted, // needs a password
    ZeroPages, // a valid PDF with no pages
    NoText, // no text on any page: no text layer and OCR off, or OCR found none
    TooLarge, // over the byte or page limit, or a zip that expands too far (a zip bomb)
    Empty, // a text file with nothing in it
    OcrUnavailable, // a page needs OCR in a language whose data is not installed
    TooDeep, // messages attached to messages nest deeper than the limit
};

// "encrypted", "truncated", ...: stable names for JSON and the ingest_errors table.
const char *problemName(IngestProblem problem);

// A size in a reason ("12.0 MiB"), in common/byte_format.h's one format; limits are never negative.
QString bytesText(std::int64_t bytes);

class IngestFailure : public Error {
public:
    IngestFailure(IngestProblem problem, const QString &reason)
        : Error(reason.toStdString())
        , m_problem(problem)
        , m_reason(reason)
    {
    }
    IngestProblem problem() const { return m_problem; }
    const QString &reason() const { return m_reason; }

private:
    IngestProblem m_problem;
    QString m_reason;
};

} // namespace nw::ingest
