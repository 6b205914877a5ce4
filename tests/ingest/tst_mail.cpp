// Email: a message with its headers as metadata, its plain body (its HTML one when there is no
// plain), and every attachment of a format Needlework reads as a document linked to it (a PDF,
// a .docx, a forwarded message with an attachment of its own); threads by In-Reply-To; mailboxes
// message by message, resumed after a stop, skipped when unchanged and replaced when changed; and
// the bad cases (no message at all, messages nested too deep, an encrypted attachment, a
// truncated multipart, a mailbox over the limit) each one line that does not stop the batch.
#include "ingest/ingestor.h"
#include "ingest/mail_message.h"
#include "ingest/page_words.h"
#include "store/search_service.h"
#include "tests/ingest/office_fixtures.h"
#include "tests/ingest/pdf_fixtures.h"

#include <QTemporaryDir>
#include <QTest>

using namespace nw::ingest;
using nw::store::LibraryStore;

namespace {

struct Part {
    QString name;
    QByteArray mimeType;
    QByteArray bytes;
    bool message = false; // message/rfc822, attached whole
};

QByteArray headers(const QString &subject, const QString &id, const QString &inReplyTo = {}, const QString &from = {})
{
    QByteArray h = "From: " + (from.isEmpty() ? QByteArray("Alice Example <alice@example.com>") : from.toUtf8())
        + "\nTo: Bob <bob@example.com>\nCc: Carol <carol@example.com>\nDate: Tue, 2 Jan 2024 10:00:00 +0100\n"
          "Subject: "
        + subject.toUtf8() + "\nMessage-ID: <" + id.toUtf8() + ">\nMIME-Version: 1.0\n";
    if (!inReplyTo.isEmpty())
        h += "In-Reply-To: <" + inReplyTo.toUtf8() + ">\n";
    return h;
}

QByteArray base64Lines(const QByteArray &bytes)
{
    const QByteArray b64 = bytes.toBase64();
    QByteArray out;
    for (qsizetype i = 0; i < b64.size(); i += 76)
        out += b64.mid(i, 76) + '\n';
    return out;
}

// A multipart/mixed message: a text/plain body (and an HTML alternative when given), then parts.
QByteArray mimeMessage(const QByteArray &head, const QString &plain, const QString &html, const QList<Part> &parts,
    const QByteArray &boundary = "outer")
{
    QByteArray m = head + "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\n\n--" + boundary + "\n";
    if (!html.isEmpty())
        m += "Content-Type: multipart/alternative; boundary=\"alt" + boundary + "\"\n\n--alt" + boundary
            + "\nContent-Type: text/plain; charset=utf-8\n\n" + plain.toUtf8() + "\n--alt" + boundary
            + "\nContent-Type: text/html; charset=utf-8\n\n" + html.toUtf8() + "\n--alt" + boundary + "--\n";
    else
        m += "Content-Type: text/plain; charset=utf-8\n\n" + plain.toUtf8() + "\n";
    for (const Part &p : parts) {
        m += "--" + boundary + "\n";
        if (p.message) {
            m += "Content-Type: message/rfc822\nContent-Disposition: attachment\n\n" + p.bytes + "\n";
            continue;
        }
        m += "Content-Type: " + p.mimeType + "; name=\"" + p.name.toUtf8()
            + "\"\nContent-Disposition: attachment; filename=\"" + p.name.toUtf8()
            + "\"\nContent-Transfer-Encoding: base64\n\n" + base64Lines(p.bytes);
    }
    m += "--" + boundary + "--\n";
    return m;
}

QByteArray plainMessage(const QString &subject, const QString &id, const QString &body, const QString &inReplyTo = {},
    const QString &from = {})
{
    return headers(subject, id, inReplyTo, from) + "Content-Type: text/plain; charset=utf-8\n\n" + body.toUtf8() + "\n";
}

QByteArray mbox(const QList<QByteArray> &messages)
{
    QByteArray out;
    for (const QByteArray &m : messages)
        out += "From sender@example.com Tue Jan  2 10:00:00 2024\n" + m + (m.endsWith('\n') ? "" : "\n") + "\n";
    return out;
}

QByteArray pdfBytes(const QStringList &pages)
{
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("p.pdf"));
    if (!nw::test::writeTextPdf(path, pages))
        return {};
    return nw::test::readBytes(path);
}

} // namespace

