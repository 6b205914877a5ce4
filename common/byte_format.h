// Byte counts and savings as every front end prints them ("1.50 GiB", "320.0 MiB", "96 B";
// "8.89×"), so the CLI, the window and exports say the same for the same cache.
#pragma once

#include <cstdint>
#include <string>

namespace nw {

// Binary units, because caches are allocated in pages of powers of two: three significant
// digits from 1 KiB up ("1.50 MiB", "12.3 MiB", "320.0 MiB"), whole bytes below.
std::string formatBytes(std::uint64_t bytes);
// A saving factor with two decimals below 10 and one above ("8.89×", "14.2×"); "–" when it is
// undefined (0 or less).
std::string formatSaving(double factor);

} // namespace nw
