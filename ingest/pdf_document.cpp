// Poppler lives here and nowhere else: the one file that includes Poppler's headers. Page text,
// labels and sizes come from Poppler's core (the library pdftotext is built on; Debian's
// libpoppler-private-dev), with one TextOutputDev for all the pages of an open document, as
// pdftotext has. (poppler-cpp's page::text() made a new device per page and with it lost the
// device's ICC colour-space cache: every page that set a colour rebuilt the same lcms
// transforms, up to 28 % of ingest time.) Word boxes come from the same layout pass as the text.
// Metadata and rendering come from poppler-qt6, opened only when asked for.
#include "ingest/pdf_document.h"
#include "ingest/poppler_info.h"

#include "common/log.h"

#include <poppler-qt6.h>
#include <qt6/poppler-version.h>

// Poppler's core, as pdftotext uses it.
#include <Error.h>
#include <GlobalParams.h>
#include <PDFDoc.h>
#include <Stream.h>
#include <TextOutputDev.h>
#include <UTF.h>
#include <goo/GooString.h>
#include <goo/gmem.h>

#include <QFile>
#include <QMimeDatabase>

#include <algorithm>
#include <mutex>

namespace nw::ingest {

QString popplerVersion()
{
    return Poppler::Version::string();
}

namespace {

// Poppler reports parse problems through one global callback, installed by whichever user of
// its globals starts first: ours below, or poppler-qt6's (which calls its debug function). Both
// are routed here. Keep the last message of each thread so a failed open can say what Poppler
// saw.
thread_local QString t_lastPopplerMessage;

void popplerMessage(const QString &message)
{
    t_lastPopplerMessage = message;
    log::get("ingest")->debug("poppler: {}", message.toStdString());
}

void coreMessage(ErrorCategory, Goffset position, const char *message)
{
    popplerMessage(position >= 0 ? QStringLiteral("%1 (at byte %2)").arg(QString::fromUtf8(message)).arg(position)
                                 : QString::fromUtf8(message));
}

// Sets up Poppler's globals (GlobalParams) for the core API, for the life of the process, and
// routes its messages.
void installPoppler()
{
    static std::once_flag once;
    std::call_once(once, [] {
        Poppler::setDebugErrorFunction(
            [](const QString &message, const QVariant &) { popplerMessage(message); }, QVariant());
        static const GlobalParamsIniter globals(&coreMessage);
    });
}

// PDF readers accept the header within the first 1024 bytes.
constexpr qint64 kHeaderWindow = 1024;
// Where a complete file ends: %%EOF, within its last 1024 bytes (where readers look for it).
constexpr qint64 kTrailerWindow = 1024;

// The first and the last `window` bytes of the file at `path`, or of `data` when it is not null.
QByteArray headOf(const QString &path, const QByteArray &data, qint64 window)
{
    if (!data.isNull())
        return data.left(window);
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw IngestFailure(IngestProblem::Unreadable, QStringLiteral("cannot be read: %1").arg(file.errorString()));
    return file.read(window);
}

QByteArray tailOf(const QString &path, const QByteArray &data, qint64 window)
{
    if (!data.isNull())
        return data.right(window);
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    file.seek(std::max<qint64>(0, file.size() - window));
    return file.read(window);
}

// Checks the header before Poppler sees the file, so that a file that is no PDF at all gets a
// precise reason instead of a generic "could not open". The end of the file is not judged here:
// bytes after %%EOF (mail gateways and scanners append some), a lost %%EOF or trailing padding
// leave a PDF that Poppler reads whole, as pdftotext does; whether the end is really missing is
// decided once Poppler has tried (see PdfDocument::open).
void checkHeader(const QByteArray &head)
{
    if (!head.contains("%PDF-")) {
        const QString mime = QMimeDatabase().mimeTypeForData(head).comment();
        throw IngestFailure(IngestProblem::NotPdf,
            QStringLiteral("not a PDF: the file has no %PDF header (its content looks like %1)").arg(mime));
    }
}

QString damaged()
{
    const QString detail
        = t_lastPopplerMessage.isEmpty() ? QString() : QStringLiteral(" (Poppler: %1)").arg(t_lastPopplerMessage);
    return QStringLiteral("the PDF is damaged and cannot be opened%1").arg(detail);
}

bool isLigature(char16_t ch)
{
    return ch >= 0xfb00 && ch <= 0xfb06;
}

// Poppler returns typographic ligatures as single code points (U+FB00..U+FB06: ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ);
// the FTS tokenizer does not fold them, so "first" would not find "ﬁrst". Spell them out.
QString expandLigatures(const QString &text)
{
    if (std::none_of(text.begin(), text.end(), [](QChar ch) { return isLigature(ch.unicode()); }))
        return text;
    QString out;
    out.reserve(text.size() + 8);
    for (QChar ch : text) {
        if (isLigature(ch.unicode()))
            out += QString(ch).normalized(QString::NormalizationForm_KC);
        else
            out += ch;
    }
    return out;
}

// Poppler's text dump (pdftotext's format, UTF-8) ends each line with '\n', each flow (column,
// text block) with one more, and the page with '\f'. Stored text has one '\n' between lines and
// none at the ends, so that offsets and snippets do not carry layout filler.
QString storedText(const std::string &dump)
{
    const QString raw = QString::fromUtf8(dump);
    QString text;
    text.reserve(raw.size());
    for (const QChar ch : raw) {
        if (ch == QLatin1Char('\f'))
            continue;
        if (ch == QLatin1Char('\n') && (text.isEmpty() || text.back() == QLatin1Char('\n')))
            continue;
        text += ch;
    }
    while (text.endsWith(QLatin1Char('\n')))
        text.chop(1);
    return expandLigatures(text);
}

void appendDump(void *stream, const char *text, int length)
{
    static_cast<std::string *>(stream)->append(text, static_cast<std::size_t>(length));
}

// A PDF text string (UTF-16 with a byte order mark, or PDFDocEncoding).
QString fromTextString(const GooString &text)
{
    Unicode *ucs4 = nullptr;
    const int n = TextStringToUCS4(text.toStr(), &ucs4);
    QString out = QString::fromUcs4(reinterpret_cast<const char32_t *>(ucs4), n);
    gfree(ucs4);
    return out;
}

bool isLayoutSpace(QChar ch)
{
    return ch == QLatin1Char(' ') || ch == QLatin1Char('\n') || ch == QLatin1Char('\t');
}

bool isHyphen(QChar ch)
{
    return ch == QLatin1Char('-') || ch.unicode() == 0x2010 || ch.unicode() == 0xad;
}

// A word as Poppler's layout found it: its text, its box in points from the crop box's top left,
// and whether it ends its line.
struct LaidOutWord {
    QString text;
    QRectF box;
    bool endsLine = false;
};

// Places each word in `text` (see PdfDocument::wordBoxes); nullopt when they are not its words.
std::optional<std::vector<store::WordBox>> placeWords(const std::vector<LaidOutWord> &laidOut, const QString &text)
{
    std::vector<store::WordBox> words;
    words.reserve(laidOut.size());
    qsizetype at = 0;
    bool joined = false; // the previous word was hyphenated and joined: no blank before this one
    for (const LaidOutWord &laid : laidOut) {
        QString word = expandLigatures(laid.text);
        if (word.isEmpty())
            continue;
        if (!joined)
            while (at < text.size() && isLayoutSpace(text[at]))
                ++at;
        joined = false;
        if (QStringView(text).sliced(at).startsWith(word)) {
            // exact: also a hyphen the dump kept
        } else if (laid.endsLine && isHyphen(word.back())
            && QStringView(text).sliced(at).startsWith(QStringView(word).chopped(1))) {
            word.chop(1);
            joined = true;
            if (word.isEmpty()) // a line that ended in a lone hyphen
                continue;
        } else {
            return std::nullopt;
        }
        words.push_back({ static_cast<std::uint32_t>(at),
            static_cast<std::uint16_t>(std::min<qsizetype>(word.size(), 0xffff)), laid.box });
        at += word.size();
    }
    while (at < text.size() && isLayoutSpace(text[at]))
        ++at;
    if (at != text.size())
        return std::nullopt; // text the words do not account for
    return words;
}

} // namespace

struct PdfDocument::Impl {
    QString path;
    QByteArray data; // the PDF itself when it was opened from memory (an attachment), else null
    bool xrefRebuilt = false; // Poppler had to rebuild the cross-reference table (see open())
    // Poppler's document and one text device for all its pages, which dumps each page into
    // `dump` when the page ends. Used by the thread that owns this object only.
    std::unique_ptr<PDFDoc> core;
    std::unique_ptr<TextOutputDev> textDevice;
    std::string dump;

