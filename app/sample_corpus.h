// The bundled sample corpus: licence texts Debian ships (resources/sample/, compiled into the
// binary), rendered to paginated PDFs on first use so the demo and the tests ingest real PDFs.
#pragma once

#include "app/text_pdf.h"

#include <QString>
#include <QStringList>

#include <vector>

namespace nw::app {

struct SampleText {
    QString name; // "GPL-3": the file name without ".txt", also the PDF's base name
    QString title; // "GNU General Public License, version 3"
    QString text; // verbatim
};

// Every text of the corpus, in a fixed order.
std::vector<SampleText> sampleTexts();
// Throws nw::Error for an unknown name.
SampleText requireSampleText(const QString &name);

// Writes <directory>/<name>.pdf for each text (creating the directory) unless an identical file
// is there already; returns the paths in sampleTexts() order. Writes go through writeOutputFile.
QStringList writeSamplePdfs(const QString &directory, const TextPdfLayout &layout = {});

// Where the PDFs are kept between runs: cacheDirectory()/sample-<paper>.
QString defaultSampleDirectory(PaperSize paper = PaperSize::Letter);

} // namespace nw::app
