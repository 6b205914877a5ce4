// The options `ask` and `chat` share: database, model, mode, documents, KV mode, context.
#pragma once

#include "app/ask_service.h"
#include "app/numeric_options.h"

#include <QCommandLineParser>

namespace nw::app {

void addAskOptions(QCommandLineParser &parser);
// The ranges of the numeric options addAskOptions adds (Command::numbers).
std::vector<NumericOption> askNumericOptions();
// The request the options describe (the question is the caller's); throws nw::Error on bad values.
AskRequest askRequestFrom(const QCommandLineParser &parser, const QString &question);
// Loads --model (with --kv, --ctx) into the service; nothing without --model.
void loadModelFrom(const QCommandLineParser &parser, AskService &service);

} // namespace nw::app
