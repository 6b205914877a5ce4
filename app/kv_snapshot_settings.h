// Where whole-documents questions keep KV snapshots of their documents (engine/kv_snapshot.h)
// and how much disk they may take: $XDG_CACHE_HOME/needlework/kv, capped by a setting that
// `needlework kv snapshots --max-size` changes (0 turns snapshots off).
#pragma once

#include <QString>

#include <cstdint>

namespace nw::app {

inline constexpr std::uint64_t kDefaultKvSnapshotMaxBytes = std::uint64_t(16) << 30;

QString kvSnapshotDirectory(); // cacheDirectory()/kv (not created here)
std::uint64_t kvSnapshotMaxBytes(); // the setting, kDefaultKvSnapshotMaxBytes when unset
void setKvSnapshotMaxBytes(std::uint64_t bytes);

} // namespace nw::app
