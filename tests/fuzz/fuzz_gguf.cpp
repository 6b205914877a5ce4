// Fuzz entry point for the GGUF reader: any byte string must parse or give nw::Error — never
// crash, hang, read out of bounds or allocate without bound. Built as a libFuzzer target with
// clang, and always as part of fuzz_gguf_driver (a bounded mutation loop run by CTest).
#include "engine/gguf_file.h"

#include "common/error.h"
#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace {

// Reads every value so the sanitizers see any bad pointer or size inside them.
std::size_t touch(const nw::GgufValue &value)
{
    return std::visit(
        [](const auto &v) -> std::size_t {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>) {
                std::size_t h = v.size();
                for (const char c : v)
                    h += static_cast<unsigned char>(c);
                return h;
            } else if constexpr (std::is_same_v<T, std::shared_ptr<const nw::GgufArray>>) {
                std::size_t h = static_cast<std::size_t>(v->elementType);
                for (const auto &element : v->values)
                    h += touch(element);
                return h;
            } else if constexpr (std::is_same_v<T, double>) {
                // A double such as -1.5 has no size_t value: converting it is UB (UBSan says so).
                return static_cast<std::size_t>(std::bit_cast<std::uint64_t>(v));
            } else {
                return static_cast<std::size_t>(v);
            }
        },
        value);
}

volatile std::size_t g_sink; // keeps the reads from being optimised away

} // namespace

// Inputs that parsed (the driver reports it: mutants that all fail early test little).
std::uint64_t g_fuzzGgufAccepted = 0;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    try {
        const auto file = nw::GgufFile::fromMemory(
            std::span<const std::byte>(reinterpret_cast<const std::byte *>(data), size), "fuzz.gguf");
        std::size_t h = 0;
        for (const auto &[key, value] : file->metadata())
            h += key.size() + touch(value);
        (void)file->findInt("general.alignment");
        (void)file->findString("general.architecture");
        std::vector<float> row;
        for (const nw::TensorView &t : file->tensors()) {
            for (std::size_t i = 0; i < t.bytes; ++i) // every byte of the tensor's extent
                h += static_cast<std::size_t>(t.data[i]);
            h += static_cast<std::size_t>(t.rows() + t.rowLength() + t.elements());
            // Decode the start of the first row through the block formats.
            const auto &traits = nw::tensorTypeTraits(t.type);
            if (nw::canDequantize(t.type)) {
                const std::size_t n
                    = std::min<std::size_t>(static_cast<std::size_t>(t.rowLength()), 16 * traits.blockElements);
                const std::size_t whole = n / traits.blockElements * traits.blockElements;
                row.resize(whole);
                nw::dequantizeRow(t.type, t.data, row.data(), whole);
                for (const float f : row)
                    h += f > 0.0f ? 1 : 0;
            }
            h += nw::findTensorType(static_cast<std::uint32_t>(t.type)).has_value();
            if (file->findTensor(t.name) != &t)
                __builtin_trap(); // the index must find each tensor under its own name
        }
        g_sink = h;
        ++g_fuzzGgufAccepted;
    } catch (const nw::Error &) {
        // Refusing bad input with a message is the expected outcome.
    }
    return 0;
}
