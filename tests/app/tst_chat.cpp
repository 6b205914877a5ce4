// `needlework chat` end to end, as a script drives it (stdin is a pipe): the sample library
// made by `needlework demo`, then /help, /docs, /mode, a question answered with citations to
// the right page, /save, errors that do not end the chat, and the session left in the database.
#include "cli_process.h"
#include "store/library_store.h"
#include "store/session_store.h"
#include "tests/support/conformance_qt.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

class TestChat : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void scriptedChat();
    void endOfInputEndsCleanly();
    void defaultContextAndCtxCommand(); // with stories260K

private:
    nw::test::CliResult run(const QStringList &args, const QByteArray &input = {}) const
    {
        return m_cli.run(args, input, m_dir.path());
    }

    QTemporaryDir m_dir;
    nw::test::NeedleworkCli m_cli { m_dir.filePath(QStringLiteral("home")) };
    QString m_db;
};

void TestChat::initTestCase()
{
    QVERIFY2(m_cli.isBuilt(), qPrintable(m_cli.missingMessage()));
    m_db = m_dir.filePath(QStringLiteral("chat.sqlite"));
    const nw::test::CliResult demo = run({ QStringLiteral("demo"), QStringLiteral("--db"), m_db,
        QStringLiteral("--samples"), m_dir.filePath(QStringLiteral("pdf")) });
    QVERIFY2(demo.code == 0, qPrintable(demo.errText()));
}

void TestChat::scriptedChat()
{
    const QString saved = m_dir.filePath(QStringLiteral("transcript.md"));
    const QByteArray script = "/help\n"
                              "/docs\n"
                              "/mode sideways\n"
                              "/mode retrieve\n"
                              "/kv mla\n"
                              "/bogus\n"
                              "\n"
                              "What happens to patent licenses if I institute patent litigation?\n"
                              "/save /dev/full\n"
                              "/save "
        + saved.toUtf8()
        + "\n"
          "/quit\n"
          "this line is never read\n";
    const nw::test::CliResult r = run({ QStringLiteral("chat"), QStringLiteral("--db"), m_db }, script);
    QCOMPARE(r.code, 0);
    const QString out = r.outText();
    // Piped: no escape sequences at all, and the status line as a plain line.
    QVERIFY2(!out.contains(QChar(0x1b)), qPrintable(out));
    QVERIFY2(out.contains(QStringLiteral("— 7 documents")), qPrintable(out));
    QVERIFY(out.contains(QStringLiteral("[extractive answers, no model · /help]")));
    QVERIFY(out.contains(QStringLiteral("/kv MODE"))); // /help
    QVERIFY(out.contains(QStringLiteral("Apache License"))); // /docs lists the sample
    QVERIFY(out.contains(QStringLiteral("error: unknown mode 'sideways'"))); // a bad command: the chat goes on
    QVERIFY(out.contains(QStringLiteral("mode: retrieve")));
    QVERIFY(out.contains(QStringLiteral("error: no model is loaded"))); // /kv without --model
    QVERIFY(out.contains(QStringLiteral("unknown command /bogus")));
    // The answer cites Apache-2.0's patent clause (§3), the page tst_retrieval pins.
    QVERIFY2(out.contains(QStringLiteral("If You institute patent litigation")), qPrintable(out));
    QVERIFY(out.contains(QStringLiteral("§3. Grant of Patent License")));
    QVERIFY(out.contains(QStringLiteral("saved session ")));
    // A save that cannot be written says so (app/output_file.h) and the chat goes on.
    QVERIFY2(out.contains(QStringLiteral("error: cannot write /dev/full: No space left on device")), qPrintable(out));
    QVERIFY(!out.contains(QStringLiteral("never read")));
    QVERIFY2(r.errText().contains(QStringLiteral("needlework sessions show")), qPrintable(r.errText()));

    QFile transcript(saved);
    QVERIFY(transcript.open(QIODevice::ReadOnly));
    const QString md = QString::fromUtf8(transcript.readAll());
    QVERIFY(md.contains(QStringLiteral("What happens to patent licenses if I institute patent litigation?")));
    QVERIFY(md.contains(QStringLiteral("Grant of Patent License")));

    // The turn is in the database too, with its citation.
    nw::store::LibraryStore library(m_db);
    nw::store::SessionStore sessions(library.database());
    const auto list = sessions.sessions();
    QVERIFY(!list.empty()); // the demo's session and the chat's, the most recent first
    const auto turns = sessions.turns(list.front().id);
    QCOMPARE(turns.size(), std::size_t(1));
    QCOMPARE(turns[0].question, QStringLiteral("What happens to patent licenses if I institute patent litigation?"));
    QCOMPARE(turns[0].mode, QStringLiteral("retrieve"));
    QVERIFY(turns[0].citationsJson.contains(QStringLiteral("Grant of Patent License")));
}

