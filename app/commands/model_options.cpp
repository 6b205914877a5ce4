// The model options of `generate` and `perplexity`, spelled and loaded in one place.
#include "app/commands/model_options.h"

#include "app/commands/device_option.h"

namespace nw::app {

int usageError(CommandIo &io, const QString &command, const QString &message)
{
    io.err << "needlework " << command << ": " << message << " (see 'needlework " << command << " --help')\n";
    return ExitUsage;
}

void addModelOption(QCommandLineParser &parser)
{
    parser.addOption({QStringLiteral("model"), QStringLiteral("The GGUF model."), QStringLiteral("M.gguf")});
}

void addModelRunOptions(QCommandLineParser &parser, const QString &kvDescription)
{
    parser.addOption({QStringLiteral("threads"), QStringLiteral("CPU threads (default: all cores)."), QStringLiteral("T")});
    addDeviceOption(parser);
    parser.addOption({QStringLiteral("kv"), kvDescription, QStringLiteral("MODE")});
}

LoadedModel loadModelFromOptions(const QCommandLineParser &parser, int threads, DeviceChoice device)
{
    LoadedModel loaded;
    loaded.gguf = GgufFile::open(parser.value(QStringLiteral("model")).toStdString());
    loaded.model = loadModel(loaded.gguf, {.threads = threads, .device = device});
    loaded.tokenizer = Tokenizer::fromGguf(*loaded.gguf);
    loaded.kvMode.mode = loaded.model->kvModes().front();
    if (parser.isSet(QStringLiteral("kv")))
        loaded.kvMode = KvModeSpec::parse(parser.value(QStringLiteral("kv")).toStdString());
    return loaded;
}

} // namespace nw::app
