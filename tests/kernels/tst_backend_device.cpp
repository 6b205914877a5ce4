// Choosing a backend (`--device auto|cpu|cuda`) and the Backend memory interface as the CPU
// backend implements it: buffers, copies, accounting, the residual add.
#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/device_info.h"

#include <doctest/doctest.h>

#include <cstring>
#include <numeric>
#include <vector>

namespace {

nw::GpuInfo gpuWith(bool built, int nDevices)
{
    nw::GpuInfo info;
    info.built = built;
    info.status = !built ? "not built with CUDA" : nDevices == 0 ? "no CUDA device: none found" : "1 device";
    for (int i = 0; i < nDevices; ++i) {
        nw::GpuDevice device;
        device.index = i;
        device.name = "Test GPU " + std::to_string(i);
        info.devices.push_back(device);
    }
    return info;
}

} // namespace

TEST_CASE("parseDeviceChoice takes auto, cpu and cuda and names them back")
{
    CHECK(nw::parseDeviceChoice("auto") == nw::DeviceChoice::Auto);
    CHECK(nw::parseDeviceChoice("cpu") == nw::DeviceChoice::Cpu);
    CHECK(nw::parseDeviceChoice("cuda") == nw::DeviceChoice::Cuda);
    for (auto choice : {nw::DeviceChoice::Auto, nw::DeviceChoice::Cpu, nw::DeviceChoice::Cuda})
        CHECK(nw::parseDeviceChoice(nw::deviceChoiceName(choice)) == choice);
    CHECK_THROWS_AS(nw::parseDeviceChoice("gpu"), nw::Error);
    CHECK_THROWS_AS(nw::parseDeviceChoice("CUDA"), nw::Error);
    CHECK_THROWS_AS(nw::parseDeviceChoice(""), nw::Error);
    try {
        nw::parseDeviceChoice("metal");
    } catch (const nw::Error &e) {
        CHECK(std::string(e.what()).find("auto, cpu or cuda") != std::string::npos);
    }
}

TEST_CASE("decideBackend: auto takes CUDA only when a device is present, and says why")
{
    SUBCASE("no CUDA build")
    {
        const auto d = nw::decideBackend(nw::DeviceChoice::Auto, gpuWith(false, 0));
        CHECK_FALSE(d.useCuda);
        CHECK(d.error.empty());
        CHECK(d.reason.find("no CUDA backend") != std::string::npos);
    }
    SUBCASE("CUDA build without a device")
    {
        const auto d = nw::decideBackend(nw::DeviceChoice::Auto, gpuWith(true, 0));
        CHECK_FALSE(d.useCuda);
        CHECK(d.error.empty());
        CHECK(d.reason.find("no CUDA device") != std::string::npos);
    }
    SUBCASE("a device")
    {
        const auto d = nw::decideBackend(nw::DeviceChoice::Auto, gpuWith(true, 2));
        CHECK(d.useCuda);
        CHECK(d.error.empty());
        CHECK(d.reason.find("Test GPU 0") != std::string::npos);
    }
}

TEST_CASE("decideBackend: cpu is always the CPU, cuda without a device is a one-line error")
{
    for (const auto &gpu : {gpuWith(false, 0), gpuWith(true, 0), gpuWith(true, 1)}) {
        const auto d = nw::decideBackend(nw::DeviceChoice::Cpu, gpu);
        CHECK_FALSE(d.useCuda);
        CHECK(d.error.empty());
    }
    for (const auto &gpu : {gpuWith(false, 0), gpuWith(true, 0)}) {
        const auto d = nw::decideBackend(nw::DeviceChoice::Cuda, gpu);
        CHECK_FALSE(d.useCuda);
        REQUIRE_FALSE(d.error.empty());
        CHECK(d.error.find('\n') == std::string::npos);
        CHECK(d.error.find("no usable CUDA device") != std::string::npos);
        CHECK(d.error.find("--") == std::string::npos); // no CLI flag: the CLI adds its own hint
    }
    CHECK(nw::decideBackend(nw::DeviceChoice::Cuda, gpuWith(true, 1)).useCuda);
}

