// The chat's line editing (LineBuffer fed byte by byte as a terminal sends them) and the pinned
// status line (the exact VT100/ECMA-48 sequences it writes for a given terminal size).
#include "app/line_editor.h"
#include "app/terminal_status_line.h"

#include <QTest>

using namespace nw::app;

namespace {

// Feeds `keys` and returns the last event.
LineBuffer::Event type(LineBuffer &buffer, const std::string &keys)
{
    LineBuffer::Event last = LineBuffer::Event::Edited;
    for (const char c : keys)
        last = buffer.feed(static_cast<unsigned char>(c));
    return last;
}

TerminalSize terminal24x40() { return {24, 40}; }

} // namespace

class TestLineEditor : public QObject {
    Q_OBJECT
private slots:
    void editing_data();
    void editing();
    void historyKeepsTheDraft();
    void submitCancelEnd();
    void utf8CursorMovesByCharacter();
    void statusLinePinnedSequences();
    void statusLineCutToWidthAndFollowsResize();
    void statusLineOffTerminalIsPlain();
};

void TestLineEditor::editing_data()
{
    QTest::addColumn<QByteArray>("keys");
    QTest::addColumn<QString>("line");
    QTest::addColumn<int>("cursor");
    QTest::addRow("plain") << QByteArray("hello") << "hello" << 5;
    QTest::addRow("left arrow, insert") << QByteArray("helo\x1b[Dl") << "hello" << 4;
    QTest::addRow("SS3 arrows") << QByteArray("ab\x1bODX") << "aXb" << 2;
    QTest::addRow("backspace") << QByteArray("abc\x7f\x7f") << "a" << 1;
    QTest::addRow("ctrl-a then type") << QByteArray("world\x01hello ") << "hello world" << 6;
    QTest::addRow("ctrl-e") << QByteArray("ab\x01\x05" "c") << "abc" << 3;
    QTest::addRow("ctrl-k") << QByteArray("abcdef\x1b[D\x1b[D\x1b[D\x0b") << "abc" << 3;
    QTest::addRow("ctrl-u") << QByteArray("abc def\x1b[D\x1b[D\x15") << "ef" << 0;
    QTest::addRow("ctrl-w") << QByteArray("one two  \x17") << "one " << 4;
    QTest::addRow("home/end CSI H/F") << QByteArray("bc\x1b[Ha\x1b[Fd") << "abcd" << 4;
    QTest::addRow("home/end CSI 1~/4~") << QByteArray("bc\x1b[1~a\x1b[4~d") << "abcd" << 4;
    QTest::addRow("delete CSI 3~") << QByteArray("abc\x01\x1b[3~") << "bc" << 0;
    QTest::addRow("ctrl-d deletes forward") << QByteArray("abc\x01\x04") << "bc" << 0;
    QTest::addRow("unknown sequence swallowed") << QByteArray("a\x1b[15~b") << "ab" << 2;
    QTest::addRow("control bytes ignored") << QByteArray("a\x02\x07" "b") << "ab" << 2;
}

void TestLineEditor::editing()
{
    QFETCH(QByteArray, keys);
    QFETCH(QString, line);
    QFETCH(int, cursor);
    const std::vector<std::string> history;
    LineBuffer buffer(history);
    QCOMPARE(type(buffer, keys.toStdString()), LineBuffer::Event::Edited);
    QCOMPARE(QString::fromStdString(buffer.line()), line);
    QCOMPARE(int(buffer.cursor()), cursor);
}

void TestLineEditor::historyKeepsTheDraft()
{
    const std::vector<std::string> history{"first question", "second question"};
    LineBuffer buffer(history);
    type(buffer, "draft");
    type(buffer, "\x1b[A");
    QCOMPARE(buffer.line(), std::string("second question"));
    type(buffer, "\x1b[A\x1b[A"); // stays on the oldest
    QCOMPARE(buffer.line(), std::string("first question"));
    QCOMPARE(buffer.cursor(), buffer.line().size());
    type(buffer, "\x1b[B");
    QCOMPARE(buffer.line(), std::string("second question"));
    type(buffer, "\x1b[B");
    QCOMPARE(buffer.line(), std::string("draft"));
    type(buffer, "\x1b[B"); // nothing newer than the draft
    QCOMPARE(buffer.line(), std::string("draft"));
}

