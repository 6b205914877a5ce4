// Sample corpus: texts from the Qt resource :/sample (see app/CMakeLists.txt), PDFs on demand.
#include "app/sample_corpus.h"

#include "app/output_file.h"
#include "app/paths.h"
#include "common/error.h"

#include <QDir>
#include <QFile>

namespace nw::app {
namespace {

struct Entry {
    const char *name;
    const char *title;
};

constexpr Entry kEntries[] = {
    { "GPL-2", "GNU General Public License, version 2" },
    { "GPL-3", "GNU General Public License, version 3" },
    { "LGPL-2.1", "GNU Lesser General Public License, version 2.1" },
    { "LGPL-3", "GNU Lesser General Public License, version 3" },
    { "Apache-2.0", "Apache License, Version 2.0" },
    { "MPL-2.0", "Mozilla Public License, version 2.0" },
    { "Artistic", "The \"Artistic License\"" },
};

SampleText load(const Entry &entry)
{
    const QString resource = QStringLiteral(":/sample/%1.txt").arg(QLatin1String(entry.name));
    QFile file(resource);
    if (!file.open(QIODevice::ReadOnly))
        fail("sample corpus: {} is not in the binary (was resources/sample/ compiled in?)", resource.toStdString());
    return { QString::fromLatin1(entry.name), QString::fromUtf8(entry.title), QString::fromUtf8(file.readAll()) };
}

} // namespace

std::vector<SampleText> sampleTexts()
{
    std::vector<SampleText> texts;
    for (const Entry &entry : kEntries)
        texts.push_back(load(entry));
    return texts;
}

SampleText requireSampleText(const QString &name)
{
    for (const Entry &entry : kEntries)
        if (name == QLatin1String(entry.name))
            return load(entry);
    fail("sample corpus: no text named '{}'", name.toStdString());
}

QStringList writeSamplePdfs(const QString &directory, const TextPdfLayout &layout)
{
    if (!QDir().mkpath(directory))
        fail("sample corpus: cannot create the directory {}", directory.toStdString());
    QStringList paths;
    for (const SampleText &text : sampleTexts()) {
        const QString path = QDir(directory).filePath(text.name + QStringLiteral(".pdf"));
        const QByteArray pdf = renderTextPdf(text.title, text.text, layout);
        QFile existing(path);
        // Rewriting an identical file would change nothing but its mtime; skip it.
        const bool same = existing.open(QIODevice::ReadOnly) && existing.readAll() == pdf;
        existing.close();
        if (!same)
            writeOutputFile(path, pdf);
        paths << path;
    }
    return paths;
}

QString defaultSampleDirectory(PaperSize paper)
{
    return QDir(cacheDirectory())
        .filePath(paper == PaperSize::A4 ? QStringLiteral("sample-a4") : QStringLiteral("sample-letter"));
}

} // namespace nw::app
