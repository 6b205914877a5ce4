// A small line editor for the terminal chat: raw mode through termios, cursor movement,
// history (up/down), Ctrl-A/E/K/U/W, Ctrl-C clears the line, Ctrl-D on an empty line ends.
// When stdin is not a terminal it reads plain lines, so scripts can pipe questions in.
//
// The editing itself is LineBuffer, a plain state machine fed one byte at a time, so it can be
// tested without a terminal; LineEditor only moves bytes between it and the tty.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace nw::app {

class LineBuffer {
public:
    enum class Event {
        Edited,   // the line or cursor may have changed: redraw
        Submit,   // Enter: line() is the input
        Cancel,   // Ctrl-C: the line was dropped, a fresh one starts
        End,      // Ctrl-D on an empty line: end of input
    };

    explicit LineBuffer(const std::vector<std::string> &history) : m_history(history), m_historyIndex(history.size()) {}

    Event feed(unsigned char byte);

    const std::string &line() const { return m_line; }
    std::size_t cursor() const { return m_cursor; } // byte offset into line(), on a UTF-8 boundary
    // Terminal columns between the cursor and the end of the line (one per code point).
    std::size_t columnsAfterCursor() const;

private:
    Event escape(unsigned char byte);
    void browseHistory(bool older);

    const std::vector<std::string> &m_history;
    std::size_t m_historyIndex;
    std::string m_draft; // the line being typed, kept while browsing history
    std::string m_line;
    std::size_t m_cursor = 0;
    std::string m_escape; // bytes of an escape sequence read so far, after ESC
    bool m_inEscape = false;
};

class LineEditor {
public:
    LineEditor();
    ~LineEditor();
    LineEditor(const LineEditor &) = delete;
    LineEditor &operator=(const LineEditor &) = delete;

    // The next line without its newline; nullopt at end of input (Ctrl-D, EOF).
    std::optional<std::string> readLine(const std::string &prompt);
    void addHistory(const std::string &line);
    bool interactive() const { return m_interactive; }

private:
    std::optional<std::string> readRaw(const std::string &prompt);

    bool m_interactive = false;
    std::vector<std::string> m_history;
};

} // namespace nw::app
