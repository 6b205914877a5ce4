// Test data locations.
#include "tests/support/test_data.h"

#include <cstdlib>
#include <string>

namespace nw::test {
namespace {

std::filesystem::path fromEnv(const char *name, const std::filesystem::path &fallback)
{
    const char *value = std::getenv(name);
    return value && *value ? std::filesystem::path(value) : fallback;
}

} // namespace

std::filesystem::path sourceDir() { return fromEnv("NW_SOURCE_DIR", std::filesystem::current_path()); }
std::filesystem::path binaryDir() { return fromEnv("NW_BINARY_DIR", std::filesystem::current_path()); }

std::optional<std::filesystem::path> conformanceDir()
{
    const std::filesystem::path dir = fromEnv("NW_CONFORMANCE_DIR", sourceDir() / ".." / "shared" / "conformance");
    if (std::filesystem::is_directory(dir))
        return std::filesystem::canonical(dir);
    return std::nullopt;
}

std::filesystem::path scratchDir(const std::string &name)
{
    const std::filesystem::path dir = binaryDir() / "test-scratch" / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

} // namespace nw::test
