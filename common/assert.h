// NW_ASSERT: invariants that only a programming error can break. On in release builds; logs
// file:line and aborts (as ggml's GGML_ASSERT). Never use it for input: throw nw::Error.
#pragma once

namespace nw::detail {
[[noreturn]] void assertFailed(const char *file, int line, const char *condition);
}

#define NW_ASSERT(condition)                                                                   \
    do {                                                                                       \
        if (!(condition)) [[unlikely]]                                                         \
            ::nw::detail::assertFailed(__FILE__, __LINE__, #condition);                        \
    } while (false)
