// Loading the CUDA module (kernels/cuda/module_loader.h): every way it can be missing or unfit
// leaves a one-line reason in GpuInfo::status that --device auto falls back on and --device cuda
// fails with; a module built with these sources loads and reports the machine's GPUs.
#include "common/error.h"
#include "common/log.h"
#include "kernels/backend.h"
#include "kernels/cuda/module_abi.h"
#include "kernels/cuda/module_loader.h"
#include "kernels/device_info.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace fs = std::filesystem;

namespace {

bool contains(const std::string &text, const std::string &part)
{
    return text.find(part) != std::string::npos;
}

// The one line a user sees: no newline, names the file.
void checkReason(const nw::GpuInfo &info, const std::string &path, const std::string &what)
{
    CHECK_FALSE(info.built);
    CHECK(info.module.empty());
    CHECK(info.devices.empty());
    INFO("status: ", info.status);
    CHECK(contains(info.status, what));
    CHECK(contains(info.status, path));
    CHECK_FALSE(contains(info.status, "\n"));
    const auto automatic = nw::decideBackend(nw::DeviceChoice::Auto, info);
    CHECK_FALSE(automatic.useCuda);
    CHECK(automatic.error.empty());
    CHECK(contains(automatic.reason, what));
    const auto cuda = nw::decideBackend(nw::DeviceChoice::Cuda, info);
    CHECK_FALSE(cuda.useCuda);
    CHECK(contains(cuda.error, what));
    CHECK(contains(cuda.error, "no usable CUDA device"));
    CHECK_FALSE(contains(cuda.error, "--")); // the engine names no CLI flag; the CLI adds its hint
}

fs::path buildTreeModule()
{
    return nw::test::binaryDir() / "lib/needlework" / NW_CUDA_MODULE_FILE;
}

} // namespace

TEST_CASE("a module that is not there: 'not installed', and the CPU takes over")
{
    const fs::path path = nw::test::scratchDir("gpu_module_missing") / NW_CUDA_MODULE_FILE;
    checkReason(nw::cuda::probeModule(path.string()), path.string(), "CUDA module not installed");
}

TEST_CASE("a file that is not a shared object: 'cannot load' with the loader's words")
{
    const fs::path path = nw::test::scratchDir("gpu_module_garbage") / NW_CUDA_MODULE_FILE;
    std::ofstream(path) << "not an ELF file\n";
    const nw::GpuInfo info = nw::cuda::probeModule(path.string());
    checkReason(info, path.string(), "cannot load");
}

TEST_CASE("a shared library without the entry points is refused")
{
    // The C library this test runs on: a real shared object with no nw_cuda_* symbols.
    Dl_info where{};
    REQUIRE(dladdr(reinterpret_cast<void *>(&std::puts), &where) != 0);
    REQUIRE(where.dli_fname != nullptr);
    const std::string libc = where.dli_fname;
    REQUIRE(fs::path(libc).is_absolute());
    checkReason(nw::cuda::probeModule(libc), libc, "not a Needlework CUDA module");
}

TEST_CASE("moduleMismatch: the ABI version and the build key must both agree")
{
    const std::string key = nw::cuda::programBuildKey();
    CHECK(key.starts_with(NW_VERSION "+"));
    CHECK(key.size() == std::string(NW_VERSION).size() + 1 + 16); // version + 16 hex digits
    CHECK(nw::cuda::moduleMismatch(NW_CUDA_ABI_VERSION, key.c_str()).empty());

    const std::string abi = nw::cuda::moduleMismatch(NW_CUDA_ABI_VERSION + 1, key.c_str());
    CHECK(contains(abi, std::to_string(NW_CUDA_ABI_VERSION + 1)));
    const std::string other = nw::cuda::moduleMismatch(NW_CUDA_ABI_VERSION, "0.0.1+0123456789abcdef");
    CHECK(contains(other, "0.0.1+0123456789abcdef"));
    CHECK(contains(other, key));
    CHECK_FALSE(nw::cuda::moduleMismatch(NW_CUDA_ABI_VERSION, nullptr).empty());
    // The same version from other headers is still another build.
    std::string sameVersion = key;
    sameVersion.back() = sameVersion.back() == '0' ? '1' : '0';
    CHECK_FALSE(nw::cuda::moduleMismatch(NW_CUDA_ABI_VERSION, sameVersion.c_str()).empty());
}

