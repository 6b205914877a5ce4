// main() for the doctest suites of the Qt-free modules (common, kernels, engine).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
