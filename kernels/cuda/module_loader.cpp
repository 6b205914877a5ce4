// The core's side of the CUDA module: looks for libneedlework-cuda.so, checks that it was built
// from these sources, and defines gpuInfo() and makeCudaBackend() on top of it. Compiled into
// nw_kernels in every build, with or without NW_CUDA: only the module links CUDA libraries.
#include "kernels/cuda/module_loader.h"

#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/cuda/module_abi.h"
#include "nw_cuda_build_key.h"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>

namespace nw::cuda {
namespace {

namespace fs = std::filesystem;

struct Module {
    std::string error; // why it cannot be used; empty when it can
    NwCudaGpuInfoFn gpuInfo = nullptr;
    NwCudaMakeBackendFn makeBackend = nullptr;
};

template <typename Fn>
Fn symbol(void *handle, const char *name)
{
    return reinterpret_cast<Fn>(dlsym(handle, name));
}

Module open(const std::string &path)
{
    Module m;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        m.error = fmt::format("CUDA module not installed (no {}; the needlework-cuda package puts it there)", path);
        return m;
    }
    // RTLD_NOW: a missing libcudart or cuBLAS symbol shows here, not at the first call.
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char *why = dlerror();
        m.error = fmt::format("CUDA module {} cannot load: {} (it needs NVIDIA's CUDA runtime and cuBLAS)", path,
                              why != nullptr ? why : "unknown dlopen error");
        return m;
    }
    const auto abiVersion = symbol<NwCudaAbiVersionFn>(handle, "nw_cuda_abi_version");
    const auto buildKey = symbol<NwCudaBuildKeyFn>(handle, "nw_cuda_build_key");
    const auto forwardLog = symbol<NwCudaForwardLogFn>(handle, "nw_cuda_forward_log");
    m.gpuInfo = symbol<NwCudaGpuInfoFn>(handle, "nw_cuda_gpu_info");
    m.makeBackend = symbol<NwCudaMakeBackendFn>(handle, "nw_cuda_make_backend");
    if (abiVersion == nullptr || buildKey == nullptr || forwardLog == nullptr || m.gpuInfo == nullptr ||
        m.makeBackend == nullptr) {
        m.error = fmt::format("{} is not a Needlework CUDA module (nw_cuda_* entry points missing)", path);
    } else if (const std::string mismatch = moduleMismatch(abiVersion(), buildKey()); !mismatch.empty()) {
        m.error = fmt::format("CUDA module {} does not match this program: {}; install needlework-cuda of the "
                              "same version as needlework",
                              path, mismatch);
    }
    if (!m.error.empty()) {
        // Nothing from it is in use yet, so it can go; a usable one stays for the process.
        dlclose(handle);
        m.gpuInfo = nullptr;
        m.makeBackend = nullptr;
        return m;
    }
    forwardLog(&nw::log::get);
    return m;
}

// One load per path: dlopen is reference-counted, but a module found wanting need not be
// opened again, and one in use must never be closed.
const Module &moduleAt(const std::string &path)
{
    static std::mutex mutex;
    static std::map<std::string, Module> modules;
    std::lock_guard lock(mutex);
    auto it = modules.find(path);
    if (it == modules.end())
        it = modules.emplace(path, open(path)).first;
    return it->second;
}

fs::path programDirectory()
{
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path() : exe.parent_path();
}

// The module the process uses: the first candidate that exists, else the first (to name it).
const std::string &chosenModule()
{
    static const std::string path = [] {
        const std::vector<std::string> candidates = moduleCandidates();
        std::error_code ec;
        for (const std::string &candidate : candidates)
            if (fs::exists(candidate, ec))
                return candidate;
        return candidates.front();
    }();
    return path;
}

} // namespace

std::vector<std::string> moduleCandidates()
{
    if (const char *path = std::getenv("NW_CUDA_MODULE"); path != nullptr && *path != '\0')
        return {path};
    std::vector<std::string> candidates;
    const fs::path dir = programDirectory();
    if (!dir.empty())
        candidates.push_back((dir / NW_CUDA_MODULE_RELATIVE_DIR / NW_CUDA_MODULE_FILE).lexically_normal().string());
    // Tests and benchmarks live in other folders of the build tree than bin/.
    const fs::path build = NW_CUDA_MODULE_BUILD_DIR;
    std::error_code dirError, buildError;
    const fs::path canonicalDir = fs::weakly_canonical(dir, dirError);
    const fs::path canonicalBuild = fs::weakly_canonical(build, buildError);
    if (!dir.empty() && !dirError && !buildError) {
        const auto [mismatch, _] = std::mismatch(canonicalBuild.begin(), canonicalBuild.end(), canonicalDir.begin(),
                                                 canonicalDir.end());
        if (mismatch == canonicalBuild.end()) {
            const std::string inBuild = (build / "lib/needlework" / NW_CUDA_MODULE_FILE).string();
            if (candidates.empty() || candidates.front() != inBuild)
                candidates.push_back(inBuild);
        }
    }
    if (candidates.empty())
        candidates.push_back(NW_CUDA_MODULE_FILE); // no /proc: the loader's own search path
    return candidates;
}

std::string moduleMismatch(int abiVersion, const char *buildKey)
{
    if (abiVersion != NW_CUDA_ABI_VERSION)
        return fmt::format("entry points version {}, this program expects {}", abiVersion, NW_CUDA_ABI_VERSION);
    if (buildKey == nullptr || std::strcmp(buildKey, NW_CUDA_BUILD_KEY) != 0)
        return fmt::format("built for needlework {}, this program is {}", buildKey != nullptr ? buildKey : "(none)",
                           NW_CUDA_BUILD_KEY);
    return {};
}

const char *programBuildKey()
{
    return NW_CUDA_BUILD_KEY;
}

GpuInfo probeModule(const std::string &path)
{
    const Module &m = moduleAt(path);
    GpuInfo info;
    if (!m.error.empty()) {
        info.status = m.error;
        return info;
    }
    m.gpuInfo(&info);
    info.built = true;
    info.module = path;
    return info;
}

} // namespace nw::cuda

namespace nw {

const GpuInfo &gpuInfo()
{
    static const GpuInfo info = cuda::probeModule(cuda::chosenModule());
    return info;
}

std::unique_ptr<Backend> makeCudaBackend()
{
    const GpuInfo &info = gpuInfo();
    if (!info.built)
        fail("no CUDA backend: {}", info.status);
    std::array<char, 512> error{};
    Backend *backend = cuda::moduleAt(info.module).makeBackend(error.data(), error.size());
    if (backend == nullptr)
        fail("{}", error.data());
    return std::unique_ptr<Backend>(backend);
}

} // namespace nw
