// The project's one exception type for bad input and environment (files, models, PDFs, SQL).
// Programmer errors use NW_ASSERT instead (common/assert.h).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace nw {

// An error a user can act on: the message says what was being read and where.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string &message) : std::runtime_error(message) {}
};

// Throws nw::Error with a formatted message: nw::fail("{}: tensor '{}' not found", path, name).
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args &&...args)
{
    throw Error(fmt::format(format, std::forward<Args>(args)...));
}

} // namespace nw