class TestMail : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void messageWithAttachments();
    void htmlOnlyBody();
    void badMail_data();
    void badMail();
    void threadsByReplies();
    void mailboxResumesAfterAStop();
    void mailboxChangedOrUnchanged();

private:
    QString file(const QString &name) const { return m_dir->filePath(name); }
    QTemporaryDir *m_dir = nullptr;
    LibraryStore *m_store = nullptr;
};

void TestMail::init()
{
    m_dir = new QTemporaryDir;
    m_store = new LibraryStore(file(QStringLiteral("lib.sqlite")));
}

void TestMail::cleanup()
{
    delete m_store;
    delete m_dir;
}

void TestMail::messageWithAttachments()
{
    const QByteArray forwarded
        = mimeMessage(headers(QStringLiteral("Original terms"), QStringLiteral("orig@example.com"), {},
                          QStringLiteral("Dan <dan@example.com>")),
            QStringLiteral("See the notes attached."), {},
            { { QStringLiteral("notes.txt"), "text/plain", "Notes mention the penalty clause.\n" } }, "inner");
    const QByteArray eml = mimeMessage(headers(QStringLiteral("Quarterly numbers"), QStringLiteral("q1@example.com")),
        QStringLiteral("Plain body mentions the warehouse lease.\n\nSecond paragraph of the plain body."),
        QStringLiteral("<p>HTML body should not be used</p>"),
        { { QStringLiteral("report.pdf"), "application/pdf",
              pdfBytes({ "Revenue grew by eleven percent", "Costs fell slightly" }) },
            { QStringLiteral("terms.docx"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                nw::test::makeDocx(nw::test::docxParagraph(QStringLiteral("Delivery within fourteen days"))) },
            { QStringLiteral("logo.png"), "image/png", QByteArray::fromHex("89504e470d0a1a0a") },
            { {}, {}, forwarded, true } });
    const QString path = file(QStringLiteral("quarterly.eml"));
    QVERIFY(nw::test::writeBytes(path, eml));
    Ingestor ingestor(*m_store);
    const IngestSummary summary = ingestor.run({ path });
    QCOMPARE(summary.added, 1);
    QCOMPARE(summary.files[0].documents, 5); // the message, the PDF, the .docx, the forwarded message and its notes
    QVERIFY2(
        summary.files[0].partProblems.isEmpty(), qPrintable(summary.files[0].partProblems.join(QLatin1Char('\n'))));

    const nw::store::DocumentInfo message = m_store->requireDocument(summary.files[0].documentId);
    QCOMPARE(message.kind, QStringLiteral("email"));
    QCOMPARE(message.title, QStringLiteral("Quarterly numbers"));
    QCOMPARE(message.part, QString()); // the .eml is the message
    QVERIFY(message.message.has_value());
    QCOMPARE(message.message->from, QStringLiteral("Alice Example <alice@example.com>"));
    QCOMPARE(message.message->to, QStringLiteral("Bob <bob@example.com>"));
    QCOMPARE(message.message->cc, QStringLiteral("Carol <carol@example.com>"));
    QCOMPARE(message.message->date, QStringLiteral("2024-01-02T09:00:00Z"));
    QCOMPARE(message.message->messageId, QStringLiteral("q1@example.com"));
    const nw::store::PageRecord body = m_store->requirePage(message.id, 1);
    QVERIFY(body.text.startsWith(QStringLiteral("From: Alice Example <alice@example.com>\nTo: Bob")));
    QVERIFY(body.text.contains(QStringLiteral("warehouse lease")));
    QVERIFY(!body.text.contains(QStringLiteral("should not be used")));
    QCOMPARE(body.firstParagraph, 1);

    const std::vector<nw::store::DocumentInfo> attachments = m_store->attachments(message.id);
    QCOMPARE(attachments.size(), std::size_t(3));
    QCOMPARE(attachments[0].kind, QStringLiteral("pdf"));
    QCOMPARE(attachments[0].title, QStringLiteral("report.pdf"));
    QCOMPARE(attachments[0].part, QStringLiteral("attachment report.pdf of “Quarterly numbers”"));
    QCOMPARE(attachments[0].pageCount, 2);
    QCOMPARE(attachments[0].fileSha256, message.sha256);
    QCOMPARE(attachments[1].kind, QStringLiteral("docx"));
    QCOMPARE(attachments[2].kind, QStringLiteral("email"));
    QCOMPARE(attachments[2].title, QStringLiteral("Original terms"));
    QCOMPARE(m_store->attachments(attachments[2].id).size(), std::size_t(1));
    // An attached PDF's word boxes were kept: its file is the message, which cannot be laid out.
    QVERIFY(!pageWordBoxes(*m_store, attachments[0].id, 1).empty());

    nw::store::SearchService search(*m_store);
    for (const auto &[query, id] : std::vector<std::pair<QString, std::int64_t>> {
             { QStringLiteral("eleven percent"), attachments[0].id }, { QStringLiteral("fourteen"), attachments[1].id },
             { QStringLiteral("penalty"), 0 }, { QStringLiteral("warehouse"), message.id } }) {
        const auto hits = search.search(query);
        QVERIFY2(hits.size() == 1 && (id == 0 || hits[0].documentId == id), qPrintable(query));
    }
    // Unchanged: present; the message removed takes its attachments with it.
    Ingestor again(*m_store);
    QCOMPARE(again.run({ path }).present, 1);
    QVERIFY(m_store->removeDocument(message.id));
    QCOMPARE(m_store->stats().documents, 0);
}

void TestMail::htmlOnlyBody()
{
    const QByteArray eml = headers(QStringLiteral("Newsletter"), QStringLiteral("n1@example.com"))
        + "Content-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
          "<html><body><h1>Caf=E9 news</h1><p>The caf=E9 opens at nine.</p><script>x()</script></body></html>\n";
    const ExtractedDocument doc = readEmail(eml, QStringLiteral("sha"), ReadOptions());
    QCOMPARE(doc.pages.size(), std::size_t(1));
    QVERIFY2(doc.pages[0].text.endsWith(QStringLiteral("Café news\n\nThe café opens at nine.")),
        qPrintable(doc.pages[0].text));
}

void TestMail::badMail_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("problem"); // -1: the file goes in, with a line about a part
    QTest::addColumn<QString>("reasonWord");
    QTest::addRow("not a message") << "junk.eml" << QByteArray("\x01\x02 no headers at all\n\x7f", 22)
                                   << int(IngestProblem::Corrupt) << "not an email";
    QByteArray nested = plainMessage(QStringLiteral("level 0"), QStringLiteral("l0@x"), QStringLiteral("deepest"));
    for (int level = 1; level <= 12; ++level)
        nested = mimeMessage(headers(QStringLiteral("level %1").arg(level), QStringLiteral("l%1@x").arg(level)),
            QStringLiteral("wrapper"), {}, { { {}, {}, nested, true } }, "b" + QByteArray::number(level));
    QTest::addRow("messages nested too deep") << "nested.eml" << nested << int(IngestProblem::TooDeep) << "levels deep";
    QTemporaryDir dir;
    const QString plainPdf = dir.filePath(QStringLiteral("plain.pdf"));
    const QString lockedPdf = dir.filePath(QStringLiteral("locked.pdf"));
    QVERIFY(nw::test::writeTextPdf(plainPdf, { "secret figures" }));
    QVERIFY2(nw::test::encryptWithQpdf(plainPdf, lockedPdf), "qpdf (Debian package qpdf) is needed");
    QTest::addRow("encrypted attachment")
        << "locked.eml"
        << mimeMessage(headers(QStringLiteral("Locked"), QStringLiteral("lk@x")),
               QStringLiteral("The figures are attached."), {},
               { { QStringLiteral("figures.pdf"), "application/pdf", nw::test::readBytes(lockedPdf) } })
        << -1 << "attachment figures.pdf of “Locked”: the PDF is encrypted";
    const QByteArray whole = mimeMessage(headers(QStringLiteral("Cut short"), QStringLiteral("cut@x")),
        QStringLiteral("Body before the cut."), {},
        { { QStringLiteral("report.pdf"), "application/pdf", pdfBytes({ "never seen" }) } });
    // fuzz_mail: a PDF part with headers and no body decodes to no bytes at all, which
    // PdfDocument::openData() took for "read the file" and aborted on (the whole ingest died).
    const QByteArray noBody = headers(QStringLiteral("Odd"), QStringLiteral("odd@x"))
        + "Content-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nSee the PDF.\n--B\n"
          "Content-Type: application/pdf; name=\"x.pdf\"\n--B--\n";
    QTest::addRow("attachment without a body")
        << "no-body.eml" << noBody << -1 << "attachment x.pdf of “Odd”: not a PDF";
    QTest::addRow("truncated multipart") << "cut.eml"
                                         << whole.left(whole.indexOf("Content-Transfer-Encoding: base64") + 200) << -1
                                         << "attachment report.pdf";
}

