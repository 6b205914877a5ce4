// What the CPU we run on can do (SIMD extensions, cores, model), probed once at run time so
// one binary picks the best kernel on every x86-64 machine.
#pragma once

#include <string>

namespace nw::cpu {

struct CpuFeatures {
    std::string model;        // "AMD EPYC 7B13", from /proc/cpuinfo; empty if unknown
    int logicalCores = 1;     // std::thread::hardware_concurrency()
    bool sse42 = false;
    bool avx = false;
    bool avx2 = false;
    bool fma = false;
    bool f16c = false;
    bool avx512f = false;
    bool avx512bw = false;
    bool avx512vl = false;
    bool avx512vnni = false;
    bool avx512bf16 = false;
    bool avxvnni = false;
};

// Probed on first call, then cached.
const CpuFeatures &cpuFeatures();

// "AVX2 FMA F16C AVX512F ..." — the extensions present, for logs and `needlework doctor`.
std::string describeSimd(const CpuFeatures &features);

} // namespace nw::cpu
