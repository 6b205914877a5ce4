// The project's one exception type for bad input and environment (files, models, PDFs, SQL).
// Programmer errors use NW_ASSERT instead (common/assert.h).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace nw {

// What the user can change to get past an error. Libraries name no command-line flag or window
// control in their messages: each front end adds the remedy in its own words (the CLI "raise
// --ctx", the window its context field), so the same error reads right in both.
enum class Remedy {
    None,
    LargerContext, // the context (KV cache capacity) is too small for what was asked
    CpuDevice,     // this runs on the CPU but not (yet) on the device that was chosen
};

// An error a user can act on: the message says what was being read and where.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string &message, Remedy remedy = Remedy::None)
        : std::runtime_error(message), m_remedy(remedy)
    {
    }
    Remedy remedy() const { return m_remedy; }

private:
    Remedy m_remedy;
};

// Throws nw::Error with a formatted message: nw::fail("{}: tensor '{}' not found", path, name).
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args &&...args)
{
    throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// The same with the remedy the front end should offer.
template <typename... Args>
[[noreturn]] void fail(Remedy remedy, fmt::format_string<Args...> format, Args &&...args)
{
    throw Error(fmt::format(format, std::forward<Args>(args)...), remedy);
}

} // namespace nw
