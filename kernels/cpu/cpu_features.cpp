// CPU feature probing through the compiler's cpuid builtins and /proc/cpuinfo.
#include "kernels/cpu/cpu_features.h"

#include <fstream>
#include <thread>

namespace nw::cpu {
namespace {

std::string readCpuModel()
{
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos && colon + 2 <= line.size())
                return line.substr(colon + 2);
        }
    }
    return {};
}

CpuFeatures probe()
{
    CpuFeatures f;
    f.model = readCpuModel();
    f.logicalCores = std::max(1u, std::thread::hardware_concurrency());
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.sse42 = __builtin_cpu_supports("sse4.2");
    f.avx = __builtin_cpu_supports("avx");
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.avx512f = __builtin_cpu_supports("avx512f");
    f.avx512bw = __builtin_cpu_supports("avx512bw");
    f.avx512vl = __builtin_cpu_supports("avx512vl");
    f.avx512vnni = __builtin_cpu_supports("avx512vnni");
    f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
    // GCC 12 has no "f16c" name for __builtin_cpu_supports: read CPUID.1:ECX bit 29 directly.
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
    f.f16c = (ecx >> 29) & 1u;
    // Nor for AVX-VNNI in clang 14: CPUID.(7,1):EAX bit 4.
    __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(0), "c"(0));
    if (eax >= 7) {
        __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(1));
        f.avxvnni = (eax >> 4) & 1u;
    }
#endif
    return f;
}

} // namespace

const CpuFeatures &cpuFeatures()
{
    static const CpuFeatures features = probe();
    return features;
}

std::string describeSimd(const CpuFeatures &f)
{
    std::string out;
    auto add = [&out](bool present, const char *name) {
        if (!present)
            return;
        if (!out.empty())
            out += ' ';
        out += name;
    };
    add(f.sse42, "SSE4.2");
    add(f.avx, "AVX");
    add(f.avx2, "AVX2");
    add(f.fma, "FMA");
    add(f.f16c, "F16C");
    add(f.avxvnni, "AVX-VNNI");
    add(f.avx512f, "AVX512F");
    add(f.avx512bw, "AVX512BW");
    add(f.avx512vl, "AVX512VL");
    add(f.avx512vnni, "AVX512-VNNI");
    add(f.avx512bf16, "AVX512-BF16");
    return out.empty() ? std::string("none") : out;
}

} // namespace nw::cpu
