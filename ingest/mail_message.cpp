// GMime lives here and nowhere else: the one file that includes its headers.
#include "ingest/mail_message.h"

#include "common/log.h"
#include "ingest/html_document.h"
#include "ingest/paragraph_pages.h"
#include "ingest/text_document.h"

// GLib's headers (under GMime's) use `signals` as a name, which Qt defines as a keyword macro.
#pragma push_macro("signals")
#undef signals
#include <gmime/gmime.h>
#pragma pop_macro("signals")

#include <QDateTime>
#include <QFileInfo>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace nw::ingest {

QString gmimeVersion()
{
    return QStringLiteral("%1.%2.%3").arg(gmime_major_version).arg(gmime_minor_version).arg(gmime_micro_version);
}

namespace {

void initGmime()
{
    static std::once_flag once;
    std::call_once(once, [] { g_mime_init(); });
}

template <typename T> struct GObjectDeleter {
    void operator()(T *object) const
    {
        if (object)
            g_object_unref(object);
    }
};
template <typename T> using GObjectPtr = std::unique_ptr<T, GObjectDeleter<T>>;

struct GFreeDeleter {
    void operator()(void *p) const { g_free(p); }
};
using GString_ = std::unique_ptr<char, GFreeDeleter>;

QString fromGString(char *owned)
{
    const GString_ holder(owned);
    return owned ? QString::fromUtf8(owned) : QString();
}

QString fromUtf8(const char *text)
{
    return text ? QString::fromUtf8(text) : QString();
}

QString addresses(InternetAddressList *list)
{
    if (!list || internet_address_list_length(list) == 0)
        return {};
    return fromGString(internet_address_list_to_string(list, nullptr, FALSE)).simplified();
}

// The first message id a References-style header names ("" when none).
QString firstReference(GMimeObject *object, const char *header, bool last)
{
    const char *value = g_mime_object_get_header(object, header);
    if (!value)
        return {};
    GMimeReferences *refs = g_mime_references_parse(nullptr, value);
    if (!refs)
        return {};
    const int n = g_mime_references_length(refs);
    const QString id = n > 0 ? fromUtf8(g_mime_references_get_message_id(refs, last ? n - 1 : 0)) : QString();
    g_mime_references_free(refs);
    return id;
}

// Problems of the message's structure worth a line (duplicated or 8-bit headers are everyday mail).
void onParserWarning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
    QString what;
    switch (code) {
    case GMIME_WARN_MALFORMED_MULTIPART:
        what = QStringLiteral("a multipart part has no parts");
        break;
    case GMIME_WARN_TRUNCATED_MESSAGE:
        what = QStringLiteral("the message is truncated");
        break;
    case GMIME_WARN_MALFORMED_MESSAGE:
        what = QStringLiteral("the message is malformed");
        break;
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
        what = QStringLiteral("a multipart part has no boundary");
        break;
    case GMIME_CRIT_NESTING_OVERFLOW:
        what = QStringLiteral("MIME parts nest too deep");
        break;
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
        what = QStringLiteral("a MIME part has neither headers nor content");
        break;
    case GMIME_CRIT_INVALID_HEADER_NAME:
        what = QStringLiteral("a header name is invalid");
        break;
    default:
        return;
    }
    auto *problems = static_cast<std::vector<PartProblem> *>(data);
    const QString line = QStringLiteral("%1 (at byte %2%3); what could be read is kept")
                             .arg(what)
                             .arg(offset)
                             .arg(item && *item ? QStringLiteral(", ") + QString::fromUtf8(item).left(60) : QString());
    const bool seen
        = std::any_of(problems->begin(), problems->end(), [&](const PartProblem &p) { return p.reason == line; });
    if (!seen && problems->size() < 8)
        problems->push_back({ QString(), line });
}

QByteArray decodedContent(GMimePart *part, std::int64_t maxBytes, bool *tooLarge)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    if (!content)
        return {};
    const GObjectPtr<GMimeStream> out(g_mime_stream_mem_new());
    g_mime_data_wrapper_write_to_stream(content, out.get());
    GByteArray *array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    if (!array)
        return {};
    *tooLarge = static_cast<std::int64_t>(array->len) > maxBytes;
    return QByteArray(reinterpret_cast<const char *>(array->data),
        static_cast<qsizetype>(std::min<std::int64_t>(array->len, maxBytes)));
}

