// Binary units, because the cache is allocated in pages of powers of two.
#include "ui/byte_format.h"

#include <QCoreApplication>

namespace nw::ui {

QString formatByteCount(std::uint64_t bytes)
{
    static constexpr const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024)
        return QStringLiteral("%1 B").arg(bytes);
    double value = static_cast<double>(bytes) / 1024.0;
    int unit = 0;
    while (value >= 1024.0 && unit < 3) {
        value /= 1024.0;
        ++unit;
    }
    return QStringLiteral("%1 %2").arg(value, 0, 'f', value < 10.0 ? 2 : 1).arg(QLatin1StringView(units[unit]));
}

QString formatSaving(double factor)
{
    if (factor <= 0.0)
        return QStringLiteral("–");
    return QStringLiteral("×%1").arg(factor, 0, 'f', factor < 10.0 ? 2 : 1);
}

} // namespace nw::ui
