// How the command line shows an ingest: the live progress line (rewritten in place on a
// terminal), the one-line summary, and the JSON summary. Pure functions, so they are testable.
#pragma once

#include "ingest/ingestor.h"

#include <nlohmann/json.hpp>

#include <QString>

namespace nw::app {

// "1:05", "12:00:03"; "--:--" for a negative (unknown) duration.
QString formatDuration(double seconds);

// "[ 12/140 files] 3,456 pages (40 by OCR)  812 pages/s  ETA 0:42  manual.pdf", cut to `width` columns.
QString ingestProgressLine(const ingest::IngestProgress &progress, int width);

// "Ingested 11 of 14 files (3,456 pages, 40 by OCR) in 6.1 s; 1 replaced an older version, 1 already
// in the library, 2 failed" — files already in the library are not counted as ingested; "(10,412
// documents, 11,020 pages)" when a file held several (a mailbox); "Nothing new: all 4 files are
// already in the library (0.1 s)" when that is all there was.
QString ingestSummaryLine(const ingest::IngestSummary &summary);

nlohmann::json ingestSummaryJson(const ingest::IngestSummary &summary, const QString &databasePath);

// The exit code the issue asks for: 0 when a file was ingested or all were already present,
// 1 when every file failed (or none was found), 130 when stopped by Ctrl-C.
int ingestExitCode(const ingest::IngestSummary &summary);

} // namespace nw::app
