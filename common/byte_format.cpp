#include "common/byte_format.h"

#include <fmt/format.h>

namespace nw {

std::string formatBytes(std::uint64_t bytes)
{
    static constexpr const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024)
        return fmt::format("{} B", bytes);
    double value = static_cast<double>(bytes) / 1024.0;
    int unit = 0;
    while (value >= 1024.0 && unit < 4) {
        value /= 1024.0;
        ++unit;
    }
    return fmt::format("{:.{}f} {}", value, value < 10.0 ? 2 : 1, units[unit]);
}

std::string formatSaving(double factor)
{
    if (!(factor > 0.0))
        return "–";
    return fmt::format("{:.{}f}×", factor, factor < 10.0 ? 2 : 1);
}

} // namespace nw