QByteArray serialized(GMimeObject *object)
{
    const GObjectPtr<GMimeStream> out(g_mime_stream_mem_new());
    g_mime_object_write_to_stream(object, nullptr, out.get());
    GByteArray *array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    return array ? QByteArray(reinterpret_cast<const char *>(array->data), static_cast<qsizetype>(array->len))
                 : QByteArray();
}

QString mimeType(GMimeObject *object)
{
    GMimeContentType *type = g_mime_object_get_content_type(object);
    return type ? fromGString(g_mime_content_type_get_mime_type(type)).toLower() : QString();
}

struct Attachment {
    QString name;
    QString mimeType;
    QByteArray bytes;
    bool message = false; // message/rfc822, attached whole
    bool tooLarge = false;
};

struct MessageParts {
    QString plain;
    QString html;
    bool encrypted = false;
    std::vector<Attachment> attachments;
};

// Walks the MIME tree without recursion (nesting costs no stack): the first text/plain and
// text/html parts that are not attachments are the body; the rest that have a name or say they
// are attachments, and attached messages, are attachments.
MessageParts collectParts(GMimeMessage *message, std::int64_t maxPartBytes)
{
    MessageParts parts;
    std::vector<GMimeObject *> stack;
    if (GMimeObject *root = g_mime_message_get_mime_part(message))
        stack.push_back(root);
    while (!stack.empty()) {
        GMimeObject *object = stack.back();
        stack.pop_back();
        if (GMIME_IS_MULTIPART_ENCRYPTED(object) || GMIME_IS_APPLICATION_PKCS7_MIME(object)) {
            parts.encrypted = true;
            continue;
        }
        if (GMIME_IS_MULTIPART(object)) {
            GMimeMultipart *multipart = GMIME_MULTIPART(object);
            for (int i = g_mime_multipart_get_count(multipart) - 1; i >= 0; --i)
                stack.push_back(g_mime_multipart_get_part(multipart, i));
            continue;
        }
        if (GMIME_IS_MESSAGE_PART(object)) {
            GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
            if (!inner)
                continue;
            Attachment a;
            a.message = true;
            a.mimeType = QStringLiteral("message/rfc822");
            a.name = fromUtf8(g_mime_object_get_content_disposition_parameter(object, "filename"));
            if (a.name.isEmpty())
                a.name = fromUtf8(g_mime_message_get_subject(inner));
            a.bytes = serialized(GMIME_OBJECT(inner));
            parts.attachments.push_back(std::move(a));
            continue;
        }
        if (!GMIME_IS_PART(object))
            continue;
        GMimePart *part = GMIME_PART(object);
        const QString type = mimeType(object);
        const QString name = fromUtf8(g_mime_part_get_filename(part));
        const bool attachment = g_mime_part_is_attachment(part) || !name.isEmpty();
        if (!attachment && GMIME_IS_TEXT_PART(object) && (type == u"text/plain" || type == u"text/html")) {
            QString &body = type == u"text/plain" ? parts.plain : parts.html;
            if (body.isEmpty())
                body = fromGString(g_mime_text_part_get_text(GMIME_TEXT_PART(object)));
            continue;
        }
        if (!attachment)
            continue; // inline pictures and the like
        Attachment a;
        a.name = name;
        a.mimeType = type;
        a.bytes = decodedContent(part, maxPartBytes, &a.tooLarge);
        parts.attachments.push_back(std::move(a));
    }
    return parts;
}

// The reader for an attachment: by its content and name, as files are told apart; text only
// when it says it is (a calendar invitation is text too, but no document).
FileFormat attachmentFormat(const Attachment &a)
{
    if (a.message)
        return FileFormat::Email;
    const FileFormat format = detectFormat(a.name, a.bytes.left(4096));
    if (format == FileFormat::Text) {
        const QString suffix = QFileInfo(a.name).suffix().toLower();
        const bool textFile = isIngestSuffix(suffix) && !suffix.isEmpty();
        return textFile || a.mimeType == u"text/plain" || a.mimeType == u"text/markdown" ? FileFormat::Text
                                                                                         : FileFormat::Unknown;
    }
    if (format == FileFormat::Mailbox)
        return FileFormat::Unknown;
    return format;
}

