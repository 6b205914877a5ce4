// Poppler lives here and nowhere else: the one file that includes <poppler-qt6.h> and the
// poppler-cpp headers. Page text comes from poppler-cpp (pdftotext's own text dump, ~1.6x faster
// than building it from poppler-qt6's word list); word boxes, metadata and rendering from
// poppler-qt6, opened only when asked for.
#include "ingest/pdf_document.h"
#include "ingest/poppler_info.h"

#include "common/log.h"

#include <poppler-document.h>
#include <poppler-page.h>
#include <poppler-qt6.h>
#include <cpp/poppler-version.h> // both front ends have a poppler-version.h: name the one meant

#include <QFile>
#include <QMimeDatabase>

#include <algorithm>
#include <mutex>

namespace nw::ingest {

QString popplerVersion()
{
    return QString::fromStdString(poppler::version_string());
}

namespace {

// Poppler reports parse problems through one global callback, installed by whichever of its two
// front ends starts first; both are routed here. Keep the last message of each thread so a
// failed open can say what Poppler saw.
thread_local QString t_lastPopplerMessage;

void popplerMessage(const QString &message)
{
    t_lastPopplerMessage = message;
    log::get("ingest")->debug("poppler: {}", message.toStdString());
}

void installPopplerMessages()
{
    static std::once_flag once;
    std::call_once(once, [] {
        Poppler::setDebugErrorFunction([](const QString &message, const QVariant &) { popplerMessage(message); }, QVariant());
        poppler::set_debug_error_function([](const std::string &message, void *) { popplerMessage(QString::fromStdString(message)); },
                                          nullptr);
    });
}

// PDF readers accept the header within the first 1024 bytes and %%EOF within the last 1024.
constexpr qint64 kHeaderWindow = 1024;
constexpr qint64 kTrailerWindow = 1024;

// Checks the envelope before Poppler sees the file, so that the common failures get a precise
// reason instead of a generic "could not open".
void checkEnvelope(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        throw IngestFailure(IngestProblem::Unreadable, QStringLiteral("cannot be read: %1").arg(file.errorString()));
    const QByteArray head = file.read(kHeaderWindow);
    if (!head.contains("%PDF-")) {
        const QString mime = QMimeDatabase().mimeTypeForData(head).comment();
        throw IngestFailure(IngestProblem::NotPdf,
                            QStringLiteral("not a PDF: the file has no %PDF header (its content looks like %1)").arg(mime));
    }
    const qint64 size = file.size();
    file.seek(std::max<qint64>(0, size - kTrailerWindow));
    if (!file.read(kTrailerWindow).contains("%%EOF"))
        throw IngestFailure(IngestProblem::Truncated,
                            QStringLiteral("the PDF is truncated (its end, %%EOF, is missing); the download or copy "
                                           "was probably cut short: fetch the file again"));
}

QString damaged()
{
    const QString detail = t_lastPopplerMessage.isEmpty() ? QString() : QStringLiteral(" (Poppler: %1)").arg(t_lastPopplerMessage);
    return QStringLiteral("the PDF is damaged and cannot be opened%1").arg(detail);
}

bool isLigature(char16_t ch) { return ch >= 0xfb00 && ch <= 0xfb06; }

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

// Poppler's text dump (pdftotext's format) ends each line with '\n', each flow (column, text
// block) with one more, and the page with '\f'. Stored text has one '\n' between lines and
// none at the ends, so that offsets and snippets do not carry layout filler.
QString pageText(const poppler::ustring &dump)
{
    QString text;
    text.reserve(static_cast<qsizetype>(dump.size()));
    for (const char16_t ch : dump) {
        if (ch == u'\f')
            continue;
        if (ch == u'\n' && (text.isEmpty() || text.back() == QLatin1Char('\n')))
            continue;
        text += QChar(ch);
    }
    while (text.endsWith(QLatin1Char('\n')))
        text.chop(1);
    return expandLigatures(text);
}

bool isLayoutSpace(QChar ch) { return ch == QLatin1Char(' ') || ch == QLatin1Char('\n') || ch == QLatin1Char('\t'); }

bool isHyphen(QChar ch) { return ch == QLatin1Char('-') || ch.unicode() == 0x2010 || ch.unicode() == 0xad; }

} // namespace

struct PdfDocument::Impl {
    QString path;
    std::unique_ptr<poppler::document> text; // the page text (poppler-cpp)
    // Words, metadata and rendering (poppler-qt6): opened on first use by the thread that owns
    // this object.
    mutable std::unique_ptr<Poppler::Document> layout;

