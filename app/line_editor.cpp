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

std::size_t columns(const std::string &s, std::size_t from, std::size_t to)
{
    std::size_t n = 0;
    for (std::size_t i = from; i < to; ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80)
            ++n;
    return n;
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

void LineEditor::refresh(const std::string &prompt, const std::string &line, std::size_t cursor) const
{
    std::string out = "\r" + prompt + line + "\x1b[K";
    const std::size_t back = columns(line, cursor, line.size());
    if (back > 0)
        out += "\x1b[" + std::to_string(back) + "D";
    write(out);
}

std::optional<std::string> LineEditor::readRaw(const std::string &prompt)
{
    RawMode raw;
    if (!raw.ok()) {
        m_interactive = false;
        return readLine(prompt);
    }
    std::string line;
    std::size_t cursor = 0;
    std::size_t historyIndex = m_history.size();
    std::string draft; // the line being typed, kept while browsing history
    refresh(prompt, line, cursor);
    while (true) {
        const int c = readByte();
        if (c < 0)
            return std::nullopt;
        switch (c) {
        case '\r':
        case '\n':
            write("\r\n");
            return line;
        case 3: // Ctrl-C: drop the line, keep the session
            write("^C\r\n");
            line.clear();
            cursor = 0;
            break;
        case 4: // Ctrl-D: end of input on an empty line, else delete forward
            if (line.empty()) {
                write("\r\n");
                return std::nullopt;
            }
            if (cursor < line.size())
                line.erase(cursor, nextChar(line, cursor));
            break;
        case 127:
        case 8: // Backspace
            if (cursor > 0) {
                const std::size_t n = prevChar(line, cursor);
                line.erase(cursor - n, n);
                cursor -= n;
            }
            break;
        case 1: cursor = 0; break;            // Ctrl-A
        case 5: cursor = line.size(); break;  // Ctrl-E
        case 11: line.erase(cursor); break;   // Ctrl-K
        case 21:                              // Ctrl-U
            line.erase(0, cursor);
            cursor = 0;
            break;
        case 23: { // Ctrl-W: the word before the cursor
            std::size_t p = cursor;
            while (p > 0 && line[p - 1] == ' ')
                --p;
            while (p > 0 && line[p - 1] != ' ')
                --p;
            line.erase(p, cursor - p);
            cursor = p;
            break;
        }
        case 27: { // escape sequences: arrows, Home/End, Delete
            const int a = readByte();
            const int b = readByte();
            if (a != '[' && a != 'O')
                break;
            if (b == 'D' && cursor > 0)
                cursor -= prevChar(line, cursor);
            else if (b == 'C' && cursor < line.size())
                cursor += nextChar(line, cursor);
            else if (b == 'H')
                cursor = 0;
            else if (b == 'F')
                cursor = line.size();
            else if ((b == 'A' || b == 'B') && !m_history.empty()) {
                if (historyIndex == m_history.size())
                    draft = line;
                if (b == 'A' && historyIndex > 0)
                    --historyIndex;
                else if (b == 'B' && historyIndex < m_history.size())
                    ++historyIndex;
                line = historyIndex == m_history.size() ? draft : m_history[historyIndex];
                cursor = line.size();
            } else if (b >= '0' && b <= '9') {
                const int tilde = readByte();
                if (tilde == '~' && b == '3' && cursor < line.size())
                    line.erase(cursor, nextChar(line, cursor));
                else if (tilde == '~' && (b == '1' || b == '7'))
                    cursor = 0;
                else if (tilde == '~' && (b == '4' || b == '8'))
                    cursor = line.size();
            }
            break;
        }
        default:
            if (c >= 32) {
                line.insert(cursor, 1, static_cast<char>(c));
                ++cursor;
            }
            break;
        }
        refresh(prompt, line, cursor);
    }
}

} // namespace nw::app
