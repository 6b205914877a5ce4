// Where ingest time goes, page by page, on one thread: opening each PDF and extracting its
// pages through ingest::PdfDocument (Poppler's text layout), then their word boxes, against
// pdftotext run on the same file in the same run (process start included, as the ingest
// benchmark counts it). Prints per-file and total figures, and the slowest pages.
//
//   nw_bench_extract FILE_OR_DIR... [--repeat N]
#include "bench/ingest/bench_application.h"
#include "ingest/pdf_document.h"

#include <QCommandLineParser>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QProcess>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

namespace {

double cpuSeconds()
{
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The child's CPU time (user + system) is what matters on a loaded machine.
double pdftotextCpuSeconds(const QString &file)
{
    QProcess p;
    p.start(QStringLiteral("bash"), {QStringLiteral("-c"), QStringLiteral("TIMEFORMAT=%3U+%3S; time pdftotext \"$1\" /dev/null"),
                                      QStringLiteral("x"), file});
    p.waitForFinished(300000);
    const QStringList parts = QString::fromLatin1(p.readAllStandardError()).trimmed().split(QLatin1Char('\n')).last().split(QLatin1Char('+'));
    return parts.size() == 2 ? parts[0].toDouble() + parts[1].toDouble() : 0;
}

} // namespace

int main(int argc, char **argv)
{
    nw::bench::BenchApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("FILE_OR_DIR"), QStringLiteral("PDFs to profile"));
    app.parse(parser);
    QStringList files;
    for (const QString &arg : parser.positionalArguments()) {
        if (QFileInfo(arg).isDir()) {
            QDirIterator it(arg, {QStringLiteral("*.pdf")}, QDir::Files, QDirIterator::Subdirectories);
            while (it.hasNext())
                files << it.next();
        } else {
            files << arg;
        }
    }
    files.sort();

    struct PageTime {
        double seconds;
        QString file;
        int page;
    };
    std::vector<PageTime> pages;
    double open = 0, text = 0, words = 0, peer = 0;
    int nPages = 0, nUnplaced = 0;
    std::printf("%-44s %6s %9s %9s %9s %9s %7s\n", "file (CPU seconds, one thread)", "pages", "open", "text", "boxes", "pdftotext", "ratio");
    for (const QString &file : files) {
        try {
            double t0 = cpuSeconds();
            const nw::ingest::PdfDocument pdf = nw::ingest::PdfDocument::open(file);
            const double tOpen = cpuSeconds() - t0;
            double tText = 0, tWords = 0;
            for (int i = 0; i < pdf.pageCount(); ++i) {
                t0 = cpuSeconds();
                const nw::ingest::PageContent content = pdf.page(i, false);
                const double s = cpuSeconds() - t0;
                tText += s;
                pages.push_back({s, QFileInfo(file).fileName(), i + 1});
                // The boxes placed in the page's text, as highlighting does it on demand.
                t0 = cpuSeconds();
                if (!pdf.wordBoxes(i, content.text)) {
                    ++nUnplaced;
                    std::printf("%s p.%d: its words could not be placed in its text\n", qPrintable(QFileInfo(file).fileName()), i + 1);
                }
                tWords += cpuSeconds() - t0;
            }
            const double tPeer = pdftotextCpuSeconds(file);
            open += tOpen;
            text += tText;
            words += tWords;
            peer += tPeer;
            nPages += pdf.pageCount();
            std::printf("%-44s %6d %9.3f %9.3f %9.3f %9.3f %6.2fx\n", qPrintable(QFileInfo(file).fileName().left(44)), pdf.pageCount(),
                        tOpen, tText, tWords, tPeer, tPeer / (tOpen + tText));
        } catch (const std::exception &e) {
            std::printf("%-44s skipped: %s\n", qPrintable(QFileInfo(file).fileName().left(44)), e.what());
        }
    }
    std::printf("total: %d pages; open %.2f s, text %.2f s (%.2f ms a page, %.0f pages/s), word boxes %.2f s "
                "(not placed on %d pages); pdftotext %.2f s (%.0f pages/s); pdftotext / ours %.2fx per thread\n",
                nPages, open, text, 1e3 * text / nPages, nPages / (open + text), words, nUnplaced, peer, nPages / peer,
                peer / (open + text));
    std::sort(pages.begin(), pages.end(), [](const PageTime &a, const PageTime &b) { return a.seconds > b.seconds; });
    for (std::size_t i = 0; i < std::min<std::size_t>(5, pages.size()); ++i)
        std::printf("slow page: %s p.%d %.1f ms\n", qPrintable(pages[i].file), pages[i].page, pages[i].seconds * 1e3);
    return 0;
}
