// The other formats against their peers, in the same run:
//
//  --ocr: pages of the PDFs under /usr/share/doc drawn at 200 dpi, turned, speckled and JPEG-
//   compressed, wrapped back into an image-only PDF; `needlework ingest` of that scan against the
//   `tesseract` command run page by page on the same pages (drawn at the 300 dpi the ingest
//   recognises at, PNG), as it comes (OpenMP on) and with OMP_THREAD_LIMIT=1. Throughput (wall and
//   CPU), then how many distinctive phrases of each original page search finds on the right page
//   (and the command's text holds), and how many recognised words' boxes sit on the original's.
//  --layers: the text-layer verdict that decides which pages --ocr auto recognises, over every
//   page of the PDFs under /usr/share/doc (born digital: each should be usable unless nearly
//   empty) and over layers of generated garbage (each should not be).
//  --mail: bytes per CPU second of `needlework ingest` for an mbox of N messages (with
//   attachments and threads), .eml, .docx and .html files, against the same for the PDFs under
//   /usr/share/doc (and pdftotext on them), with each run's peak RSS; the mbox at two sizes, so
//   a growth of memory with its size shows.
//
//   nw_bench_formats [--ocr] [--layers] [--mail] [--pages N] [--messages N] [--jobs N] [--keep DIR]
//
// Times are wall and CPU (user + system, of the child processes): the machines this runs on are
// shared, so compare CPU figures when the load average is above 1 (the bench prints it).
#include "bench/ingest/bench_application.h"
#include "bench/store/synthetic_library.h"
#include "ingest/pdf_document.h"
#include "ingest/text_layer.h"
#include "store/library_store.h"
#include "store/search_service.h"
#include "tests/ingest/office_fixtures.h"
#include "tests/ingest/pdf_fixtures.h"
#include "tests/support/scanned_pdf.h"

#include <QCommandLineParser>
#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTemporaryDir>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fcntl.h>
#include <map>
#include <set>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <vector>

extern char **environ;

