// Logging: one spdlog logger per module ("engine", "kernels", "store", ...), all sharing the
// sinks set up once by setupLogging(): the console (stderr) and, in the app, a rotating file.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace nw::log {

// The logger of a module, created on first use with the shared sinks.
std::shared_ptr<spdlog::logger> get(std::string_view module);

struct LogSetup {
    spdlog::level::level_enum level = spdlog::level::info;
    std::string filePath; // rotating log file; empty: console only
};

// Called once by main(); loggers made before it are moved to the new sinks and level.
void setup(const LogSetup &setup);

// A shared object loaded with dlopen (the CUDA module) links its own copy of this registry, with
// no file sink. forwardTo(program's get) makes its get() hand out the program's loggers instead,
// so that its messages reach the program's console and log file at the program's level, now and
// after any later setup().
using GetFn = std::shared_ptr<spdlog::logger> (*)(std::string_view module);
void forwardTo(GetFn programGet);

// Parses "trace|debug|info|warn|error|critical|off"; returns false on an unknown name.
bool parseLevel(std::string_view name, spdlog::level::level_enum &level);

} // namespace nw::log
