// KV snapshot directory and size cap, from the XDG cache directory and the settings.
#include "app/kv_snapshot_settings.h"

#include "app/paths.h"

#include <QSettings>

namespace nw::app {
namespace {

const QString kMaxBytesKey = QStringLiteral("kv/snapshotMaxBytes");

} // namespace

QString kvSnapshotDirectory()
{
    return cacheDirectory() + QStringLiteral("/kv");
}

std::uint64_t kvSnapshotMaxBytes()
{
    return QSettings().value(kMaxBytesKey, QVariant::fromValue<qulonglong>(kDefaultKvSnapshotMaxBytes)).toULongLong();
}

void setKvSnapshotMaxBytes(std::uint64_t bytes)
{
    QSettings settings;
    settings.setValue(kMaxBytesKey, QVariant::fromValue<qulonglong>(bytes));
    settings.sync();
}

} // namespace nw::app
