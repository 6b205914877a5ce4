// `--device auto|cpu|cuda`: the one option every command that runs a model shares.
#pragma once

#include "kernels/backend.h"

#include <QCommandLineParser>
#include <QString>

#include <optional>

namespace nw::app {

void addDeviceOption(QCommandLineParser &parser);
// The device asked for (auto when the option is absent); std::nullopt with `message` set when
// the value is not one of the three (a usage error).
std::optional<DeviceChoice> deviceOption(const QCommandLineParser &parser, QString &message);

} // namespace nw::app
