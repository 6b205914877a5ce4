// How an ask result is shown: JSON for machines (`--json`), text for the terminal (answer,
// then the numbered citations with page and section, then unsupported quotes and timings).
#pragma once

#include "app/ask_service.h"
#include "common/byte_format.h"

#include <QTextStream>

#include <nlohmann/json_fwd.hpp>

namespace nw::app {

nlohmann::json askResultToJson(const AskResult &result);
nlohmann::json citationsToJson(const std::vector<Citation> &citations);

// Everything after the answer text: citations, flagged quotes, model figures.
void printCitations(QTextStream &out, const AskResult &result);
// The answer and printCitations(); `answerAlreadyShown` when it was streamed.
void printAskResult(QTextStream &out, const AskResult &result, bool answerAlreadyShown = false);

// common/byte_format.h's figures as QStrings ("1.50 GiB", "320.0 MiB", "640 B").
inline QString formatBytes(std::uint64_t bytes)
{
    return QString::fromStdString(nw::formatBytes(bytes));
}

} // namespace nw::app
