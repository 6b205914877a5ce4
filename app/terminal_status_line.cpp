#include "app/terminal_status_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

namespace nw::app {

TerminalSize terminalSize()
{
    winsize ws{};
    if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row < 2)
        return {};
    return {ws.ws_row, ws.ws_col};
}

TerminalStatusLine::TerminalStatusLine(QTextStream &out, bool pinned, TerminalSize (*sizeOf)())
    : m_out(out), m_pinned(pinned), m_sizeOf(sizeOf)
{
    if (m_pinned && m_sizeOf().rows < 2)
        m_pinned = false; // a terminal too small (or not one at all): plain lines instead
}

TerminalStatusLine::~TerminalStatusLine()
{
    if (!m_pinned || m_reserved.rows == 0)
        return;
    // Whole screen scrolls again; the status row is cleared and the cursor stays where text was.
    m_out << "\x1b" "7" << "\x1b[r" << "\x1b[" << m_reserved.rows << ";1H\x1b[2K" << "\x1b" "8";
    m_out.flush();
}

void TerminalStatusLine::reserve(TerminalSize size)
{
    // Scroll the text area up by one line first, so the cursor's line is not hidden under the
    // status row when the region shrinks (the cursor is restored one row up).
    if (m_reserved.rows == 0)
        m_out << "\n\x1b[A";
    m_out << "\x1b" "7" << "\x1b[1;" << (size.rows - 1) << 'r' << "\x1b" "8";
    m_reserved = size;
}

void TerminalStatusLine::show(const QString &text)
{
    if (!m_pinned)
        return;
    const TerminalSize size = m_sizeOf();
    if (size.rows < 2)
        return;
    if (size.rows != m_reserved.rows || size.columns != m_reserved.columns)
        reserve(size);
    // One row only: longer text is cut (a wrapped status line would scroll the screen).
    QString shown = text;
    if (size.columns > 1 && shown.size() >= size.columns)
        shown = shown.left(size.columns - 2) + QChar(0x2026);
    m_out << "\x1b" "7" << "\x1b[" << size.rows << ";1H\x1b[2K\x1b[7m" << shown << "\x1b[0m" << "\x1b" "8";
    m_out.flush();
    m_lastDraw = std::chrono::steady_clock::now();
}

void TerminalStatusLine::showThrottled(const QString &text, std::chrono::milliseconds interval)
{
    if (std::chrono::steady_clock::now() - m_lastDraw >= interval)
        show(text);
}

void TerminalStatusLine::printPlain(const QString &text)
{
    if (m_pinned) {
        show(text);
        return;
    }
    m_out << text << '\n';
    m_out.flush();
}

} // namespace nw::app
