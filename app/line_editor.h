// A small line editor for the terminal chat: raw mode through termios, cursor movement,
// history (up/down), Ctrl-A/E/K/U/W, Ctrl-C clears the line, Ctrl-D on an empty line ends.
// When stdin is not a terminal it reads plain lines, so scripts can pipe questions in.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace nw::app {

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
    void refresh(const std::string &prompt, const std::string &line, std::size_t cursor) const;

    bool m_interactive = false;
    std::vector<std::string> m_history;
};

} // namespace nw::app
