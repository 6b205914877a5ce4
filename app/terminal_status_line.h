// A status line pinned to the bottom row of the terminal while text scrolls above it, as the
// chat's "KV used / reserved · saving · context · tok/s" line. It sets the scrolling region to
// rows 1..N-1 (DECSTBM, "CSI top;bottom r") and draws the last row with the cursor saved and
// restored around it (DECSC/DECRC, "ESC 7" / "ESC 8"), so streamed answers and the line editor
// are never disturbed. Off a terminal it prints nothing while running and one plain line on
// demand (printPlain), so piped output stays clean.
#pragma once

#include <QString>
#include <QTextStream>

#include <chrono>

namespace nw::app {

struct TerminalSize {
    int rows = 0;
    int columns = 0;
};

// The size of the terminal on stdout; rows == 0 when stdout is not a terminal.
TerminalSize terminalSize();

class TerminalStatusLine {
public:
    // `size` is read again on every update (a resized window moves the line) unless fixed here.
    TerminalStatusLine(QTextStream &out, bool pinned, TerminalSize (*sizeOf)() = terminalSize);
    ~TerminalStatusLine(); // gives the whole screen back to scrolling and clears the line
    TerminalStatusLine(const TerminalStatusLine &) = delete;
    TerminalStatusLine &operator=(const TerminalStatusLine &) = delete;

    bool pinned() const { return m_pinned; }
    // Redraws the pinned line now (no-op off a terminal).
    void show(const QString &text);
    // Like show(), at most every `interval` (for per-token updates while an answer streams).
    void showThrottled(const QString &text, std::chrono::milliseconds interval = std::chrono::milliseconds(100));
    // Off a terminal: the text as a plain line of output. On one: show(text).
    void printPlain(const QString &text);

private:
    void reserve(TerminalSize size);

    QTextStream &m_out;
    bool m_pinned;
    TerminalSize (*m_sizeOf)();
    TerminalSize m_reserved{};
    std::chrono::steady_clock::time_point m_lastDraw{};
};

} // namespace nw::app