void TestLineEditor::submitCancelEnd()
{
    const std::vector<std::string> history;
    LineBuffer buffer(history);
    QCOMPARE(type(buffer, "what is\r"), LineBuffer::Event::Submit);
    QCOMPARE(buffer.line(), std::string("what is"));

    LineBuffer cancelled(history);
    QCOMPARE(type(cancelled, "oops\x03"), LineBuffer::Event::Cancel);
    QVERIFY(cancelled.line().empty());
    QCOMPARE(type(cancelled, "again\n"), LineBuffer::Event::Submit);
    QCOMPARE(cancelled.line(), std::string("again"));

    LineBuffer ended(history);
    QCOMPARE(type(ended, "\x04"), LineBuffer::Event::End);
}

void TestLineEditor::utf8CursorMovesByCharacter()
{
    const std::vector<std::string> history;
    LineBuffer buffer(history);
    type(buffer, "a\xc3\xa9\xe2\x82\xac"); // "aé€": 1 + 2 + 3 bytes
    QCOMPARE(buffer.cursor(), std::size_t(6));
    type(buffer, "\x1b[D");
    QCOMPARE(buffer.cursor(), std::size_t(3));
    QCOMPARE(buffer.columnsAfterCursor(), std::size_t(1));
    type(buffer, "\x1b[D");
    QCOMPARE(buffer.cursor(), std::size_t(1));
    QCOMPARE(buffer.columnsAfterCursor(), std::size_t(2));
    type(buffer, "\x7f"); // deletes "a"
    QCOMPARE(buffer.line(), std::string("\xc3\xa9\xe2\x82\xac"));
    type(buffer, "\x1b[3~"); // deletes the two-byte "é"
    QCOMPARE(buffer.line(), std::string("\xe2\x82\xac"));
}

void TestLineEditor::statusLinePinnedSequences()
{
    QString text;
    {
        QTextStream out(&text);
        TerminalStatusLine status(out, true, terminal24x40);
        QVERIFY(status.pinned());
        status.show(QStringLiteral("[KV 1 MiB]"));
        out.flush();
        // First draw: a fresh line for the text area, scrolling region rows 1..23 with the cursor
        // saved around it, then row 24 cleared and drawn in reverse video, cursor restored.
        QCOMPARE(text, QStringLiteral("\n\x1b[A\x1b" "7\x1b[1;23r\x1b" "8"
                                      "\x1b" "7\x1b[24;1H\x1b[2K\x1b[7m[KV 1 MiB]\x1b[0m\x1b" "8"));
        text.clear();
        status.show(QStringLiteral("[KV 2 MiB]")); // same size: no new region
        out.flush();
        QCOMPARE(text, QStringLiteral("\x1b" "7\x1b[24;1H\x1b[2K\x1b[7m[KV 2 MiB]\x1b[0m\x1b" "8"));
        text.clear();
    }
    // Destroyed: the whole screen scrolls again and the status row is wiped.
    QCOMPARE(text, QStringLiteral("\x1b" "7\x1b[r\x1b[24;1H\x1b[2K\x1b" "8"));
}

void TestLineEditor::statusLineCutToWidthAndFollowsResize()
{
    static TerminalSize size{24, 40};
    QString text;
    QTextStream out(&text);
    TerminalStatusLine status(out, true, [] { return size; });
    status.show(QString(60, QLatin1Char('x')));
    out.flush();
    // 40 columns: 38 characters and an ellipsis, so the row never wraps.
    QVERIFY2(text.contains(QString(38, QLatin1Char('x')) + QChar(0x2026) + QStringLiteral("\x1b[0m")), qPrintable(text));
    QVERIFY(!text.contains(QString(39, QLatin1Char('x'))));
    text.clear();
    size = {10, 80};
    status.show(QStringLiteral("resized"));
    out.flush();
    QCOMPARE(text, QStringLiteral("\x1b" "7\x1b[1;9r\x1b" "8\x1b" "7\x1b[10;1H\x1b[2K\x1b[7mresized\x1b[0m\x1b" "8"));
}

void TestLineEditor::statusLineOffTerminalIsPlain()
{
    QString text;
    QTextStream out(&text);
    TerminalStatusLine status(out, false, terminal24x40);
    QVERIFY(!status.pinned());
    status.show(QStringLiteral("not shown"));
    status.showThrottled(QStringLiteral("not shown either"));
    status.printPlain(QStringLiteral("[status]"));
    out.flush();
    QCOMPARE(text, QStringLiteral("[status]\n"));

    // "pinned" asked for, but the terminal has no room for a status row: plain lines.
    QString small;
    QTextStream smallOut(&small);
    TerminalStatusLine tiny(smallOut, true, [] { return TerminalSize{1, 80}; });
    QVERIFY(!tiny.pinned());
}

QTEST_GUILESS_MAIN(TestLineEditor)
#include "tst_line_editor.moc"