void TestMail::badMail()
{
    QFETCH(QString, name);
    QFETCH(QByteArray, bytes);
    QFETCH(int, problem);
    QFETCH(QString, reasonWord);
    const QString bad = file(name);
    const QString good = file(QStringLiteral("good.eml"));
    QVERIFY(nw::test::writeBytes(bad, bytes));
    QVERIFY(nw::test::writeBytes(
        good, plainMessage(QStringLiteral("Fine"), QStringLiteral("fine@x"), QStringLiteral("All is well."))));
    Ingestor ingestor(*m_store);
    const IngestSummary summary = ingestor.run({ bad, good });
    QCOMPARE(summary.files[1].status, FileStatus::Added);
    const FileOutcome &outcome = summary.files[0];
    if (problem >= 0) {
        QCOMPARE(outcome.status, FileStatus::Failed);
        QCOMPARE(int(*outcome.problem), problem);
        QVERIFY2(
            outcome.reason.contains(reasonWord, Qt::CaseInsensitive) && !outcome.reason.contains(QLatin1Char('\n')),
            qPrintable(outcome.reason));
        QCOMPARE(m_store->stats().documents, 1);
        return;
    }
    // The message goes in; the part that could not be read is one line, also in the errors.
    QCOMPARE(outcome.status, FileStatus::Added);
    QVERIFY2(std::any_of(outcome.partProblems.begin(), outcome.partProblems.end(),
                 [&](const QString &line) { return line.contains(reasonWord) && !line.contains(QLatin1Char('\n')); }),
        qPrintable(outcome.partProblems.join(QLatin1Char('|'))));
    const auto errors = m_store->ingestErrors();
    QCOMPARE(errors.size(), std::size_t(outcome.partProblems.size()));
    QVERIFY(std::any_of(errors.begin(), errors.end(), [&](const nw::store::IngestErrorRecord &e) {
        return e.path.startsWith(bad + QStringLiteral(" › attachment"));
    }));
    // Ingesting it again (after a change) clears the old line with the file's.
    QVERIFY(nw::test::writeBytes(
        bad, plainMessage(QStringLiteral("Fixed"), QStringLiteral("fixed@x"), QStringLiteral("Now readable."))));
    Ingestor again(*m_store);
    QCOMPARE(again.run({ bad }).replaced, 1);
    QCOMPARE(m_store->ingestErrors().size(), std::size_t(0));
}