QString isoDate(GMimeMessage *message)
{
    GDateTime *date = g_mime_message_get_date(message);
    if (!date)
        return {};
    return QDateTime::fromSecsSinceEpoch(g_date_time_to_unix(date), Qt::UTC).toString(Qt::ISODate);
}

} // namespace

ExtractedDocument readEmail(const QByteArray &bytes, const QString &sha256, const ReadOptions &options, int depth)
{
    initGmime();
    if (depth > options.maxDepth)
        throw IngestFailure(IngestProblem::TooDeep,
            QStringLiteral("messages attached to messages nest more than %1 levels "
                           "deep; the deeper ones are refused")
                .arg(options.maxDepth));
    std::vector<PartProblem> problems;
    GMimeParserOptions *parserOptions = g_mime_parser_options_new();
    g_mime_parser_options_set_warning_callback(parserOptions, &onParserWarning, &problems);
    const std::unique_ptr<GMimeParserOptions, void (*)(GMimeParserOptions *)> optionsHolder(
        parserOptions, &g_mime_parser_options_free);
    const GObjectPtr<GMimeStream> stream(
        g_mime_stream_mem_new_with_buffer(bytes.constData(), static_cast<size_t>(bytes.size())));
    const GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    const GObjectPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), parserOptions));
    GMimeObject *object = message ? GMIME_OBJECT(message.get()) : nullptr;
    if (!message || !g_mime_object_get_header_list(object)
        || g_mime_header_list_get_count(g_mime_object_get_header_list(object)) == 0)
        throw IngestFailure(IngestProblem::Corrupt, QStringLiteral("not an email message: it has no header lines"));

    store::MessageHeaders headers;
    headers.messageId = fromUtf8(g_mime_message_get_message_id(message.get()));
    headers.inReplyTo = firstReference(object, "In-Reply-To", true);
    headers.threadId = firstReference(object, "References", false);
    if (headers.threadId.isEmpty())
        headers.threadId = headers.inReplyTo;
    headers.from = addresses(g_mime_message_get_from(message.get()));
    headers.to = addresses(g_mime_message_get_to(message.get()));
    headers.cc = addresses(g_mime_message_get_cc(message.get()));
    headers.date = isoDate(message.get());
    headers.subject = fromUtf8(g_mime_message_get_subject(message.get())).simplified();

    ExtractedDocument doc;
    doc.kind = QStringLiteral("email");
    doc.metadata.title = headers.subject.isEmpty() ? QStringLiteral("(no subject)") : headers.subject;
    doc.metadata.author = headers.from;
    doc.metadata.subject = headers.subject;
    if (!headers.date.isEmpty())
        doc.metadata.created = QDateTime::fromString(headers.date, Qt::ISODate);

    const MessageParts parts = collectParts(message.get(), options.maxPartBytes);
    // The headers are the first paragraph: who wrote to whom and when is searchable and quotable.
    QStringList headerLines;
    const auto addLine = [&](const char *name, const QString &value) {
        if (!value.isEmpty())
            headerLines << QStringLiteral("%1: %2").arg(QLatin1String(name), value);
    };
    addLine("From", headers.from);
    addLine("To", headers.to);
    addLine("Cc", headers.cc);
    addLine("Date", headers.date);
    addLine("Subject", headers.subject);
    std::vector<Paragraph> paragraphs;
    if (!headerLines.isEmpty())
        paragraphs.push_back({ headerLines.join(QLatin1Char('\n')) });
    std::vector<Paragraph> body
        = !parts.plain.trimmed().isEmpty() ? paragraphsOf(parts.plain) : htmlToText(parts.html).paragraphs;
    paragraphs.insert(paragraphs.end(), std::make_move_iterator(body.begin()), std::make_move_iterator(body.end()));
    if (parts.encrypted)
        paragraphs.push_back({ QStringLiteral("[This message has an encrypted part, which was not read.]") });
    QStringList names;
    for (const Attachment &a : parts.attachments)
        names << (a.name.isEmpty() ? a.mimeType : a.name);
    if (!names.isEmpty())
        paragraphs.push_back({ QStringLiteral("Attachments: ") + names.join(QStringLiteral(", ")) });
    doc.pages = paginate(paragraphs, options.textPageChars, false);
    doc.message = std::move(headers);

    // Attachments: each one a document of its own, read by its format's reader.
    const QString of = doc.metadata.title.left(80);
    int index = 0;
    for (const Attachment &a : parts.attachments) {
        ++index;
        if (options.cancel && options.cancel->load(std::memory_order_relaxed))
            break;
        const QString label = a.name.isEmpty() ? QStringLiteral("#%1").arg(index) : a.name;
        const QString where = QStringLiteral("attachment %1 of “%2”").arg(label, of);
        if (a.tooLarge) {
            problems.push_back(
                { where, QStringLiteral("larger than %1 decoded; not read").arg(bytesText(options.maxPartBytes)) });
            continue;
        }
        const FileFormat format = attachmentFormat(a);
        if (format == FileFormat::Unknown)
            continue; // pictures, calendars, archives: no document to make
        try {
            ExtractedDocument child
                = readDocument(format, a.bytes, label, partSha256(sha256, index, a.bytes), options, depth + 1);
            child.part = where;
            if (child.metadata.title == QFileInfo(label).completeBaseName() && !a.name.isEmpty() && !a.message)
                child.metadata.title = a.name;
            // The problems of an attached message's parts are this message's too.
            for (PartProblem &problem : child.problems)
                problems.push_back(
                    { problem.part.isEmpty() ? where : problem.part + QStringLiteral(", ") + where, problem.reason });
            child.problems.clear();
            doc.children.push_back(std::move(child));
        } catch (const IngestFailure &f) {
            if (f.problem() == IngestProblem::TooDeep)
                throw; // the whole message is refused: nesting that deep is built to be hostile
            problems.push_back({ where, f.reason() });
        } catch (const std::exception &e) {
            problems.push_back({ where, QString::fromUtf8(e.what()) });
        }
    }
    doc.problems = problems;
    return doc;
}

