// The model-loading policy and the device and KV-mode names the front ends show.
#include "app/model_settings.h"

#include "engine/kv_cache.h"
#include "kernels/device_info.h"

#include <algorithm>
#include <limits>

namespace nw::app {

QString deviceName(DeviceChoice choice)
{
    const std::string_view name = deviceChoiceName(choice);
    return QString::fromLatin1(name.data(), static_cast<qsizetype>(name.size()));
}

DeviceChoice parseDevice(const QString &name) { return parseDeviceChoice(name.toStdString()); }

QStringList deviceNames() { return {deviceName(DeviceChoice::Auto), deviceName(DeviceChoice::Cpu), deviceName(DeviceChoice::Cuda)}; }

DeviceStatus deviceStatus()
{
    const GpuInfo &info = gpuInfo();
    DeviceStatus s;
    s.status = QString::fromStdString(info.status);
    if (!info.devices.empty()) {
        const GpuDevice &d = info.devices.front();
        s.gpu = true;
        s.name = QString::fromStdString(d.name);
        s.freeBytes = d.freeBytes;
        s.totalBytes = d.totalBytes;
    }
    return s;
}

std::int64_t contextTokensFor(std::int64_t requested, std::int64_t trainContext, std::int64_t needed)
{
    if (requested > 0)
        return requested;
    const std::int64_t wanted = std::max(kDefaultContextTokens, needed);
    const std::int64_t limit = trainContext > 0 ? trainContext : std::numeric_limits<std::int64_t>::max();
    return std::max(std::min(wanted, limit), kMinimumContextTokens);
}

int answerTokensFor(int requested, std::int64_t contextTokens)
{
    if (requested > 0)
        return requested;
    return static_cast<int>(std::clamp<std::int64_t>(contextTokens / 4, 1, kDefaultAnswerTokens));
}

QString canonicalKvMode(const QString &mode)
{
    return QString::fromStdString(KvModeSpec::parse(mode.trimmed().toStdString()).toString());
}

} // namespace nw::app
