// Fuzz entry point for the mail readers (GMime): byte 0 picks what the rest is. Even: one RFC 822
// message, read with its attachments (those Needlework reads are read by their own readers, one
// level deeper). Odd: an mbox file, split into messages (each of at most 4 KiB kept whole) and
// the first eight read. Every input gives documents or nw::Error; documents have pages numbered
// in order (fuzz_ingest.h), and the mailbox reader numbers messages 1, 2, ... and reads the file
// to its end.
#include "common/error.h"
#include "ingest/mail_message.h"
#include "tests/fuzz/fuzz_ingest.h"
#include "tests/ingest/office_fixtures.h"

#include <QByteArray>
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QString>

#include <cstdint>
#include <string>
#include <vector>

namespace {

void readMessage(const QByteArray &bytes)
{
    try {
        nw::fuzz::checkDocument(
            nw::ingest::readEmail(bytes, QStringLiteral("0"), nw::fuzz::cheapReadOptions()), "readEmail");
    } catch (const nw::Error &) {
    }
}

// MailboxReader reads a file: one per process, rewritten for each input, removed at exit.
struct ScratchFile {
    QString path
        = QDir::temp().filePath(QStringLiteral("nw-fuzz-mail-%1.mbox").arg(QCoreApplication::applicationPid()));
    ~ScratchFile() { QFile::remove(path); }
};

void readMailbox(const QByteArray &bytes)
{
    static const ScratchFile scratch;
    const QString &path = scratch.path;
    {
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(bytes) != bytes.size())
            nw::fuzz::die("fuzz_mail: cannot write " + path.toStdString());
    }
    nw::ingest::MailboxReader reader(path);
    int expected = 1;
    std::int64_t position = 0;
    while (const auto message = reader.next(4096)) {
        if (message->number != expected++)
            nw::fuzz::die("MailboxReader: message " + std::to_string(expected - 1) + " is numbered "
                + std::to_string(message->number));
        if (reader.position() < position || reader.position() > bytes.size())
            nw::fuzz::die("MailboxReader: position " + std::to_string(reader.position()) + " after "
                + std::to_string(position) + " of " + std::to_string(bytes.size()));
        position = reader.position();
        if (message->bytes.size() > 4096)
            nw::fuzz::die("MailboxReader: a message of " + std::to_string(message->bytes.size())
                + " bytes kept whole past the limit of 4096");
        if (!message->tooLarge && message->number <= 8)
            readMessage(message->bytes);
    }
    if (reader.position() != bytes.size())
        nw::fuzz::die("MailboxReader: stopped at " + std::to_string(reader.position()) + " of "
            + std::to_string(bytes.size()) + " bytes");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const QByteArray rest(reinterpret_cast<const char *>(data) + 1, static_cast<qsizetype>(size - 1));
    if (data[0] % 2 == 0)
        readMessage(rest);
    else
        readMailbox(rest);
    return 0;
}

// Seeds: messages with what the reader treats apart (multipart alternatives, attachments of every
// readable format, an attached message, encodings, charsets, encoded words) and mailboxes.
std::vector<std::vector<std::uint8_t>> nwFuzzSeeds()
{
    const QByteArray docx = nw::test::makeDocx(nw::test::docxParagraph(QStringLiteral("attached words")));
    const QByteArray plain
        = "From: Ada <ada@example.org>\r\nTo: b@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?= terms\r\n"
          "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n"
          "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n"
          "\r\nThe clause =E9 applies.=\r\n\r\nSecond paragraph.\r\n";
    const QByteArray multipart
        = "From: a@example.org\nSubject: parts\nReferences: <0@x> <1@example.org>\nIn-Reply-To: <1@example.org>\n"
          "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B1\"\n\n--B1\n"
          "Content-Type: multipart/alternative; boundary=\"B2\"\n\n--B2\nContent-Type: text/plain\n\nplain body\n--B2\n"
          "Content-Type: text/html\n\n<p>html <b>body</b></p><ul><li>item</ul>\n--B2--\n--B1\n"
          "Content-Type: text/plain; name=\"notes.txt\"\nContent-Disposition: attachment; filename=\"notes.txt\"\n"
          "Content-Transfer-Encoding: base64\n\nYXR0YWNoZWQgbm90ZXMK\n--B1\n"
          "Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name=\"r.docx\"\n"
          "Content-Disposition: attachment; filename=\"r.docx\"\nContent-Transfer-Encoding: base64\n\n"
        + docx.toBase64() + "\n--B1\nContent-Type: message/rfc822\n\nFrom: inner@example.org\nSubject: inner\n\n"
        + "inner body\n--B1\nContent-Type: application/pdf; name=\"x.pdf\"\nContent-Transfer-Encoding: base64\n\n"
        + QByteArray("%PDF-1.4\n%%EOF\n").toBase64() + "\n--B1--\n";
    QByteArray nested = "Subject: deep\n\nbody\n";
    for (int i = 0; i < 10; ++i)
        nested = "From: x@example.org\nSubject: level " + QByteArray::number(i)
            + "\nContent-Type: multipart/mixed; boundary=\"L\"\n\n--L\nContent-Type: message/rfc822\n\n" + nested
            + "\n--L--\n";
    const QByteArray mbox = "From a@example.org Mon Dec  7 10:00:00 2026\n" + plain
        + "\nFrom b@example.org Mon Dec  7 10:01:00 2026\nSubject: second\n\n>From quoted line\nbody\n\n"
          "From c@example.org Mon Dec  7 10:02:00 2026\n\n";
    std::vector<std::vector<std::uint8_t>> seeds;
    const auto add = [&seeds](char mode, const QByteArray &bytes) {
        std::vector<std::uint8_t> seed { static_cast<std::uint8_t>(mode) };
        seed.insert(seed.end(), bytes.begin(), bytes.end());
        seeds.push_back(std::move(seed));
    };
    add(0, plain);
    add(0, multipart);
    add(0, nested);
    add(0, "Subject: no body");
    add(1, mbox);
    add(1, "From x\n" + multipart + "\nFrom y\n" + QByteArray(5000, 'z') + "\n\nFrom z\n" + nested);
    return seeds;
}
