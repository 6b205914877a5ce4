// What the commands that run a model share: the usage-error line, the --model, --threads,
// --device and --kv options, and loading the model, its tokenizer and the KV mode they ask for.
#pragma once

#include "app/command.h"
#include "engine/gguf_file.h"
#include "engine/kv_cache.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "kernels/backend.h"

#include <QCommandLineParser>
#include <QString>

#include <memory>

namespace nw::app {

// Prints "needlework COMMAND: MESSAGE (see 'needlework COMMAND --help')" to io.err; returns ExitUsage.
int usageError(CommandIo &io, const QString &command, const QString &message);

// --model M.gguf.
void addModelOption(QCommandLineParser &parser);
// --threads T, --device D and --kv MODE, in that order; `kvDescription` says which modes apply.
void addModelRunOptions(QCommandLineParser &parser, const QString &kvDescription);

// The --model file opened and loaded; the tokenizer from its metadata; the KV mode of --kv, or
// the model's own first mode when it is absent. Members in the order they must be made (and
// destroyed in reverse): the model reads the mapped file.
struct LoadedModel {
    std::shared_ptr<GgufFile> gguf;
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    KvModeSpec kvMode;
};
// Throws nw::Error when the file cannot be read or loaded, or --kv does not parse.
LoadedModel loadModelFromOptions(const QCommandLineParser &parser, int threads, DeviceChoice device);

} // namespace nw::app
