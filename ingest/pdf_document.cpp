// Poppler lives here and nowhere else: the one file that includes <poppler-qt6.h>.
#include "ingest/pdf_document.h"
#include "ingest/poppler_info.h"

#include "common/log.h"

#include <poppler-qt6.h>
#include <poppler-version.h>

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

// Poppler reports parse problems through one global callback; keep the last message of each
// thread so a failed open can say what Poppler saw.
thread_local QString t_lastPopplerMessage;

void popplerMessage(const QString &message, const QVariant &)
{
    t_lastPopplerMessage = message;
    log::get("ingest")->debug("poppler: {}", message.toStdString());
}

void installPopplerMessages()
{
    static std::once_flag once;
    std::call_once(once, [] { Poppler::setDebugErrorFunction(popplerMessage, QVariant()); });
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

// Poppler returns typographic ligatures as single code points (U+FB00..U+FB06: ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ);
// the FTS tokenizer does not fold them, so "first" would not find "ﬁrst". Spell them out.
QString expandLigatures(const QString &word)
{
    bool any = false;
    for (QChar ch : word)
        any = any || (ch.unicode() >= 0xfb00 && ch.unicode() <= 0xfb06);
    if (!any)
        return word;
    QString out;
    out.reserve(word.size() + 4);
    for (QChar ch : word) {
        if (ch.unicode() >= 0xfb00 && ch.unicode() <= 0xfb06)
            out += QString(ch).normalized(QString::NormalizationForm_KC);
        else
            out += ch;
    }
    return out;
}

} // namespace

struct PdfDocument::Impl {
    std::unique_ptr<Poppler::Document> document;
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
    impl->document = Poppler::Document::load(path);
    if (!impl->document) {
        const QString detail = t_lastPopplerMessage.isEmpty() ? QString() : QStringLiteral(" (Poppler: %1)").arg(t_lastPopplerMessage);
        throw IngestFailure(IngestProblem::Corrupt,
                            QStringLiteral("the PDF is damaged and cannot be opened%1").arg(detail));
    }
    if (impl->document->isLocked())
        throw IngestFailure(IngestProblem::Encrypted,
                            QStringLiteral("the PDF is encrypted and needs a password to open; "
                                           "save an unprotected copy and ingest that"));
    if (impl->document->numPages() <= 0)
        throw IngestFailure(IngestProblem::ZeroPages, QStringLiteral("the PDF has no pages"));
    return PdfDocument(std::move(impl), path);
}

int PdfDocument::pageCount() const { return m_impl->document->numPages(); }

DocumentMetadata PdfDocument::metadata() const
{
    const Poppler::Document &d = *m_impl->document;
    return {d.title().trimmed(),    d.author().trimmed(),   d.subject().trimmed(), d.keywords().trimmed(),
            d.creator().trimmed(),  d.producer().trimmed(), d.creationDate()};
}

QImage PdfDocument::renderPage(int index, double dpi) const
{
    if (index < 0 || index >= pageCount())
        fail("{}: page index {} is outside 0..{}", m_path.toStdString(), index, pageCount() - 1);
    if (!(dpi > 0 && dpi <= 1200))
        fail("{}: cannot render at {} dpi (0 < dpi <= 1200)", m_path.toStdString(), dpi);
    m_impl->document->setRenderHint(Poppler::Document::Antialiasing);
    m_impl->document->setRenderHint(Poppler::Document::TextAntialiasing);
    const std::unique_ptr<Poppler::Page> page = m_impl->document->page(index);
    if (!page)
        return {};
    return page->renderToImage(dpi, dpi);
}

PageContent PdfDocument::page(int index, bool withWords) const
{
    PageContent content;
    content.number = index + 1;
    const std::unique_ptr<Poppler::Page> page = m_impl->document->page(index);
    if (!page) // a broken page object: keep the page, with no text, so numbering stays right
        return content;
    content.label = page->label();
    content.size = page->pageSizeF();
    // textList() costs the same as text() (both run Poppler's TextOutputDev, measured in the
    // note) and gives the words in reading order with their boxes, so the text is built from it:
    // words of a line joined by a space where Poppler saw one, lines by '\n'.
    const std::vector<std::unique_ptr<Poppler::TextBox>> boxes = page->textList();
    if (withWords)
        content.words.reserve(boxes.size());
    QString &text = content.text;
    for (const std::unique_ptr<Poppler::TextBox> &box : boxes) {
        const QString word = expandLigatures(box->text());
        if (withWords && !word.isEmpty())
            content.words.push_back({static_cast<std::uint32_t>(text.size()),
                                     static_cast<std::uint16_t>(std::min<qsizetype>(word.size(), 0xffff)),
                                     box->boundingBox()});
        text += word;
        if (box->nextWord() == nullptr)
            text += QLatin1Char('\n');
        else if (box->hasSpaceAfter())
            text += QLatin1Char(' ');
    }
    if (text.endsWith(QLatin1Char('\n')))
        text.chop(1);
    return content;
}

} // namespace nw::ingest
