// Byte counts as the meters and the planner print them ("1.50 GiB", "320.0 MiB", "96 B").
#pragma once

#include <QString>

#include <cstdint>

namespace nw::ui {

QString formatByteCount(std::uint64_t bytes);
// "×14.2" for a saving factor; "–" when it is undefined (0).
QString formatSaving(double factor);

} // namespace nw::ui