void TestChat::endOfInputEndsCleanly()
{
    // Nothing asked: no session is created, the chat says nothing about one.
    const nw::test::CliResult r = run({ QStringLiteral("chat"), QStringLiteral("--db"), m_db }, QByteArray());
    QCOMPARE(r.code, 0);
    QVERIFY(!r.errText().contains(QStringLiteral("saved")));
    // /save before any question is an error line, not the end.
    const nw::test::CliResult early = run({ QStringLiteral("chat"), QStringLiteral("--db"), m_db }, "/save\n/help\n");
    QCOMPARE(early.code, 0);
    QVERIFY(early.outText().contains(QStringLiteral("error: nothing to save yet")));
    QVERIFY(early.outText().contains(QStringLiteral("/kv MODE")));
}

// stories260K was trained on 128 tokens, less than a prompt with a source needs: on the defaults
// the chat still answers (the workbench's context policy), /ctx changes the context without a
// restart, and a context too small for even the best source says so and how to fix it in the chat.
void TestChat::defaultContextAndCtxCommand()
{
    const QString model = nw::test::findStories260K();
    if (model.isEmpty())
        QSKIP("no conformance models (../shared/conformance/models/stories260K.gguf)");
    const QByteArray script = "What happens to patent licenses if I institute patent litigation?\n"
                              "/ctx 2k\n"
                              "/ctx lots\n"
                              "/ctx 64\n"
                              "What happens to patent licenses if I institute patent litigation?\n"
                              "/ctx auto\n";
    const nw::test::CliResult r
        = run({ QStringLiteral("chat"), QStringLiteral("--db"), m_db, QStringLiteral("--model"), model }, script);
    QCOMPARE(r.code, 0);
    const QString out = r.outText();
    QVERIFY2(!out.contains(QStringLiteral("error: the prompt")), qPrintable(out)); // the default context holds it
    QVERIFY2(out.contains(QStringLiteral("/1024 tokens")), qPrintable(out)); // the status line's context
    QVERIFY2(out.contains(QStringLiteral("/2048 tokens")), qPrintable(out)); // after /ctx 2k
    QVERIFY2(out.contains(QStringLiteral("error: /ctx needs a token count")), qPrintable(out));
    QVERIFY2(out.contains(QStringLiteral("/64 tokens")), qPrintable(out));
    QVERIFY2(out.contains(QStringLiteral("error: the best source alone"))
            && out.contains(QStringLiteral("(raise it with /ctx N)")),
        qPrintable(out));
    QCOMPARE(out.count(QStringLiteral("/1024 tokens")), 3); // the start, the first answer, /ctx auto

    // ask on the defaults answers too (it failed: "the prompt has 232 tokens but the context holds 128").
    const nw::test::CliResult asked = run(
        { QStringLiteral("ask"), QStringLiteral("What happens to patent licenses if I institute patent litigation?"),
            QStringLiteral("--db"), m_db, QStringLiteral("--model"), model, QStringLiteral("--max-tokens"),
            QStringLiteral("8"), QStringLiteral("--json") });
    QVERIFY2(asked.code == 0, qPrintable(asked.errText()));
    const QJsonObject json = QJsonDocument::fromJson(asked.out).object();
    QCOMPARE(json.value(QStringLiteral("extractive")).toBool(), false);
    const QJsonObject used = json.value(QStringLiteral("model")).toObject();
    QCOMPARE(used.value(QStringLiteral("context_tokens")).toInt(), 1024); // the workbench's default, as the window's
    QVERIFY2(used.value(QStringLiteral("sources")).toInt() >= 1, asked.out.constData());
}

QTEST_GUILESS_MAIN(TestChat)
#include "tst_chat.moc"