// --- mbox

MailboxReader::MailboxReader(const QString &path)
    : m_file(path)
{
    if (!m_file.open(QIODevice::ReadOnly))
        throw IngestFailure(IngestProblem::Unreadable, QStringLiteral("cannot be read: %1").arg(m_file.errorString()));
}

namespace {

bool isBlank(const QByteArray &line)
{
    return line == "\n" || line == "\r\n";
}

} // namespace

std::optional<MailboxReader::Message> MailboxReader::next(std::int64_t maxBytes)
{
    for (;;) {
        Message message;
        bool atEnd = true;
        for (;;) {
            QByteArray line = m_file.readLine();
            if (line.isEmpty())
                break;
            m_position += line.size();
            if (line.startsWith("From ") && m_previousBlank) {
                m_previousBlank = false;
                if (!message.bytes.isEmpty() || message.tooLarge) {
                    atEnd = false; // this line starts the next message
                    break;
                }
                continue; // this message's own separator
            }
            m_previousBlank = isBlank(line);
            // mboxrd: ">From " (and ">>From ") in a body was escaped by one '>'.
            if (line.startsWith('>')) {
                qsizetype q = 0;
                while (q < line.size() && line[q] == '>')
                    ++q;
                if (QByteArrayView(line).sliced(q).startsWith("From "))
                    line.remove(0, 1);
            }
            if (message.bytes.size() + line.size() > maxBytes) {
                message.tooLarge = true;
                continue;
            }
            message.bytes += line;
        }
        // The blank line before the next "From " belongs to the mbox, not to the message.
        if (message.bytes.endsWith("\r\n\r\n"))
            message.bytes.chop(2);
        else if (message.bytes.endsWith("\n\n"))
            message.bytes.chop(1);
        if (!message.bytes.trimmed().isEmpty() || message.tooLarge) {
            message.number = ++m_number;
            return message;
        }
        if (atEnd)
            return std::nullopt;
    }
}

} // namespace nw::ingest
