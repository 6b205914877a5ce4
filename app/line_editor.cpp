// Raw-mode line editing with VT100 escape sequences (ECMA-48 CSI: "\x1b[K" erases to the end
// of the line, "\x1b[<n>D" moves the cursor left).
#include "app/line_editor.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace nw::app {
namespace {

// Restores the terminal when it goes out of scope, whatever happens while reading.
class RawMode {
public:
    RawMode()
    {
        if (tcgetattr(STDIN_FILENO, &m_saved) != 0)
            return;
        termios raw = m_saved;
        raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ICANON | ISIG | IEXTEN);
        raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        m_ok = tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
    }
    ~RawMode()
    {
        if (m_ok)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &m_saved);
    }
    bool ok() const { return m_ok; }

private:
    termios m_saved{};
    bool m_ok = false;
};

int readByte()
{
    unsigned char c = 0;
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    return n == 1 ? c : -1;
}

void write(const std::string &text)
{
    if (::write(STDOUT_FILENO, text.data(), text.size()) < 0) {
        // Nothing useful to do when the terminal is gone; the read that follows ends the chat.
    }
}

// Bytes of the UTF-8 character that ends before `pos` / starts at `pos`.
std::size_t prevChar(const std::string &s, std::size_t pos)
{
    std::size_t p = pos;
    while (p > 0) {
        --p;
        if ((static_cast<unsigned char>(s[p]) & 0xC0) != 0x80)
            break;
    }
    return pos - p;
}

std::size_t nextChar(const std::string &s, std::size_t pos)
{
    std::size_t p = pos + 1;
    while (p < s.size() && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80)
        ++p;
    return p - pos;
}

} // namespace

LineEditor::LineEditor() : m_interactive(isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {}
LineEditor::~LineEditor() = default;

void LineEditor::addHistory(const std::string &line)
{
    if (line.empty() || (!m_history.empty() && m_history.back() == line))
        return;
    m_history.push_back(line);
}

std::optional<std::string> LineEditor::readLine(const std::string &prompt)
{
    if (m_interactive) {
        if (auto line = readRaw(prompt))
            return line;
        return std::nullopt;
    }
    std::cout << prompt << std::flush;
    std::string line;
    if (!std::getline(std::cin, line))
        return std::nullopt;
    return line;
}

std::size_t LineBuffer::columnsAfterCursor() const
{
    std::size_t n = 0;
    for (std::size_t i = m_cursor; i < m_line.size(); ++i)
        if ((static_cast<unsigned char>(m_line[i]) & 0xC0) != 0x80)
            ++n;
    return n;
}

void LineBuffer::browseHistory(bool older)
{
    if (m_history.empty())
        return;
    if (m_historyIndex == m_history.size())
        m_draft = m_line;
    if (older && m_historyIndex > 0)
        --m_historyIndex;
    else if (!older && m_historyIndex < m_history.size())
        ++m_historyIndex;
    m_line = m_historyIndex == m_history.size() ? m_draft : m_history[m_historyIndex];
    m_cursor = m_line.size();
}

// After ESC: "[" or "O", then a final letter (arrows, Home/End) or digits and "~" (Delete,
// Home/End on some terminals). Unknown sequences are swallowed.
LineBuffer::Event LineBuffer::escape(unsigned char byte)
{
    m_escape.push_back(static_cast<char>(byte));
    if (m_escape.size() == 1) {
        if (byte != '[' && byte != 'O')
            m_inEscape = false;
        return Event::Edited;
    }
    if (byte >= '0' && byte <= '9' && m_escape.size() < 6)
        return Event::Edited; // a numeric parameter: wait for its final byte
    m_inEscape = false;
    const std::string body = m_escape.substr(1);
    if (body == "D" && m_cursor > 0)
        m_cursor -= prevChar(m_line, m_cursor);
    else if (body == "C" && m_cursor < m_line.size())
        m_cursor += nextChar(m_line, m_cursor);
    else if (body == "H" || body == "1~" || body == "7~")
        m_cursor = 0;
    else if (body == "F" || body == "4~" || body == "8~")
        m_cursor = m_line.size();
    else if (body == "A" || body == "B")
        browseHistory(body == "A");
    else if (body == "3~" && m_cursor < m_line.size())
        m_line.erase(m_cursor, nextChar(m_line, m_cursor));
    return Event::Edited;
}

LineBuffer::Event LineBuffer::feed(unsigned char c)
{
    if (m_inEscape)
        return escape(c);
    switch (c) {
    case '\r':
    case '\n':
        return Event::Submit;
    case 3: // Ctrl-C: drop the line, keep the session
        m_line.clear();
        m_cursor = 0;
        m_historyIndex = m_history.size();
        return Event::Cancel;
    case 4: // Ctrl-D: end of input on an empty line, else delete forward
        if (m_line.empty())
            return Event::End;
        if (m_cursor < m_line.size())
            m_line.erase(m_cursor, nextChar(m_line, m_cursor));
        break;
    case 127:
    case 8: // Backspace
        if (m_cursor > 0) {
            const std::size_t n = prevChar(m_line, m_cursor);
            m_line.erase(m_cursor - n, n);
            m_cursor -= n;
        }
        break;
    case 1: m_cursor = 0; break;              // Ctrl-A
    case 5: m_cursor = m_line.size(); break;  // Ctrl-E
    case 11: m_line.erase(m_cursor); break;   // Ctrl-K
    case 21:                                  // Ctrl-U
        m_line.erase(0, m_cursor);
        m_cursor = 0;
        break;
    case 23: { // Ctrl-W: the word before the cursor
        std::size_t p = m_cursor;
        while (p > 0 && m_line[p - 1] == ' ')
            --p;
        while (p > 0 && m_line[p - 1] != ' ')
            --p;
        m_line.erase(p, m_cursor - p);
        m_cursor = p;
        break;
    }
    case 27:
        m_inEscape = true;
        m_escape.clear();
        break;
    default:
        if (c >= 32) { // printable ASCII and every byte of a UTF-8 sequence
            m_line.insert(m_cursor, 1, static_cast<char>(c));
            ++m_cursor;
        }
        break;
    }
    return Event::Edited;
}

std::optional<std::string> LineEditor::readRaw(const std::string &prompt)
{
    RawMode raw;
    if (!raw.ok()) {
        m_interactive = false;
        return readLine(prompt);
    }
    LineBuffer buffer(m_history);
    const auto refresh = [&] {
        std::string out = "\r" + prompt + buffer.line() + "\x1b[K";
        if (const std::size_t back = buffer.columnsAfterCursor(); back > 0)
            out += "\x1b[" + std::to_string(back) + "D";
        write(out);
    };
    refresh();
    while (true) {
        const int c = readByte();
        if (c < 0)
            return std::nullopt;
        switch (buffer.feed(static_cast<unsigned char>(c))) {
        case LineBuffer::Event::Submit:
            write("\r\n");
            return buffer.line();
        case LineBuffer::Event::End:
            write("\r\n");
            return std::nullopt;
        case LineBuffer::Event::Cancel:
            write("^C\r\n");
            break;
        case LineBuffer::Event::Edited:
            break;
        }
        refresh();
    }
}

} // namespace nw::app
