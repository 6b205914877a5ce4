// Shared sinks and the per-module logger registry.
#include "common/log.h"

#include "common/assert.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace nw::log {
namespace {

struct Registry {
    std::mutex mutex;
    std::vector<spdlog::sink_ptr> sinks;
    spdlog::level::level_enum level = spdlog::level::warn; // quiet until setup() says otherwise
    std::vector<std::shared_ptr<spdlog::logger>> loggers;
    GetFn forward = nullptr; // the program's get(), in a module that forwards to it
};

Registry &registry()
{
    static Registry instance;
    return instance;
}

std::vector<spdlog::sink_ptr> consoleSinks()
{
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_pattern("%^[%l]%$ %n: %v");
    return {console};
}

} // namespace

std::shared_ptr<spdlog::logger> get(std::string_view module)
{
    Registry &r = registry();
    std::unique_lock lock(r.mutex);
    if (r.forward != nullptr) {
        const GetFn forward = r.forward;
        lock.unlock();
        return forward(module);
    }
    for (const auto &logger : r.loggers)
        if (logger->name() == module)
            return logger;
    if (r.sinks.empty())
        r.sinks = consoleSinks();
    auto logger = std::make_shared<spdlog::logger>(std::string(module), r.sinks.begin(), r.sinks.end());
    logger->set_level(r.level);
    r.loggers.push_back(logger);
    return logger;
}

void setup(const LogSetup &setup)
{
    Registry &r = registry();
    std::lock_guard lock(r.mutex);
    r.sinks = consoleSinks();
    r.sinks.front()->set_level(setup.level);
    if (!setup.filePath.empty()) {
        try {
            auto file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
                setup.filePath, 5 * 1024 * 1024, 3);
            file->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %n: %v");
            file->set_level(std::min(setup.level, spdlog::level::info));
            r.sinks.push_back(file);
        } catch (const spdlog::spdlog_ex &e) {
            // A read-only home must not stop the program; say it once on the console.
            std::fprintf(stderr, "needlework: cannot open log file %s: %s\n", setup.filePath.c_str(), e.what());
        }
    }
    r.level = r.sinks.size() > 1 ? std::min(setup.level, spdlog::level::info) : setup.level;
    for (const auto &logger : r.loggers) {
        logger->sinks() = r.sinks;
        logger->set_level(r.level);
    }
}

void forwardTo(GetFn programGet)
{
    Registry &r = registry();
    std::lock_guard lock(r.mutex);
    r.forward = programGet;
    r.loggers.clear(); // made before forwarding: none should outlive it
}

bool parseLevel(std::string_view name, spdlog::level::level_enum &level)
{
    static constexpr std::pair<std::string_view, spdlog::level::level_enum> names[] = {
        {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
        {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
        {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
        {"off", spdlog::level::off},
    };
    for (const auto &[n, l] : names)
        if (n == name) {
            level = l;
            return true;
        }
    return false;
}

} // namespace nw::log

namespace nw::detail {

void assertFailed(const char *file, int line, const char *condition)
{
    std::fprintf(stderr, "needlework: internal error at %s:%d: assertion failed: %s\n", file, line, condition);
    std::fflush(stderr);
    std::abort();
}

} // namespace nw::detail