    Poppler::Document &qtDocument() const
    {
        if (!layout) {
            t_lastPopplerMessage.clear();
            layout = Poppler::Document::load(path);
            if (!layout || layout->isLocked())
                throw IngestFailure(IngestProblem::Corrupt, damaged());
        }
        return *layout;
    }
};

PdfDocument::PdfDocument(std::unique_ptr<Impl> impl, QString path) : m_impl(std::move(impl)), m_path(std::move(path)) {}
PdfDocument::PdfDocument(PdfDocument &&) noexcept = default;
PdfDocument &PdfDocument::operator=(PdfDocument &&) noexcept = default;
PdfDocument::~PdfDocument() = default;

PdfDocument PdfDocument::open(const QString &path)
{
    installPopplerMessages();
    checkEnvelope(path);
    t_lastPopplerMessage.clear();
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->text.reset(poppler::document::load_from_file(QFile::encodeName(path).toStdString()));
    if (!impl->text)
        throw IngestFailure(IngestProblem::Corrupt, damaged());
    if (impl->text->is_locked())
        throw IngestFailure(IngestProblem::Encrypted,
                            QStringLiteral("the PDF is encrypted and needs a password to open; "
                                           "save an unprotected copy and ingest that"));
    if (impl->text->pages() <= 0)
        throw IngestFailure(IngestProblem::ZeroPages, QStringLiteral("the PDF has no pages"));
    return PdfDocument(std::move(impl), path);
}

int PdfDocument::pageCount() const { return m_impl->text->pages(); }

DocumentMetadata PdfDocument::metadata() const
{
    // poppler-qt6 decodes PDFDocEncoding and reads the date's time zone; poppler-cpp does neither.
    const Poppler::Document &d = m_impl->qtDocument();
    return {d.title().trimmed(),    d.author().trimmed(),   d.subject().trimmed(), d.keywords().trimmed(),
            d.creator().trimmed(),  d.producer().trimmed(), d.creationDate()};
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
    const std::unique_ptr<poppler::page> page(m_impl->text->create_page(index));
    if (!page) // a broken page object: keep the page, with no text, so numbering stays right
        return content;
    const poppler::ustring label = page->label();
    content.label = QString::fromUtf16(reinterpret_cast<const char16_t *>(label.data()), static_cast<qsizetype>(label.size()));
    // The crop box, turned by the page's rotation: the size the page is shown at.
    const poppler::rectf crop = page->page_rect(poppler::crop_box);
    const poppler::page::orientation_enum turn = page->orientation();
    const bool sideways = turn == poppler::page::landscape || turn == poppler::page::seascape;
    content.size = sideways ? QSizeF(crop.height(), crop.width()) : QSizeF(crop.width(), crop.height());
    // Reading order (neither raw content-stream order nor physical layout): what pdftotext
    // prints by default, and the order of poppler-qt6's word list used for the boxes.
    content.text = pageText(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout));
    if (withWords) {
        std::optional<std::vector<store::WordBox>> words = wordBoxes(index, content.text);
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
    const std::unique_ptr<Poppler::Page> page = m_impl->qtDocument().page(index);
    if (!page)
        return text.isEmpty() ? std::optional(std::vector<store::WordBox>()) : std::nullopt;
    // Poppler's word list (~9 ms a page) and its text dump share one layout pass and one order,
    // so each word is the next non-blank run of the text, except that the dump joins a word
    // hyphenated at the end of a line with its rest ("exam-" + "ple" → "example").
    const std::vector<std::unique_ptr<Poppler::TextBox>> boxes = page->textList();
    std::vector<store::WordBox> words;
    words.reserve(boxes.size());
    qsizetype at = 0;
    bool joined = false; // the previous word was hyphenated and joined: no blank before this one
    for (const std::unique_ptr<Poppler::TextBox> &box : boxes) {
        QString word = expandLigatures(box->text());
        if (word.isEmpty())
            continue;
        if (!joined)
            while (at < text.size() && isLayoutSpace(text[at]))
                ++at;
        joined = false;
        if (QStringView(text).sliced(at).startsWith(word)) {
            // exact: also a hyphen the dump kept
        } else if (box->nextWord() == nullptr && isHyphen(word.back()) &&
                   QStringView(text).sliced(at).startsWith(QStringView(word).chopped(1))) {
            word.chop(1);
            joined = true;
            if (word.isEmpty()) // a line that ended in a lone hyphen
                continue;
        } else {
            return std::nullopt;
        }
        words.push_back({static_cast<std::uint32_t>(at), static_cast<std::uint16_t>(std::min<qsizetype>(word.size(), 0xffff)),
                         box->boundingBox()});
        at += word.size();
    }
    while (at < text.size() && isLayoutSpace(text[at]))
        ++at;
    if (at != text.size())
        return std::nullopt; // text the words do not account for
    return words;
}

} // namespace nw::ingest