TEST_CASE("makeBackend follows the decision on this machine")
{
    const nw::GpuInfo &gpu = nw::gpuInfo();
    const bool present = gpu.built && !gpu.devices.empty();
    auto cpu = nw::makeBackend(nw::DeviceChoice::Cpu, 1);
    CHECK(cpu->memoryKind() == nw::BackendMemory::Host);
    CHECK(cpu->threads() == 1);
    auto automatic = nw::makeBackend(nw::DeviceChoice::Auto, 1);
    CHECK(automatic->memoryKind() == (present ? nw::BackendMemory::Device : nw::BackendMemory::Host));
    if (present) {
        CHECK(nw::makeBackend(nw::DeviceChoice::Cuda, 1)->memoryKind() == nw::BackendMemory::Device);
    } else {
        CHECK_THROWS_AS(nw::makeBackend(nw::DeviceChoice::Cuda, 1), nw::Error);
        CHECK_THROWS_AS(nw::makeCudaBackend(), nw::Error);
        try {
            nw::makeBackend(nw::DeviceChoice::Cuda, 1);
        } catch (const nw::Error &e) {
            CHECK(e.remedy() == nw::Remedy::CpuDevice); // the front end offers the CPU in its own words
        }
    }
}

TEST_CASE("CPU backend buffers: allocation is counted, copies round-trip, bounds are checked")
{
    auto backend = nw::makeCpuBackend(1);
    CHECK(backend->memoryInfo().bufferBytes == 0);
    {
        nw::BackendBuffer a(*backend, 1000);
        CHECK(reinterpret_cast<std::uintptr_t>(a.as()) % 64 == 0);
        CHECK(backend->memoryInfo().bufferBytes == 1000);
        {
            nw::BackendBuffer b(*backend, 24);
            CHECK(backend->memoryInfo().bufferBytes == 1024);
        }
        CHECK(backend->memoryInfo().bufferBytes == 1000);
        CHECK(backend->memoryInfo().peakBufferBytes == 1024);

        std::vector<float> host(250);
        std::iota(host.begin(), host.end(), 1.f);
        a.upload(host.data(), host.size() * sizeof(float));
        std::vector<float> back(10, 0.f);
        a.download(back.data(), back.size() * sizeof(float), 100 * sizeof(float));
        for (int i = 0; i < 10; ++i)
            CHECK(back[static_cast<std::size_t>(i)] == doctest::Approx(101 + i));
        CHECK_THROWS_AS(a.upload(host.data(), 8, 996), nw::Error);
        CHECK_THROWS_AS(a.download(back.data(), 1001), nw::Error);

        // Growing replaces the allocation; the accounting follows.
        a.reserve(*backend, 500); // already big enough: kept
        CHECK(backend->memoryInfo().bufferBytes == 1000);
        a.reserve(*backend, 4000);
        CHECK(a.bytes() == 4000);
        CHECK(backend->memoryInfo().bufferBytes == 4000);

        nw::BackendBuffer moved = std::move(a);
        CHECK(moved.bytes() == 4000);
        CHECK(a.bytes() == 0);
        CHECK(backend->memoryInfo().bufferBytes == 4000);
    }
    CHECK(backend->memoryInfo().bufferBytes == 0);
    CHECK(backend->memoryInfo().peakBufferBytes == 4000);
    CHECK(backend->memoryInfo().device == "cpu");
    nw::BackendBuffer empty(*backend, 0);
    CHECK(empty.as() != nullptr);
}

TEST_CASE("Backend::add adds elementwise")
{
    auto backend = nw::makeCpuBackend(1);
    std::vector<float> y = {1.f, -2.f, 0.5f, 1e30f, 3.f};
    const std::vector<float> x = {0.25f, 2.f, -0.5f, 1e30f, 0.f};
    backend->add(y.data(), x.data(), 4); // the fifth element is outside n
    CHECK(y[0] == 1.25f);
    CHECK(y[1] == 0.f);
    CHECK(y[2] == 0.f);
    CHECK(y[3] == 2e30f);
    CHECK(y[4] == 3.f);
}
