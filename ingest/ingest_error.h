// Why a file could not be ingested: a kind for programs and a reason for people. Every bad
// input becomes one of these, never an abort, so one bad file never stops a batch.
#pragma once

#include "common/error.h"

#include <QString>

namespace nw::ingest {

enum class IngestProblem {
    Missing,     // the path does not exist
    Unreadable,  // permissions or I/O error
    NotPdf,      // named .pdf but something else inside
    Unsupported, // neither PDF nor text
    Corrupt,     // Poppler could not open it
    Truncated,   // the end of the file is missing
    Encrypted,   // needs a password
    ZeroPages,   // a valid PDF with no pages
    NoText,      // no text layer on any page (scanned): OCR is not available
    TooLarge,    // over the byte or page limit
    Empty,       // a text file with nothing in it
};

// "encrypted", "truncated", ...: stable names for JSON and the ingest_errors table.
const char *problemName(IngestProblem problem);

class IngestFailure : public Error {
public:
    IngestFailure(IngestProblem problem, const QString &reason)
        : Error(reason.toStdString()), m_problem(problem), m_reason(reason) {}
    IngestProblem problem() const { return m_problem; }
    const QString &reason() const { return m_reason; }

private:
    IngestProblem m_problem;
    QString m_reason;
};

} // namespace nw::ingest