    // Lays page `index` out and returns its text. pdftotext's default: reading order (neither raw
    // content-stream order nor physical layout), 72 dpi, the crop box. The page's words stay in
    // the device until the next page is laid out.
    QString layOut(int index)
    {
        dump.clear();
        core->displayPage(
            textDevice.get(), index + 1, 72, 72, 0, /*useMediaBox=*/false, /*crop=*/true, /*printing=*/false);
        return storedText(dump);
    }

    // The words of the page laid out last, in the same reading order as its text.
    std::vector<LaidOutWord> words() const
    {
        const std::unique_ptr<TextWordList> list = textDevice->makeWordList();
        std::vector<LaidOutWord> out;
        out.reserve(static_cast<std::size_t>(list->getLength()));
        for (int i = 0; i < list->getLength(); ++i) {
            const TextWord *word = list->get(i);
            const std::unique_ptr<GooString> text(word->getText()); // UTF-8, the text encoding
            double xMin = 0, yMin = 0, xMax = 0, yMax = 0;
            word->getBBox(&xMin, &yMin, &xMax, &yMax);
            out.push_back({ QString::fromUtf8(text->c_str(), static_cast<qsizetype>(text->getLength())),
                QRectF(xMin, yMin, xMax - xMin, yMax - yMin), word->nextWord() == nullptr });
        }
        return out;
    }