// A reply names only the message it answers (no References): it joins the thread of that one.
void TestMail::threadsByReplies()
{
    const QString path = file(QStringLiteral("thread.mbox"));
    QVERIFY(nw::test::writeBytes(path,
        mbox({ plainMessage(QStringLiteral("Lease renewal"), QStringLiteral("a@x"), QStringLiteral("Shall we renew?")),
            plainMessage(QStringLiteral("Re: Lease renewal"), QStringLiteral("b@x"), QStringLiteral("Yes."),
                QStringLiteral("a@x")),
            plainMessage(QStringLiteral("Other"), QStringLiteral("c@x"),
                QStringLiteral("Unrelated.\n>From the archive: a quoted line.")),
            plainMessage(QStringLiteral("Re: Re: Lease renewal"), QStringLiteral("d@x"), QStringLiteral("Signed."),
                QStringLiteral("b@x")) })));
    Ingestor ingestor(*m_store);
    const IngestSummary summary = ingestor.run({ path });
    QCOMPARE(summary.added, 1);
    QCOMPARE(summary.files[0].documents, 4);
    const std::vector<nw::store::DocumentInfo> thread = m_store->thread(QStringLiteral("a@x"));
    QCOMPARE(thread.size(), std::size_t(3));
    QCOMPARE(thread[2].title, QStringLiteral("Re: Re: Lease renewal"));
    QCOMPARE(thread[0].part, QStringLiteral("message 1"));
    QCOMPARE(thread[2].part, QStringLiteral("message 4"));
    const nw::store::DocumentInfo other = m_store->findDocumentsByPath(path)[2];
    QCOMPARE(other.message->threadId, QStringLiteral("c@x"));
    QVERIFY(m_store->requirePage(other.id, 1)
                .text.contains(QStringLiteral("\nFrom the archive"))); // mboxrd's ">From " unescaped
}

