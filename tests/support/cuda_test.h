// What the CUDA suites (tests/kernels/tst_cuda_*.cpp) share: skipping when there is no device,
// seeded random inputs, and the closeness check every GPU result is held to.
#pragma once

#include "kernels/cuda/device_buffer.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace nw::test {

// Exits with 77 (CTest's SKIP_RETURN_CODE for these suites) before doctest runs when there is
// no device; include this header once per suite and the check runs at start-up.
inline const bool kCudaDeviceChecked = [] {
    if (!nw::cuda::cudaDevicePresent()) {
        std::printf("SKIP: no CUDA device (cudaGetDeviceCount found none)\n");
        std::exit(77);
    }
    return true;
}();

// n values uniform in [-range, range], the same for the same seed on every machine.
inline std::vector<float> randomFloats(std::size_t n, std::uint32_t seed, float range = 1.f)
{
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> value(-range, range);
    std::vector<float> v(n);
    for (float &x : v)
        x = value(rng);
    return v;
}

// |got - ref| <= tol * (1 + |ref|) for every element; NaN passes only where ref is NaN. Reports
// the first failing element and the worst absolute error.
inline void checkClose(const std::vector<float> &got, const std::vector<float> &ref, float tol)
{
    REQUIRE(got.size() == ref.size());
    double worst = 0.0;
    std::size_t bad = 0, firstBad = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double err = std::abs(double(got[i]) - double(ref[i]));
        const bool ok = std::isnan(ref[i]) ? std::isnan(got[i]) : err <= tol * (1.0 + std::abs(ref[i]));
        if (!ok && bad++ == 0)
            firstBad = i;
        if (!std::isnan(ref[i]) && !(err <= worst))
            worst = err;
    }
    INFO("worst abs error " << worst << ", first bad element " << firstBad << ": got " << got[firstBad] << " ref "
                            << ref[firstBad]);
    CHECK(bad == 0);
}

// max |got - want| / max |want|: an error relative to the values' scale (logits).
inline double relativeError(const std::vector<float> &got, const std::vector<float> &want)
{
    double maxDiff = 0.0, maxRef = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        maxDiff = std::max(maxDiff, std::abs(double(got[i]) - want[i]));
        maxRef = std::max(maxRef, std::abs(double(want[i])));
    }
    return maxDiff / maxRef;
}

} // namespace nw::test
