// Format detection and the dispatch to each format's reader.
#include "ingest/document_reader.h"

#include "ingest/html_document.h"
#include "ingest/mail_message.h"
#include "ingest/office_document.h"
#include "ingest/paragraph_pages.h"
#include "ingest/pdf_document.h"
#include "ingest/text_document.h"

#include <QCryptographicHash>
#include <QFileInfo>
#include <QRegularExpression>

namespace nw::ingest {

const char *formatKind(FileFormat format)
{
    switch (format) {
    case FileFormat::Pdf:
        return "pdf";
    case FileFormat::Text:
        return "text";
    case FileFormat::Html:
        return "html";
    case FileFormat::Docx:
        return "docx";
    case FileFormat::Odt:
        return "odt";
    case FileFormat::Email:
    case FileFormat::Mailbox:
        return "email";
    case FileFormat::Unknown:
        return "unknown";
    }
    return "unknown";
}

namespace {

FileFormat formatOfSuffix(const QString &suffix)
{
    static const QHash<QString, FileFormat> bySuffix = {
        { QStringLiteral("pdf"), FileFormat::Pdf },
        { QStringLiteral("txt"), FileFormat::Text },
        { QStringLiteral("text"), FileFormat::Text },
        { QStringLiteral("md"), FileFormat::Text },
        { QStringLiteral("markdown"), FileFormat::Text },
        { QStringLiteral("html"), FileFormat::Html },
        { QStringLiteral("htm"), FileFormat::Html },
        { QStringLiteral("xhtml"), FileFormat::Html },
        { QStringLiteral("docx"), FileFormat::Docx },
        { QStringLiteral("odt"), FileFormat::Odt },
        { QStringLiteral("eml"), FileFormat::Email },
        { QStringLiteral("mbox"), FileFormat::Mailbox },
        { QStringLiteral("mbx"), FileFormat::Mailbox },
    };
    return bySuffix.value(suffix.toLower(), FileFormat::Unknown);
}

// An RFC 822 header block: the first lines are "Name: value" (or continuations), and among the
// first dozen names at least two are ones mail always has.
bool looksLikeMessage(const QByteArray &head)
{
    static const QRegularExpression field(QStringLiteral("^([A-Za-z][A-Za-z0-9-]*):"));
    static const QStringList common = { QStringLiteral("from"), QStringLiteral("to"), QStringLiteral("subject"),
        QStringLiteral("date"), QStringLiteral("message-id"), QStringLiteral("received"), QStringLiteral("return-path"),
        QStringLiteral("mime-version"), QStringLiteral("cc"), QStringLiteral("delivered-to"),
        QStringLiteral("reply-to"), QStringLiteral("sender") };
    int fields = 0;
    int known = 0;
    const QList<QByteArray> lines = head.left(4096).split('\n');
    for (qsizetype i = 0; i < lines.size() && fields < 12; ++i) {
        const QString line = QString::fromLatin1(lines[i]).remove(QLatin1Char('\r'));
        if (line.isEmpty())
            break;
        if (line.front() == QLatin1Char(' ') || line.front() == QLatin1Char('\t'))
            continue; // a folded header line
        const QRegularExpressionMatch m = field.match(line);
        if (!m.hasMatch())
            return false;
        ++fields;
        known += common.contains(m.captured(1).toLower()) ? 1 : 0;
    }
    return known >= 2;
}

// A zip whose members say what it is: a .docx names word/document.xml early (in its local
// headers); an .odt starts with the "mimetype" member, stored.
FileFormat zipFormat(const QByteArray &head)
{
    if (!head.startsWith("PK\x03\x04"))
        return FileFormat::Unknown;
    if (head.contains("mimetypeapplication/vnd.oasis.opendocument.text"))
        return FileFormat::Odt;
    if (head.contains("word/") || head.contains("[Content_Types].xml"))
        return FileFormat::Docx;
    return FileFormat::Unknown;
}

ExtractedDocument flowDocument(FileFormat format, const DocumentMetadata &metadata,
    const std::vector<Paragraph> &paragraphs, bool recordedBreaks, const ReadOptions &options)
{
    ExtractedDocument doc;
    doc.kind = QString::fromLatin1(formatKind(format));
    doc.metadata = metadata;
    doc.pages = paginate(paragraphs, options.textPageChars, recordedBreaks);
    return doc;
}

ExtractedDocument readPdfBytes(const QByteArray &bytes, const QString &name, const ReadOptions &options)
{
    const PdfDocument pdf = PdfDocument::openData(bytes, name);
    ExtractedDocument doc;
    doc.kind = QStringLiteral("pdf");
    doc.metadata = pdf.metadata();
    for (int i = 0; i < pdf.pageCount(); ++i) {
        if (options.cancel && options.cancel->load(std::memory_order_relaxed))
            break;
        // Word boxes always: a part's page cannot be laid out again later (its file is the message).
        doc.pages.push_back(readPdfPage(pdf, i, pdf.page(i, true), options.ocr, options.cancel));
    }
    return doc;
}

} // namespace

bool isIngestSuffix(const QString &suffix)
{
    return formatOfSuffix(suffix) != FileFormat::Unknown;
}

FileFormat detectFormat(const QString &fileName, const QByteArray &head)
{
    if (head.left(1024).contains("%PDF-"))
        return FileFormat::Pdf;
    if (const FileFormat zip = zipFormat(head); zip != FileFormat::Unknown)
        return zip;
    const FileFormat bySuffix = formatOfSuffix(QFileInfo(fileName).suffix());
    if (bySuffix == FileFormat::Pdf || bySuffix == FileFormat::Docx || bySuffix == FileFormat::Odt)
        return bySuffix; // its reader says what is wrong with it
    if (head.startsWith("From ") && looksLikeMessage(head.mid(head.indexOf('\n') + 1)))
        return FileFormat::Mailbox;
    if (bySuffix == FileFormat::Mailbox || bySuffix == FileFormat::Email)
        return bySuffix;
    if (bySuffix == FileFormat::Html)
        return FileFormat::Html;
    if (looksLikeMessage(head))
        return FileFormat::Email;
    const QByteArray start = head.left(512).trimmed().toLower();
    if (start.startsWith("<!doctype html") || start.startsWith("<html"))
        return FileFormat::Html;
    return looksLikeText(head) ? FileFormat::Text : FileFormat::Unknown;
}

QString partSha256(const QString &parentSha256, int index, const QByteArray &bytes)
{
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(parentSha256.toLatin1());
    hash.addData(QByteArray("/part/") + QByteArray::number(index) + '/');
    hash.addData(bytes);
    return QString::fromLatin1(hash.result().toHex());
}

ExtractedDocument readDocument(FileFormat format, const QByteArray &bytes, const QString &name, const QString &sha256,
    const ReadOptions &options, int depth)
{
    ExtractedDocument doc;
    switch (format) {
    case FileFormat::Pdf:
        doc = readPdfBytes(bytes, name, options);
        break;
    case FileFormat::Text: {
        const QString text = decodeText(bytes);
        if (text.trimmed().isEmpty())
            throw IngestFailure(IngestProblem::Empty, QStringLiteral("the file is empty: there is no text to index"));
        doc.kind = QStringLiteral("text");
        doc.pages = splitIntoPages(text, options.textPageChars);
        doc.metadata.title = guessTitle(text);
        break;
    }
    case FileFormat::Html: {
        const HtmlText html = htmlToText(bytes);
        doc = flowDocument(format, {}, html.paragraphs, false, options);
        doc.metadata.title = html.title;
        break;
    }
    case FileFormat::Docx: {
        const OfficeText office = readDocx(bytes, options.zip);
        doc = flowDocument(format, office.metadata, office.paragraphs, office.recordedBreaks, options);
        break;
    }
    case FileFormat::Odt: {
        const OfficeText office = readOdt(bytes, options.zip);
        doc = flowDocument(format, office.metadata, office.paragraphs, office.recordedBreaks, options);
        break;
    }
    case FileFormat::Email:
        doc = readEmail(bytes, sha256, options, depth);
        break;
    case FileFormat::Mailbox:
    case FileFormat::Unknown:
        throw IngestFailure(IngestProblem::Unsupported, QStringLiteral("unsupported file type"));
    }
    doc.sha256 = sha256;
    doc.bytes = bytes.size();
    if (doc.metadata.title.trimmed().isEmpty())
        doc.metadata.title = QFileInfo(name).completeBaseName();
    if (doc.pages.empty())
        doc.pages.push_back(PageContent { .number = 1 });
    return doc;
}

} // namespace nw::ingest