namespace {

struct RunStats {
    double wall = 0;
    double cpu = 0; // user + system of the child
    long maxRssKiB = 0;
    int exitCode = -1;
};

RunStats &operator+=(RunStats &a, const RunStats &b)
{
    a.wall += b.wall;
    a.cpu += b.cpu;
    a.maxRssKiB = std::max(a.maxRssKiB, b.maxRssKiB);
    a.exitCode = std::max(a.exitCode, b.exitCode);
    return a;
}

// Runs a program to its end, with `env` added to the environment; wall time, and CPU time and
// peak RSS from wait4's rusage of that child alone.
RunStats runProgram(const QStringList &args, const QStringList &env = {})
{
    std::vector<QByteArray> storage;
    for (const QString &a : args)
        storage.push_back(a.toLocal8Bit());
    std::vector<char *> argv;
    for (QByteArray &s : storage)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<QByteArray> envStorage;
    for (char **e = environ; *e; ++e)
        envStorage.emplace_back(*e);
    for (const QString &e : env)
        envStorage.push_back(e.toLocal8Bit());
    std::vector<char *> envp;
    for (QByteArray &s : envStorage)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    QElapsedTimer timer;
    timer.start();
    pid_t pid = 0;
    RunStats stats;
    if (posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) {
        posix_spawn_file_actions_destroy(&actions);
        std::fprintf(stderr, "cannot run %s\n", argv[0]);
        return stats;
    }
    int status = 0;
    rusage usage {};
    wait4(pid, &status, 0, &usage);
    stats.wall = static_cast<double>(timer.nsecsElapsed()) * 1e-9;
    stats.cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
    stats.maxRssKiB = usage.ru_maxrss;
    stats.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    posix_spawn_file_actions_destroy(&actions);
    return stats;
}

QString loadAverage()
{
    QFile file(QStringLiteral("/proc/loadavg"));
    return file.open(QIODevice::ReadOnly) ? QString::fromLatin1(file.readAll()).section(QLatin1Char(' '), 0, 2)
                                          : QStringLiteral("?");
}

QStringList gatherSystemPdfs(const QString &into)
{
    QDir().mkpath(into);
    QStringList files;
    QDirIterator it(QStringLiteral("/usr/share/doc"), { QStringLiteral("*.pdf"), QStringLiteral("*.pdf.gz") },
        QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QFileInfo info(it.next());
        QString target = into + QLatin1Char('/') + info.fileName();
        if (info.fileName().endsWith(QLatin1String(".gz"))) {
            target.chop(3);
            QProcess gunzip;
            gunzip.setStandardOutputFile(target);
            gunzip.start(QStringLiteral("gunzip"), { QStringLiteral("-c"), info.absoluteFilePath() });
            gunzip.waitForFinished(60000);
        } else {
            QFile::copy(info.absoluteFilePath(), target);
        }
        try {
            nw::ingest::PdfDocument::open(target);
            files << target;
        } catch (const std::exception &) {
            QFile::remove(target);
        }
    }
    files.sort();
    return files;
}

std::int64_t totalBytes(const QStringList &files)
{
    std::int64_t bytes = 0;
    for (const QString &f : files)
        bytes += QFileInfo(f).size();
    return bytes;
}

QStringList filesIn(const QString &dir)
{
    QStringList files;
    for (const QFileInfo &info : QDir(dir).entryInfoList(QDir::Files))
        files << info.absoluteFilePath();
    return files;
}

// Words as FTS5's unicode61 tokenizer sees them: lower case, letters and digits, accents kept
// (both sides are compared alike).
QStringList tokens(const QString &text)
{
    static const QRegularExpression word(QStringLiteral("[\\p{L}\\p{N}]+"));
    QStringList out;
    // A word hyphenated at a line end is one word in the text both sides store.
    QString joined = text;
    joined.replace(QRegularExpression(QStringLiteral("(\\p{Ll})-\\n(\\p{Ll})")), QStringLiteral("\\1\\2"));
    for (auto it = word.globalMatch(joined); it.hasNext();)
        out << it.next().captured().toLower();
    return out;
}

// --- OCR

struct ScannedPage {
    QString source; // the original PDF
    int index = 0;
    QString text; // the original's text layer
    std::vector<nw::store::WordBox> words;
    QSizeF size;
};

int runOcr(const QString &work, int nPages, int jobs, const QString &needlework)
{
    std::printf("\n== OCR: needlework ingest of a scan against the tesseract command, page by page ==\n");
    const QStringList pdfs = gatherSystemPdfs(work + QStringLiteral("/originals"));
    if (pdfs.isEmpty()) {
        std::printf("no PDFs under /usr/share/doc\n");
        return 1;
    }
    // Pages with a page's worth of text, taken from each PDF in turn (from its middle: covers and
    // tables of contents are not what a production is made of).
    std::vector<ScannedPage> chosen;
    std::vector<std::unique_ptr<nw::ingest::PdfDocument>> open;
    for (const QString &pdf : pdfs)
        open.push_back(std::make_unique<nw::ingest::PdfDocument>(nw::ingest::PdfDocument::open(pdf)));
    std::vector<int> next(open.size());
    for (std::size_t d = 0; d < open.size(); ++d)
        next[d] = open[d]->pageCount() / 4;
    for (int round = 0; static_cast<int>(chosen.size()) < nPages && round < 200; ++round) {
        for (std::size_t d = 0; d < open.size() && static_cast<int>(chosen.size()) < nPages; ++d) {
            while (next[d] < open[d]->pageCount()) {
                nw::ingest::PageContent page = open[d]->page(next[d]++, true);
                if (tokens(page.text).size() >= 150 && !page.words.empty()) {
                    chosen.push_back({ pdfs[static_cast<int>(d)], next[d] - 1, page.text, page.words, page.size });
                    break;
                }
            }
        }
    }
    std::vector<QImage> images;
    std::vector<QSizeF> sizes;
    for (std::size_t i = 0; i < chosen.size(); ++i) {
        const nw::ingest::PdfDocument &pdf = *open[static_cast<std::size_t>(pdfs.indexOf(chosen[i].source))];
        nw::test::ScanDefects defects;
        defects.seed = static_cast<quint32>(i + 1);
        images.push_back(nw::test::degradeScan(pdf.renderPage(chosen[i].index, 200), defects));
        sizes.push_back(chosen[i].size);
    }
    const QString scan = work + QStringLiteral("/scan.pdf");
    nw::test::writeImagePdf(scan, images, sizes);
    images.clear();
    // The command's input: the scan's pages as the ingest recognises them (300 dpi, grey).
    QDir().mkpath(work + QStringLiteral("/png"));
    QStringList pngs;
    {
        const nw::ingest::PdfDocument scanned = nw::ingest::PdfDocument::open(scan);
        for (int i = 0; i < scanned.pageCount(); ++i) {
            const QString png = work + QStringLiteral("/png/page-%1.png").arg(i + 1, 3, 10, QLatin1Char('0'));
            scanned.renderPage(i, 300).convertToFormat(QImage::Format_Grayscale8).save(png);
            pngs << png;
        }
    }
    std::printf("corpus: %zu pages from %lld PDFs of /usr/share/doc, scanned at 200 dpi (0.4 deg, speckles, JPEG 55), "
                "%.1f MiB\n",
        chosen.size(), static_cast<long long>(pdfs.size()), static_cast<double>(QFileInfo(scan).size()) / 1048576.0);
    std::printf("load average before: %s\n", qPrintable(loadAverage()));

    const auto runCli = [&](const QStringList &env, const QString &outDir) {
        QDir().mkpath(outDir);
        RunStats total;
        total.exitCode = 0;
        for (const QString &png : pngs)
            total += runProgram(
                { QStringLiteral("tesseract"), png, outDir + QLatin1Char('/') + QFileInfo(png).completeBaseName() },
                env);
        return total;
    };
    const RunStats cli = runCli({}, work + QStringLiteral("/cli"));
    const RunStats cliOne = runCli({ QStringLiteral("OMP_THREAD_LIMIT=1") }, work + QStringLiteral("/cli1"));
    const QString db = work + QStringLiteral("/ocr.sqlite");
    QFile::remove(db);
    const RunStats ours = runProgram({ needlework, QStringLiteral("ingest"), scan, QStringLiteral("--db"), db,
        QStringLiteral("--jobs"), QString::number(jobs) });
    std::printf("load average after: %s\n", qPrintable(loadAverage()));
    const double n = static_cast<double>(pngs.size());
    std::printf("%-44s %8s %8s %9s %9s %8s\n", "", "wall s", "CPU s", "pages/s", "CPU s/pg", "RSS MiB");
    const auto row = [&](const char *name, const RunStats &r) {
        std::printf("%-44s %8.1f %8.1f %9.2f %9.2f %8.0f%s\n", name, r.wall, r.cpu, n / r.wall, r.cpu / n,
            static_cast<double>(r.maxRssKiB) / 1024.0, r.exitCode == 0 ? "" : "  (failed)");
    };
    row("tesseract CLI, page by page", cli);
    row("tesseract CLI, page by page, OMP_THREAD_LIMIT=1", cliOne);
    row(qPrintable(QStringLiteral("needlework ingest --jobs %1").arg(jobs)), ours);
    std::printf("throughput ratio (wall): %.2fx the CLI, %.2fx the CLI with OMP_THREAD_LIMIT=1\n", cli.wall / ours.wall,
        cliOne.wall / ours.wall);
    std::printf("CPU per page ratio:      %.2fx the CLI, %.2fx the CLI with OMP_THREAD_LIMIT=1 (higher: needlework "
                "spends less)\n",
        cli.cpu / ours.cpu, cliOne.cpu / ours.cpu);

    // Recall: distinctive phrases (three words of three letters or more, on one page only) of
    // each original page, searched in the library, and looked up in the command's text.
    nw::store::LibraryStore library(db, nw::store::LibraryAccess::ReadOnly);
    const std::vector<nw::store::DocumentInfo> docs = library.documents();
    if (docs.size() != 1) {
        std::printf("the scan was not ingested\n");
        return 1;
    }
    const std::int64_t docId = docs.front().id;
    std::map<QString, int> phraseCount;
    std::vector<std::vector<QString>> phrasesOfPage(chosen.size());
    for (std::size_t p = 0; p < chosen.size(); ++p) {
        const QStringList t = tokens(chosen[p].text);
        std::set<QString> seen;
        for (qsizetype i = 0; i + 3 <= t.size(); ++i) {
            const QStringList w = t.mid(i, 3);
            if (std::all_of(w.begin(), w.end(), [](const QString &x) {
                    return x.size() >= 3 && std::all_of(x.begin(), x.end(), [](QChar c) { return c.isLetter(); });
                }))
                if (seen.insert(w.join(QLatin1Char(' '))).second)
                    ++phraseCount[w.join(QLatin1Char(' '))];
        }
        for (const QString &phrase : seen)
            phrasesOfPage[p].push_back(phrase);
    }
    nw::store::SearchService search(library);
    int total = 0, found = 0, foundCli = 0;
    for (std::size_t p = 0; p < chosen.size(); ++p) {
        QFile cliText(work + QStringLiteral("/cli/page-%1.txt").arg(static_cast<int>(p) + 1, 3, 10, QLatin1Char('0')));
        cliText.open(QIODevice::ReadOnly);
        const QString cliWords
            = QLatin1Char(' ') + tokens(QString::fromUtf8(cliText.readAll())).join(QLatin1Char(' ')) + QLatin1Char(' ');
        int taken = 0;
        for (std::size_t k = 0; k < phrasesOfPage[p].size() && taken < 12; k += 3) { // spread over the page
            const QString &phrase = phrasesOfPage[p][k];
            if (phraseCount[phrase] != 1)
                continue;
            ++taken;
            ++total;
            nw::store::SearchOptions options;
            options.limit = 50;
            const auto hits = search.search(QLatin1Char('"') + phrase + QLatin1Char('"'), options);
            found += std::any_of(hits.begin(), hits.end(),
                         [&](const nw::store::SearchHit &h) {
                             return h.documentId == docId && h.pageNumber == static_cast<int>(p) + 1;
                         })
                ? 1
                : 0;
            foundCli += cliWords.contains(QLatin1Char(' ') + phrase + QLatin1Char(' ')) ? 1 : 0;
        }
    }
    std::printf("recall: %d of %d distinctive phrases (%.1f %%) found by search on the right page; the CLI's text "
                "holds %d (%.1f %%)\n",
        found, total, 100.0 * found / std::max(total, 1), foundCli, 100.0 * foundCli / std::max(total, 1));

    // Boxes: each recognised word with a word of the same spelling on the original page, its
    // centre inside the original's box grown by 3 pt.
    int matched = 0, onIt = 0, recognisedWords = 0;
    for (std::size_t p = 0; p < chosen.size(); ++p) {
        const nw::store::PageRecord page = library.requirePage(docId, static_cast<int>(p) + 1);
        const std::vector<nw::store::WordBox> boxes
            = library.findWordBoxes(docId, static_cast<int>(p) + 1).value_or(std::vector<nw::store::WordBox>());
        recognisedWords += static_cast<int>(boxes.size());
        for (const nw::store::WordBox &w : boxes) {
            const QString word = page.text.mid(w.offset, w.length);
            const nw::store::WordBox *best = nullptr;
            double bestDistance = 1e9;
            for (const nw::store::WordBox &t : chosen[p].words) {
                const QPointF d = t.box.center() - w.box.center();
                const double distance = std::hypot(d.x(), d.y());
                if (distance < bestDistance && chosen[p].text.mid(t.offset, t.length) == word) {
                    best = &t;
                    bestDistance = distance;
                }
            }
            if (!best)
                continue;
            ++matched;
            onIt += best->box.adjusted(-3, -3, 3, 3).contains(w.box.center()) ? 1 : 0;
        }
    }
    std::printf("boxes: %d of %d recognised words spelled as a word of the original; %d of those (%.1f %%) sit on it\n",
        matched, recognisedWords, onIt, 100.0 * onIt / std::max(matched, 1));
    std::printf("mean OCR confidence: %.1f\n", docs.front().ocrConfidence);
    return 0;
}

// --- the text-layer verdict

int runLayers(const QString &work)
{
    std::printf("\n== Text layers: which pages --ocr auto would recognise ==\n");
    const QStringList pdfs = gatherSystemPdfs(work + QStringLiteral("/originals"));
    int pages = 0, usable = 0, sparse = 0, garbled = 0;
    std::map<int, int> shareHistogram; // recognisable share in tenths, pages with 3 words or more
    for (const QString &path : pdfs) {
        const nw::ingest::PdfDocument pdf = nw::ingest::PdfDocument::open(path);
        for (int i = 0; i < pdf.pageCount(); ++i) {
            const nw::ingest::TextLayerVerdict v = nw::ingest::judgeTextLayer(pdf.page(i, false).text);
            ++pages;
            if (v.usable) {
                ++usable;
            } else if (v.words < nw::ingest::kMinWords) {
                ++sparse;
            } else {
                ++garbled;
                std::printf("  not usable, %d of %d tokens words: %s page %d\n", v.words, v.tokens,
                    qPrintable(QFileInfo(path).fileName()), i + 1);
            }
            if (v.words >= nw::ingest::kMinWords)
                ++shareHistogram[std::min(9, v.tokens > 0 ? 10 * v.words / v.tokens : 0)];
        }
    }
    std::printf("%d pages of %lld PDFs: %d usable, %d with fewer than %d words (recognised, kept when OCR finds no "
                "more), %d judged garbage\n",
        pages, static_cast<long long>(pdfs.size()), usable, sparse, nw::ingest::kMinWords, garbled);
    std::printf("share of recognisable words per page (pages with %d words or more):", nw::ingest::kMinWords);
    for (const auto &[tenth, count] : shareHistogram)
        std::printf("  %d-%d%%: %d", tenth * 10, tenth * 10 + 10, count);
    std::printf("\n");
    // Garbage: symbols, private-use code points, shifted letters, control characters, and a real
    // page whose letters were replaced at random (a font mapped to the wrong code points).
    QRandomGenerator random(5);
    const auto garbage = [&](int kind) {
        QString text;
        for (int w = 0; w < 200; ++w) {
            const int length = 2 + static_cast<int>(random.bounded(7));
            for (int c = 0; c < length; ++c) {
                switch (kind) {
                case 0:
                    text += QChar(0x2200 + random.bounded(0x100));
                    break; // mathematical operators
                case 1:
                    text += QChar(0xe000 + random.bounded(0x1000));
                    break; // private use
                case 2:
                    text += QChar(0x21 + random.bounded(0x1e));
                    break; // ASCII punctuation and digits
                default:
                    text += QChar(QLatin1Char("bcdfghjklmnpqrstvwxz"[random.bounded(20)]));
                    break; // no vowels
                }
            }
            text += QLatin1Char(' ');
        }
        return text;
    };
    const char *kinds[] = { "symbols", "private use", "punctuation", "consonants" };
    for (int kind = 0; kind < 4; ++kind) {
        const nw::ingest::TextLayerVerdict v = nw::ingest::judgeTextLayer(garbage(kind));
        std::printf("generated %-12s: %3d of %3d tokens words, %s\n", kinds[kind], v.words, v.tokens,
            v.usable ? "USABLE (missed)" : "recognised");
    }
    return 0;
}

// --- mail and office

QByteArray messageBytes(nw::bench::TextGenerator &text, int i, const QList<nw::test::ZipMember> &attachments = {})
{
    QByteArray head = "From: Sender " + QByteArray::number(i % 37) + " <s" + QByteArray::number(i % 37)
        + "@example.com>\nTo: Team <team@example.com>\nDate: "
        + QDateTime(QDate(2023, 1, 1).addDays(i / 20), QTime(9, 0).addSecs(i % 20 * 60), Qt::UTC)
              .toString(Qt::RFC2822Date)
              .toLatin1()
        + "\nSubject: " + text.page(6, 6).toUtf8().simplified() + "\nMessage-ID: <m" + QByteArray::number(i)
        + "@example.com>\nMIME-Version: 1.0\n";
    if (i % 4 != 0) // three in four are replies to the one before
        head += "In-Reply-To: <m" + QByteArray::number(i - 1) + "@example.com>\n";
    const QByteArray body = text.page(180 + i % 200, 14).toUtf8();
    if (attachments.isEmpty())
        return head + "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n";
    QByteArray m = head
        + "Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n" + body
        + "\n";
    for (const nw::test::ZipMember &a : attachments) {
        const QByteArray b64 = a.data.toBase64();
        m += "--b\nContent-Type: application/octet-stream; name=\"" + a.name.toUtf8()
            + "\"\nContent-Disposition: attachment; filename=\"" + a.name.toUtf8()
            + "\"\nContent-Transfer-Encoding: base64\n\n";
        for (qsizetype k = 0; k < b64.size(); k += 76)
            m += b64.mid(k, 76) + '\n';
    }
    return m + "--b--\n";
}

// An mbox of `n` messages: one in 50 with a .docx attached, one in 100 with a PDF.
void writeMbox(const QString &path, int n, const QByteArray &pdf)
{
    QFile out(path);
    out.open(QIODevice::WriteOnly);
    nw::bench::TextGenerator text(7);
    for (int i = 0; i < n; ++i) {
        QList<nw::test::ZipMember> attachments;
        if (i % 50 == 7) {
            QString body;
            for (int p = 0; p < 12; ++p)
                body += nw::test::docxParagraph(text.page(60, 60));
            attachments << nw::test::ZipMember { QStringLiteral("memo%1.docx").arg(i), nw::test::makeDocx(body) };
        }
        if (i % 100 == 13)
            attachments << nw::test::ZipMember { QStringLiteral("report%1.pdf").arg(i), pdf };
        out.write("From sender@example.com Mon Jan  2 09:00:00 2023\n");
        out.write(messageBytes(text, i, attachments));
        out.write("\n");
    }
}

int runMail(const QString &work, int nMessages, int jobs, const QString &needlework)
{
    std::printf("\n== Email and office files against the PDF path: bytes per CPU second of needlework ingest ==\n");
    const QStringList pdfs = gatherSystemPdfs(work + QStringLiteral("/pdf"));
    QTemporaryDir tmp;
    const QString pdfPath = tmp.filePath(QStringLiteral("r.pdf"));
    nw::test::writeTextPdf(
        pdfPath, { QStringLiteral("Quarterly report page one\nwith a few lines"), QStringLiteral("Page two") });
    const QByteArray smallPdf = nw::test::readBytes(pdfPath);

    const QString mboxLarge = work + QStringLiteral("/large.mbox");
    const QString mboxSmall = work + QStringLiteral("/small.mbox");
    writeMbox(mboxLarge, nMessages, smallPdf);
    writeMbox(mboxSmall, std::max(1, nMessages / 5), smallPdf);
    nw::bench::TextGenerator text(11);
    const QString emlDir = work + QStringLiteral("/eml");
    const QString docxDir = work + QStringLiteral("/docx");
    const QString htmlDir = work + QStringLiteral("/html");
    for (const QString &d : { emlDir, docxDir, htmlDir })
        QDir().mkpath(d);
    for (int i = 0; i < nMessages / 10; ++i)
        nw::test::writeBytes(emlDir + QStringLiteral("/m%1.eml").arg(i), messageBytes(text, i));
    for (int i = 0; i < 300; ++i) {
        QString body;
        QString html = QStringLiteral("<html><head><title>Page %1</title></head><body>").arg(i);
        for (int p = 0; p < 40; ++p) {
            const QString paragraph = text.page(80, 80);
            body += nw::test::docxParagraph(
                paragraph, p % 10 == 0 ? QStringLiteral("<w:pStyle w:val=\"Heading1\"/>") : QString());
            html += QStringLiteral("<p>%1</p>").arg(paragraph);
        }
        nw::test::writeBytes(docxDir + QStringLiteral("/d%1.docx").arg(i), nw::test::makeDocx(body));
        nw::test::writeBytes(
            htmlDir + QStringLiteral("/h%1.html").arg(i), (html + QStringLiteral("</body></html>")).toUtf8());
    }

    std::printf("load average before: %s\n", qPrintable(loadAverage()));
    struct Row {
        QString name;
        std::int64_t bytes;
        RunStats run;
    };
    std::vector<Row> rows;
    const auto ingest = [&](const QString &name, const QString &target, std::int64_t bytes) {
        const QString db = work + QStringLiteral("/%1.sqlite").arg(rows.size());
        QFile::remove(db);
        rows.push_back({ name, bytes,
            runProgram({ needlework, QStringLiteral("ingest"), target, QStringLiteral("--db"), db,
                QStringLiteral("--jobs"), QString::number(jobs) }) });
    };
    ingest(QStringLiteral("PDF (%1 files of /usr/share/doc)").arg(pdfs.size()), work + QStringLiteral("/pdf"),
        totalBytes(pdfs));
    ingest(QStringLiteral("mbox, %1 messages").arg(nMessages), mboxLarge, QFileInfo(mboxLarge).size());
    ingest(QStringLiteral("mbox, %1 messages").arg(std::max(1, nMessages / 5)), mboxSmall, QFileInfo(mboxSmall).size());
    ingest(QStringLiteral(".eml, %1 files").arg(nMessages / 10), emlDir, totalBytes(filesIn(emlDir)));
    ingest(QStringLiteral(".docx, 300 files"), docxDir, totalBytes(filesIn(docxDir)));
    ingest(QStringLiteral(".html, 300 files"), htmlDir, totalBytes(filesIn(htmlDir)));
    RunStats pdftotext;
    pdftotext.exitCode = 0;
    for (const QString &pdf : pdfs)
        pdftotext += runProgram({ QStringLiteral("pdftotext"), pdf, tmp.filePath(QStringLiteral("out.txt")) });
    std::printf("load average after: %s\n", qPrintable(loadAverage()));

    const double pdfRate = static_cast<double>(rows[0].bytes) / rows[0].run.cpu;
    std::printf("%-40s %9s %8s %8s %11s %10s %8s\n", "", "MiB", "wall s", "CPU s", "MiB/CPU s", "vs PDF", "RSS MiB");
    for (const Row &r : rows) {
        const double rate = static_cast<double>(r.bytes) / r.run.cpu;
        std::printf("%-40s %9.1f %8.1f %8.1f %11.2f %9.2fx %8.0f%s\n", qPrintable(r.name),
            static_cast<double>(r.bytes) / 1048576.0, r.run.wall, r.run.cpu, rate / 1048576.0, rate / pdfRate,
            static_cast<double>(r.run.maxRssKiB) / 1024.0, r.run.exitCode == 0 ? "" : "  (failed)");
    }
    std::printf("%-40s %9.1f %8.1f %8.1f %11.2f %9.2fx  (text only, no index)\n", "pdftotext on the PDFs, file by file",
        static_cast<double>(rows[0].bytes) / 1048576.0, pdftotext.wall, pdftotext.cpu,
        static_cast<double>(rows[0].bytes) / pdftotext.cpu / 1048576.0,
        static_cast<double>(rows[0].bytes) / pdftotext.cpu / pdfRate);
    std::printf("mbox peak RSS: %.0f MiB for %d messages, %.0f MiB for %d (flat when equal)\n",
        static_cast<double>(rows[1].run.maxRssKiB) / 1024.0, nMessages,
        static_cast<double>(rows[2].run.maxRssKiB) / 1024.0, std::max(1, nMessages / 5));
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    nw::bench::BenchApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("OCR, email and office ingest against their peers"));
    parser.addOption({ QStringLiteral("ocr"), QStringLiteral("Only the OCR benchmark.") });
    parser.addOption({ QStringLiteral("mail"), QStringLiteral("Only the email and office benchmark.") });
    parser.addOption(
        { QStringLiteral("layers"), QStringLiteral("Only the text-layer verdict over /usr/share/doc's PDFs.") });
    parser.addOption({ QStringLiteral("pages"), QStringLiteral("Scanned pages (default 24)."), QStringLiteral("N"),
        QStringLiteral("24") });
    parser.addOption({ QStringLiteral("messages"), QStringLiteral("Messages in the large mbox (default 10000)."),
        QStringLiteral("N"), QStringLiteral("10000") });
    parser.addOption({ QStringLiteral("jobs"), QStringLiteral("needlework's --jobs (default 2)."), QStringLiteral("N"),
        QStringLiteral("2") });
    parser.addOption({ QStringLiteral("keep"), QStringLiteral("Work in DIR and keep it."), QStringLiteral("DIR") });
    app.parse(parser);
    QTemporaryDir temporary;
    const QString work = parser.isSet(QStringLiteral("keep")) ? parser.value(QStringLiteral("keep")) : temporary.path();
    QDir().mkpath(work);
    const QString needlework = QStringLiteral(NW_NEEDLEWORK_EXE);
    const int jobs = parser.value(QStringLiteral("jobs")).toInt();
    const bool both = !parser.isSet(QStringLiteral("ocr")) && !parser.isSet(QStringLiteral("mail"))
        && !parser.isSet(QStringLiteral("layers"));
    int status = 0;
    if (both || parser.isSet(QStringLiteral("layers")))
        status |= runLayers(work + QStringLiteral("/layers"));
    if (both || parser.isSet(QStringLiteral("ocr")))
        status
            |= runOcr(work + QStringLiteral("/ocr"), parser.value(QStringLiteral("pages")).toInt(), jobs, needlework);
    if (both || parser.isSet(QStringLiteral("mail")))
        status |= runMail(
            work + QStringLiteral("/mail"), parser.value(QStringLiteral("messages")).toInt(), jobs, needlework);
    return status;
}
