// Ctrl-C and SIGTERM for long commands (ingest, needle): while an InterruptGuard lives, the
// signals call a cancel function instead of killing the process, so the command can stop at a
// safe point, keep what it finished and print its summary. A second signal kills as usual.
// Every command that handles Ctrl-C does it through this guard (no bare std::signal).
#pragma once

#include <csignal>

namespace nw::app {

class InterruptGuard {
public:
    // `cancel(context)` runs inside the signal handler: it may only do async-signal-safe work
    // (atomic stores). One guard at a time.
    using CancelFunction = void (*)(void *context);
    InterruptGuard(CancelFunction cancel, void *context);
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard &) = delete;
    InterruptGuard &operator=(const InterruptGuard &) = delete;

private:
    struct sigaction m_oldInterrupt {};
    struct sigaction m_oldTerminate {};
};

// Columns of the terminal on stderr, where progress lines go; 100 when it is not a terminal.
int stderrTerminalWidth();

} // namespace nw::app
