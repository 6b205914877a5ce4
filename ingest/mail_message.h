// Email through GMime: one message as a document (its headers as metadata and as the first
// paragraph, its body as text: the plain part, else the HTML part as text) with its attachments
// as documents of their own; and the messages of an mbox one at a time. GMime stays behind this
// header (mail_message.cpp is the one file that includes it).
#pragma once

#include "ingest/document_reader.h"

#include <QByteArray>
#include <QFile>
#include <QString>

#include <cstdint>
#include <optional>

namespace nw::ingest {

// Reads the RFC 822 message in `bytes`, whose identity is `sha256`, `depth` messages deep.
// Attachments of a format Needlework reads (and messages attached whole) become children, read
// by their readers one level deeper; one that cannot be read is a line of `problems`, and the
// message is kept. Throws IngestFailure: Corrupt when the bytes are not a message (no header
// lines), TooDeep when attached messages nest deeper than options.maxDepth.
ExtractedDocument readEmail(const QByteArray &bytes, const QString &sha256, const ReadOptions &options, int depth = 0);

// The messages of an mbox file (mboxo / mboxrd: each starts with a "From " line after a blank
// line or at the start), read in order without holding more than one. Throws IngestFailure
// (Unreadable) when the file cannot be opened.
class MailboxReader {
public:
    explicit MailboxReader(const QString &path);

    struct Message {
        int number = 0; // 1-based, in the file's order
        QByteArray bytes; // without its "From " line
        bool tooLarge = false; // longer than the limit: `bytes` holds only its start
    };
    // The next message, nullopt at the end. Messages longer than `maxBytes` are not kept whole.
    std::optional<Message> next(std::int64_t maxBytes);
    std::int64_t position() const { return m_position; } // bytes read so far

private:
    QFile m_file;
    bool m_previousBlank = true; // the start of the file counts as after a blank line
    int m_number = 0;
    std::int64_t m_position = 0;
};

QString gmimeVersion(); // "3.2.13"

} // namespace nw::ingest
