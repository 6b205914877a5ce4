#include "app/commands/interrupt_guard.h"

#include <csignal>

#include <sys/ioctl.h>
#include <unistd.h>

namespace nw::app {
namespace {

InterruptGuard::CancelFunction g_cancel = nullptr;
void *g_context = nullptr;
volatile std::sig_atomic_t g_signals = 0;

// The first signal asks the work to stop at its next safe point; a second one (the work is stuck
// in a long step, or the user insists) gets the signal's default action, as if no guard were set.
extern "C" void onInterrupt(int signal)
{
    const std::sig_atomic_t before = g_signals;
    g_signals = before + 1; // not ++: C++20 deprecates compound operations on a volatile
    if (before == 0) {
        if (g_cancel)
            g_cancel(g_context);
        return;
    }
    std::signal(signal, SIG_DFL);
    std::raise(signal);
}

} // namespace

InterruptGuard::InterruptGuard(CancelFunction cancel, void *context)
{
    g_context = context;
    g_cancel = cancel;
    g_signals = 0;
    struct sigaction action { };
    action.sa_handler = onInterrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &m_oldInterrupt);
    sigaction(SIGTERM, &action, &m_oldTerminate);
}

InterruptGuard::~InterruptGuard()
{
    sigaction(SIGINT, &m_oldInterrupt, nullptr);
    sigaction(SIGTERM, &m_oldTerminate, nullptr);
    g_cancel = nullptr;
    g_context = nullptr;
}

int stderrTerminalWidth()
{
    winsize size {};
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
        return size.ws_col;
    return 100;
}

} // namespace nw::app