// Stopped after its first batch: what was written stays; the next run reads only the rest; the
// run after that finds the mailbox complete and does not read it.
void TestMail::mailboxResumesAfterAStop()
{
    QList<QByteArray> messages;
    for (int i = 1; i <= 400; ++i)
        messages << plainMessage(QStringLiteral("Note %1").arg(i), QStringLiteral("n%1@x").arg(i),
            QStringLiteral("Body of note number %1 about topic%1.").arg(i));
    const QString path = file(QStringLiteral("notes.mbox"));
    QVERIFY(nw::test::writeBytes(path, mbox(messages)));
    IngestOptions options;
    options.batchPages = 50;
    {
        Ingestor ingestor(*m_store, options);
        ingestor.setProgressCallback(
            [&](const IngestProgress &p) {
                if (p.pagesStored > 0)
                    ingestor.cancel();
            },
            1);
        const IngestSummary summary = ingestor.run({ path });
        QVERIFY(summary.cancelled);
        QCOMPARE(summary.files[0].status, FileStatus::NotDone);
    }
    const int first = m_store->stats().documents;
    QVERIFY2(first > 0 && first < 400, qPrintable(QString::number(first)));
    Ingestor again(*m_store, options);
    const IngestSummary summary = again.run({ path });
    QCOMPARE(summary.files[0].status, FileStatus::Added);
    QCOMPARE(summary.files[0].documents, 400 - first);
    QCOMPARE(m_store->stats().documents, 400);
    QCOMPARE(
        m_store->database().queryInt("SELECT count(DISTINCT sha256) FROM documents"), std::optional<std::int64_t>(400));
    Ingestor third(*m_store, options);
    QCOMPARE(third.run({ path }).present, 1);
    nw::store::SearchService search(*m_store);
    QCOMPARE(search.search(QStringLiteral("topic400")).size(), std::size_t(1));
}

void TestMail::mailboxChangedOrUnchanged()
{
    const QString path = file(QStringLiteral("box.mbox"));
    QList<QByteArray> messages = { plainMessage(QStringLiteral("One"), QStringLiteral("1@x"), QStringLiteral("first")),
        plainMessage(QStringLiteral("Two"), QStringLiteral("2@x"), QStringLiteral("second")) };
    QVERIFY(nw::test::writeBytes(path, mbox(messages)));
    {
        Ingestor ingestor(*m_store);
        QCOMPARE(ingestor.run({ path }).added, 1);
    }
    messages << plainMessage(QStringLiteral("Three"), QStringLiteral("3@x"), QStringLiteral("third"));
    QVERIFY(nw::test::writeBytes(path, mbox(messages))); // new mail arrived
    Ingestor ingestor(*m_store);
    const IngestSummary summary = ingestor.run({ path });
    QCOMPARE(summary.replaced, 1);
    QCOMPARE(m_store->stats().documents, 3);
    QCOMPARE(m_store->database().queryInt("SELECT count(*) FROM container_files"), std::optional<std::int64_t>(1));
    // Too large for the limit: one line.
    IngestOptions small;
    small.maxMailboxBytes = 100;
    Ingestor limited(*m_store, small);
    const IngestSummary refused = limited.run({ path });
    QCOMPARE(refused.failed, 1);
    QCOMPARE(*refused.files[0].problem, IngestProblem::TooLarge);
}

QTEST_MAIN(TestMail)
#include "tst_mail.moc"