TEST_CASE("where the module is looked for: beside the program, the build tree, or $NW_CUDA_MODULE")
{
    REQUIRE(std::getenv("NW_CUDA_MODULE") == nullptr);
    const fs::path exeDir = fs::read_symlink("/proc/self/exe").parent_path();
    const auto candidates = nw::cuda::moduleCandidates();
    REQUIRE_FALSE(candidates.empty());
    // The installed layout: /usr/bin/needlework and /usr/lib/needlework/libneedlework-cuda.so.
    CHECK(candidates.front() == (exeDir / ".." / "lib/needlework" / NW_CUDA_MODULE_FILE).lexically_normal().string());
    // This test runs inside the build tree, so the build's own module is a candidate too.
    bool inBuild = false;
    for (const auto &candidate : candidates)
        inBuild = inBuild || fs::weakly_canonical(candidate) == fs::weakly_canonical(buildTreeModule());
    CHECK(inBuild);

    setenv("NW_CUDA_MODULE", "/opt/elsewhere/libneedlework-cuda.so", 1);
    const auto overridden = nw::cuda::moduleCandidates();
    unsetenv("NW_CUDA_MODULE");
    REQUIRE(overridden.size() == 1);
    CHECK(overridden.front() == "/opt/elsewhere/libneedlework-cuda.so");
}

TEST_CASE("what the module logs reaches the program's log file")
{
    if (!fs::exists(buildTreeModule())) {
        MESSAGE("this build has no CUDA module (NW_CUDA=OFF): nothing to check");
        return;
    }
    const fs::path logFile = nw::test::scratchDir("gpu_module_log") / "needlework.log";
    fs::remove(logFile);
    nw::log::setup({.level = spdlog::level::debug, .filePath = logFile.string()});
    // The module forwards its loggers when it opens (here or earlier), so it logs what it probed
    // through the program's logger, with the sinks and level set just now.
    const nw::GpuInfo info = nw::cuda::probeModule(buildTreeModule().string());
    nw::log::get("kernels")->flush();
    nw::log::setup({.level = spdlog::level::warn});
    REQUIRE(info.built);
    std::ifstream in(logFile);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO("log file: ", text);
    CHECK(contains(text, "[debug] kernels: CUDA module: runtime " + std::to_string(info.runtimeVersion)));
    CHECK(contains(text, info.status));
}

TEST_CASE("gpuInfo and makeCudaBackend on this machine follow the build's module")
{
    REQUIRE(std::getenv("NW_CUDA_MODULE") == nullptr);
    const nw::GpuInfo &info = nw::gpuInfo();
    INFO("status: ", info.status);
    if (!fs::exists(buildTreeModule())) {
        MESSAGE("this build has no CUDA module (NW_CUDA=OFF): checking the not-installed path");
        CHECK_FALSE(info.built);
        CHECK(contains(info.status, "CUDA module not installed"));
        try {
            nw::makeCudaBackend();
            FAIL("makeCudaBackend without a module did not throw");
        } catch (const nw::Error &e) {
            CHECK(contains(e.what(), "CUDA module not installed"));
        }
        return;
    }
    // The module loads here whether or not a GPU is present; it reports the runtime it links.
    CHECK(info.built);
    CHECK(fs::weakly_canonical(info.module) == fs::weakly_canonical(buildTreeModule()));
    CHECK(info.runtimeVersion >= 11000);
    CHECK_FALSE(info.status.empty());
    if (info.devices.empty()) {
        CHECK(contains(info.status, "no CUDA device"));
        CHECK_THROWS_AS(nw::makeCudaBackend(), nw::Error);
    } else {
        CHECK(info.status == std::to_string(info.devices.size()) + (info.devices.size() == 1 ? " device" : " devices"));
        auto backend = nw::makeCudaBackend();
        CHECK(backend->memoryKind() == nw::BackendMemory::Device);
        CHECK(contains(backend->memoryInfo().device, info.devices.front().name));
    }
}
