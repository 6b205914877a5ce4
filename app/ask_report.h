// How an ask result is shown: JSON for machines (`--json`), text for the terminal (answer,
// then the numbered citations with page and section, then unsupported quotes and timings).
#pragma once

#include "app/ask_service.h"
#include "common/byte_format.h"

#include <QTextStream>

#include <nlohmann/json_fwd.hpp>

namespace nw::app {

nlohmann::json askResultToJson(const AskResult &result);
// A remote server's KV figures (app/remote_metrics.h); a figure it does not export is left out.
nlohmann::json remoteKvToJson(const RemoteKvFigures &figures);
nlohmann::json citationsToJson(const std::vector<Citation> &citations);

// How the prompt was made to fit the context, for people ("(To fit the 1024-token context: 6 of 8
// sources left out, the lowest-ranked first. …)"); "" when everything fitted or there was no model.
QString contextFitNote(const AskResult &result);
// Everything after the answer text: citations, flagged quotes, the context note, model figures.
void printCitations(QTextStream &out, const AskResult &result);
// The answer and printCitations(); `answerAlreadyShown` when it was streamed.
void printAskResult(QTextStream &out, const AskResult &result, bool answerAlreadyShown = false);

// common/byte_format.h's figures as QStrings ("1.50 GiB", "320.0 MiB", "640 B"): the one format
// of the CLI, the window and the exports.
inline QString formatBytes(std::uint64_t bytes)
{
    return QString::fromStdString(nw::formatBytes(bytes));
}
// "8.89×", "14.2×"; "–" when undefined.
inline QString formatSaving(double factor)
{
    return QString::fromStdString(nw::formatSaving(factor));
}

} // namespace nw::app
