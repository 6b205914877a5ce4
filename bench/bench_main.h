// The main() of a bench whose body may throw: an exception that escapes it (a model that will not
// load, a CUDA error) becomes one line on standard error and exit status 1.
#pragma once

#include <cstdio>
#include <exception>

namespace nw::bench {

inline int runMain(const char *name, int (*body)(int, char **), int argc, char **argv)
{
    try {
        return body(argc, argv);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
        return 1;
    }
}

} // namespace nw::bench
