// Tesseract lives here and nowhere else: the one file that includes its headers (and
// Leptonica's, and OpenMP's for the one call that keeps Tesseract on its thread).
#include "ingest/ocr_engine.h"

#include "common/log.h"

#include <tesseract/baseapi.h>
#include <tesseract/ocrclass.h>
#include <tesseract/resultiterator.h>

#include <omp.h>

#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>

namespace nw::ingest {

QString tesseractVersion()
{
    return QString::fromLatin1(tesseract::TessBaseAPI::Version());
}

namespace {

// Tesseract prints its complaints (a missing language file, a page with no text) on stderr, which
// would break the command line's one line per problem; ours say the same to the log.
void quiet(tesseract::TessBaseAPI &api)
{
    api.SetVariable("debug_file", "/dev/null");
}

// "chi_sim" -> "tesseract-ocr-chi-sim", Debian's name for the package with that language's data.
QString debianPackage(const QString &language)
{
    return QStringLiteral("tesseract-ocr-") + QString(language).replace(QLatin1Char('_'), QLatin1Char('-')).toLower();
}

bool cancelRequested(void *flag, int)
{
    return flag != nullptr && static_cast<const std::atomic<bool> *>(flag)->load(std::memory_order_relaxed);
}

bool isHyphen(QChar ch)
{
    return ch == QLatin1Char('-') || ch.unicode() == 0x2010 || ch.unicode() == 0xad;
}

// Tesseract's engines are made per thread, but it starts OpenMP teams of its own inside each
// recognition (4 threads per LSTM step). With one engine per core that oversubscribes the cores
// and the idle team members spin: two pages on two cores took 27 s of CPU instead of 7.6 s
// (measured with the CLI's models, 2 pages at 300 dpi). Pages run in parallel instead, so the
// OCR threads start no team: OpenMP's nesting limit of 0 makes every parallel region they meet
// run on the thread alone. It is a per-thread setting; other threads keep theirs.
void keepOpenMpOnThisThread()
{
    thread_local bool done = false;
    if (!done) {
        omp_set_max_active_levels(0);
        done = true;
    }
}

} // namespace

struct OcrEngine::Impl {
    tesseract::TessBaseAPI api;
};

OcrEngine::OcrEngine(const QString &languages)
    : m_impl(std::make_unique<Impl>())
    , m_languages(languages)
{
    static const QRegularExpression valid(QStringLiteral("^[A-Za-z_]+(\\+[A-Za-z_]+)*$"));
    if (!valid.match(languages).hasMatch())
        throw IngestFailure(IngestProblem::OcrUnavailable,
            QStringLiteral("'%1' is not a list of OCR languages (Tesseract's codes joined by '+', e.g. eng+fra)")
                .arg(languages));
    quiet(m_impl->api);
    const QByteArray lang = languages.toLatin1();
    // Tesseract fails only when the first language is missing; the others it leaves out quietly.
    QStringList missing;
    QStringList wanted = languages.split(QLatin1Char('+'));
    wanted.removeDuplicates();
    if (m_impl->api.Init(nullptr, lang.constData(), tesseract::OEM_LSTM_ONLY) == 0) {
        std::vector<std::string> loaded;
        m_impl->api.GetLoadedLanguagesAsVector(&loaded);
        for (const QString &one : wanted)
            if (std::find(loaded.begin(), loaded.end(), one.toStdString()) == loaded.end())
                missing << one;
        if (missing.isEmpty())
            return;
    } else {
        // Say which of the languages is missing: each is tried alone.
        for (const QString &one : wanted) {
            tesseract::TessBaseAPI probe;
            quiet(probe);
            if (probe.Init(nullptr, one.toLatin1().constData(), tesseract::OEM_LSTM_ONLY) != 0)
                missing << one;
        }
    }
    for (QString &one : missing)
        one = QStringLiteral("'%1' (Debian package %2)").arg(one, debianPackage(one));
    const QStringList installed = installedOcrLanguages();
    const QString have = installed.isEmpty() ? QStringLiteral("none") : installed.join(QStringLiteral(", "));
    if (missing.isEmpty())
        throw IngestFailure(IngestProblem::OcrUnavailable,
            QStringLiteral("Tesseract could not load its data for %1 (installed languages: %2)").arg(languages, have));
    throw IngestFailure(IngestProblem::OcrUnavailable,
        QStringLiteral("OCR needs Tesseract's data for %1, which is not installed (installed languages: %2)")
            .arg(missing.join(QStringLiteral(" and ")), have));
}

OcrEngine::~OcrEngine() = default;

OcrPage OcrEngine::recognize(const QImage &image, double dpi, const std::atomic<bool> *cancel)
{
    keepOpenMpOnThisThread();
    OcrPage page;
    if (image.isNull() || dpi <= 0)
        return page;
    // Tesseract binarises grey levels itself (Otsu); colour would be reduced to grey anyway.
    const QImage grey
        = image.format() == QImage::Format_Grayscale8 ? image : image.convertToFormat(QImage::Format_Grayscale8);
    tesseract::TessBaseAPI &api = m_impl->api;
    api.SetImage(grey.constBits(), grey.width(), grey.height(), 1, static_cast<int>(grey.bytesPerLine()));
    api.SetSourceResolution(static_cast<int>(std::lround(dpi)));
    tesseract::ETEXT_DESC monitor;
    monitor.cancel = &cancelRequested;
    monitor.cancel_this = const_cast<std::atomic<bool> *>(cancel);
    if (api.Recognize(&monitor) != 0) {
        api.Clear();
        return page;
    }

    const double scale = 72.0 / dpi;
    double confidenceSum = 0;
    int nWords = 0;
    bool lineEndedWithHyphen = false; // the last word ended its line with a hyphen
    const std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
    if (it) {
        constexpr auto kWord = tesseract::RIL_WORD;
        do {
            const std::unique_ptr<const char[]> utf8(it->GetUTF8Text(kWord));
            if (!utf8)
                continue;
            const QString word = QString::fromUtf8(utf8.get()).trimmed();
            if (word.isEmpty())
                continue;
            int left = 0, top = 0, right = 0, bottom = 0;
            it->BoundingBox(kWord, &left, &top, &right, &bottom);
            const bool newParagraph = it->IsAtBeginningOf(tesseract::RIL_PARA);
            const bool newLine = it->IsAtBeginningOf(tesseract::RIL_TEXTLINE);
            // "exam-" at a line's end and "ple" at the next one's start are one word, as in a
            // text layer's dump; each part keeps its own box.
            const bool join = lineEndedWithHyphen && newLine && !newParagraph && word.front().isLower();
            if (join) {
                page.text.chop(1);
                store::WordBox &previous = page.words.back();
                previous.length = static_cast<std::uint16_t>(previous.length - 1);
            } else if (!page.text.isEmpty()) {
                page.text += newLine ? QLatin1Char('\n') : QLatin1Char(' ');
            }
            store::WordBox box;
            box.offset = static_cast<std::uint32_t>(page.text.size());
            box.length = static_cast<std::uint16_t>(std::min<qsizetype>(word.size(), 0xffff));
            box.box = QRectF(left * scale, top * scale, (right - left) * scale, (bottom - top) * scale);
            page.text += word;
            page.words.push_back(box);
            confidenceSum += std::clamp(static_cast<double>(it->Confidence(kWord)), 0.0, 100.0);
            ++nWords;
            lineEndedWithHyphen
                = word.size() > 1 && isHyphen(word.back()) && it->IsAtFinalElement(tesseract::RIL_TEXTLINE, kWord);
        } while (it->Next(kWord));
    }
    if (nWords > 0)
        page.confidence = confidenceSum / nWords;
    api.Clear();
    return page;
}

QStringList installedOcrLanguages()
{
    static std::once_flag once;
    static QStringList languages;
    std::call_once(once, [] {
        // Tesseract lists its data folder only once initialised, with any language it has.
        for (const char *first : { "eng", "osd" }) {
            tesseract::TessBaseAPI api;
            quiet(api);
            if (api.Init(nullptr, first, tesseract::OEM_DEFAULT) != 0)
                continue;
            std::vector<std::string> found;
            api.GetAvailableLanguagesAsVector(&found);
            for (const std::string &language : found)
                if (language != "osd" && language != "equ")
                    languages << QString::fromStdString(language);
            languages.sort();
            languages.removeDuplicates();
            return;
        }
        log::get("ingest")->warn("Tesseract finds no language data (install tesseract-ocr-eng)");
    });
    return languages;
}

} // namespace nw::ingest
