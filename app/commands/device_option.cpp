// `--device`: parsed once here so every command spells and checks it the same way.
#include "app/commands/device_option.h"

#include "common/error.h"

namespace nw::app {

void addDeviceOption(QCommandLineParser &parser)
{
    parser.addOption({QStringLiteral("device"),
                      QStringLiteral("Where the model runs: auto (CUDA when a GPU is present, else the CPU), cpu or "
                                     "cuda (default auto)."),
                      QStringLiteral("D")});
}

std::optional<DeviceChoice> deviceOption(const QCommandLineParser &parser, QString &message)
{
    if (!parser.isSet(QStringLiteral("device")))
        return DeviceChoice::Auto;
    try {
        return parseDeviceChoice(parser.value(QStringLiteral("device")).toStdString());
    } catch (const Error &e) {
        message = QStringLiteral("--device: %1").arg(QString::fromStdString(e.what()));
        return std::nullopt;
    }
}

} // namespace nw::app