    // Metadata and rendering (poppler-qt6): opened on first use by the thread that owns
    // this object.
    mutable std::unique_ptr<Poppler::Document> layout;

    Poppler::Document &qtDocument() const
    {
        if (!layout) {
            t_lastPopplerMessage.clear();
            layout = data.isNull() ? Poppler::Document::load(path) : Poppler::Document::loadFromData(data);
            if (!layout || layout->isLocked())
                throw IngestFailure(IngestProblem::Corrupt, damaged());
        }
        return *layout;
    }
};

PdfDocument::PdfDocument(std::unique_ptr<Impl> impl, QString path)
    : m_impl(std::move(impl))
    , m_path(std::move(path))
{
}
PdfDocument::PdfDocument(PdfDocument &&) noexcept = default;
PdfDocument &PdfDocument::operator=(PdfDocument &&) noexcept = default;
PdfDocument::~PdfDocument() = default;

PdfDocument PdfDocument::open(const QString &path)
{
    return open(path, QByteArray());
}

PdfDocument PdfDocument::openData(const QByteArray &data, const QString &name)
{
    // open() reads the file when `data` is null; an attachment that decoded to nothing (a part
    // with headers and no body) is a PDF of no bytes instead, refused by the header check.
    return open(name, data.isNull() ? QByteArray("", 0) : data);
}

PdfDocument PdfDocument::open(const QString &path, const QByteArray &data)
{
    installPoppler();
    checkHeader(headOf(path, data, kHeaderWindow));
    t_lastPopplerMessage.clear();
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->data = data;
    // Poppler rebuilds the cross-reference table by scanning the file when the one the file
    // points to cannot be read: so it reads files with junk after their end, and so it also gets
    // through files cut short, which it then reads with their later pages missing.
    Impl *opened = impl.get(); // Poppler may also rebuild later, while reading a page
    const auto rebuiltCallback = [opened] { opened->xrefRebuilt = true; };
    if (data.isNull())
        impl->core = std::make_unique<PDFDoc>(std::make_unique<GooString>(QFile::encodeName(path).toStdString()),
            std::nullopt, std::nullopt, nullptr, rebuiltCallback);
    else // the stream reads impl->data, which lives as long as the document
        impl->core
            = std::make_unique<PDFDoc>(new MemStream(impl->data.constData(), 0, impl->data.size(), Object(objNull)),
                std::nullopt, std::nullopt, nullptr, rebuiltCallback);
    const bool rebuilt = impl->xrefRebuilt;
    // A file whose cross-references had to be rebuilt and that lost pages on the way is refused:
    // as truncated when its end is missing, else as damaged.
    const auto lostPages = [&](const QString &what) {
        if (!tailOf(path, data, kTrailerWindow).contains("%%EOF"))
            return IngestFailure(IngestProblem::Truncated,
                QStringLiteral("the PDF is truncated (its end, %%EOF, is missing, and %1); the download "
                               "or copy was probably cut short: fetch the file again")
                    .arg(what));
        return IngestFailure(IngestProblem::Corrupt, damaged());
    };
    if (!impl->core->isOk()) {
        if (impl->core->getErrorCode() == errEncrypted)
            throw IngestFailure(IngestProblem::Encrypted,
                QStringLiteral("the PDF is encrypted and needs a password to open; "
                               "save an unprotected copy and ingest that"));
        if (rebuilt)
            throw lostPages(QStringLiteral("what is left cannot be opened"));
        throw IngestFailure(IngestProblem::Corrupt, damaged());
    }
    const int nPages = impl->core->getNumPages();
    if (rebuilt) {
        int nLost = nPages <= 0 ? 1 : 0;
        for (int i = 1; i <= nPages; ++i)
            nLost += impl->core->getPage(i) == nullptr ? 1 : 0;
        if (nLost > 0)
            throw lostPages(nPages <= 0 ? QStringLiteral("no page is left")
                                        : QStringLiteral("%1 of its %2 pages are lost").arg(nLost).arg(nPages));
    }
    if (nPages <= 0)
        throw IngestFailure(IngestProblem::ZeroPages, QStringLiteral("the PDF has no pages"));
    impl->textDevice = std::make_unique<TextOutputDev>(&appendDump, &impl->dump, /*physLayoutA=*/false,
        /*fixedPitchA=*/0.0, /*rawOrderA=*/false, /*discardDiagA=*/false);
    if (!impl->textDevice->isOk())
        fail("{}: Poppler's text output could not start", path.toStdString());
    return PdfDocument(std::move(impl), path);
}

int PdfDocument::pageCount() const
{
    return m_impl->core->getNumPages();
}

DocumentMetadata PdfDocument::metadata() const
{
    // poppler-qt6 decodes the info dictionary's text strings and reads the date's time zone.
    const Poppler::Document &d = m_impl->qtDocument();
    return { d.title().trimmed(), d.author().trimmed(), d.subject().trimmed(), d.keywords().trimmed(),
        d.creator().trimmed(), d.producer().trimmed(), d.creationDate() };
}

QImage PdfDocument::renderPage(int index, double dpi) const
{
    if (index < 0 || index >= pageCount())
        fail("{}: page index {} is outside 0..{}", m_path.toStdString(), index, pageCount() - 1);
    if (!(dpi > 0 && dpi <= 1200))
        fail("{}: cannot render at {} dpi (0 < dpi <= 1200)", m_path.toStdString(), dpi);
    Poppler::Document &document = m_impl->qtDocument();
    document.setRenderHint(Poppler::Document::Antialiasing);
    document.setRenderHint(Poppler::Document::TextAntialiasing);
    const std::unique_ptr<Poppler::Page> page = document.page(index);
    if (!page)
        return {};
    return page->renderToImage(dpi, dpi);
}

PageContent PdfDocument::page(int index, bool withWords) const
{
    PageContent content;
    content.number = index + 1;
    Page *page = m_impl->core->getPage(index + 1);
    if (!page) // a broken page object: keep the page, with no text, so numbering stays right
        return content;
    if (GooString label; m_impl->core->getCatalog()->indexToLabel(index, &label))
        content.label = fromTextString(label);
    // The crop box, turned by the page's rotation: the size the page is shown at.
    const PDFRectangle *crop = page->getCropBox();
    const QSizeF size(crop->x2 - crop->x1, crop->y2 - crop->y1);
    const bool sideways = page->getRotate() == 90 || page->getRotate() == 270;
    content.size = sideways ? size.transposed() : size;
    content.text = m_impl->layOut(index);
    if (withWords) {
        std::optional<std::vector<store::WordBox>> words = placeWords(m_impl->words(), content.text);
        if (!words)
            log::get("ingest")->warn("{}: page {}: its words could not be placed in its text; no word boxes",
                m_path.toStdString(), index + 1);
        else
            content.words = std::move(*words);
    }
    return content;
}

std::optional<std::vector<store::WordBox>> PdfDocument::wordBoxes(int index, const QString &text) const
{
    if (index < 0 || index >= pageCount())
        fail("{}: page index {} is outside 0..{}", m_path.toStdString(), index, pageCount() - 1);
    if (m_impl->core->getPage(index + 1) == nullptr)
        return text.isEmpty() ? std::optional(std::vector<store::WordBox>()) : std::nullopt;
    // The words and the text dump come from one layout pass, in one order, so each word is the
    // next non-blank run of the text, except that the dump joins a word hyphenated at the end of
    // a line with its rest ("exam-" + "ple" -> "example").
    m_impl->layOut(index);
    return placeWords(m_impl->words(), text);
}

} // namespace nw::ingest
