// `needlework demo`: the bundled sample corpus from PDF to cited answers, and the KV planner.
#include "app/commands/commands.h"

#include "app/demo.h"
#include "app/paths.h"
#include "app/sample_corpus.h"

#include <QDir>

namespace nw::app {

Command demoCommand()
{
    return {
        .name = QStringLiteral("demo"),
        .summary = QStringLiteral("Ingest the bundled sample corpus and answer three questions with citations."),
        .usage = QStringLiteral("[--db FILE] [--model M.gguf] [--kv MODE]"),
        .description = QStringLiteral(
            "Writes the bundled licence texts (GPL-2/3, LGPL-2.1/3, Apache-2.0, MPL-2.0, Artistic) as PDFs, ingests "
            "them into a fresh database (default: demo.sqlite in the data directory; an existing file is replaced), "
            "answers three questions with page citations — extractively, or with --model — and prints the KV planner "
            "table for well-known architectures at 32K, 128K and 1M tokens. Open the result with "
            "'needlework --db FILE'."),
        .configure =
            [](QCommandLineParser &parser) {
                parser.addOption({QStringLiteral("db"), QStringLiteral("Database to create (replaced if it exists)."), QStringLiteral("FILE")});
                parser.addOption({QStringLiteral("model"), QStringLiteral("GGUF model for generated answers."), QStringLiteral("M.gguf")});
                parser.addOption({QStringLiteral("kv"), QStringLiteral("KV cache mode for the model."), QStringLiteral("MODE")});
                parser.addOption({QStringLiteral("samples"), QStringLiteral("Directory for the sample PDFs."), QStringLiteral("DIR")});
            },
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                DemoOptions options;
                options.databasePath = parser.isSet(QStringLiteral("db")) ? parser.value(QStringLiteral("db"))
                                                                          : QDir(dataDirectory()).filePath(QStringLiteral("demo.sqlite"));
                options.sampleDirectory = parser.isSet(QStringLiteral("samples")) ? parser.value(QStringLiteral("samples"))
                                                                                  : defaultSampleDirectory();
                options.modelPath = parser.value(QStringLiteral("model"));
                options.kvMode = parser.value(QStringLiteral("kv"));
                return runDemo(options, io.out, io.err);
            },
    };
}

} // namespace nw::app
