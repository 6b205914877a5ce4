// GGUF v3 writer: builds a model file (metadata + tensors) in memory or on disk, for tests,
// tools and the fuzzing seeds. Written in the same layout llama.cpp writes, so its tools
// read our files and our reader reads theirs.
#pragma once

#include "engine/gguf_file.h"
#include "kernels/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nw {

class GgufWriter {
public:
    // `alignment` of the tensor data (a power of two); other than 32 it is also written as
    // general.alignment.
    explicit GgufWriter(std::size_t alignment = 32);

    // Metadata setters: setting a key again replaces its value (and type). Keys keep the
    // order of their first setting.
    void setUInt8(std::string_view key, std::uint8_t value);
    void setInt8(std::string_view key, std::int8_t value);
    void setUInt16(std::string_view key, std::uint16_t value);
    void setInt16(std::string_view key, std::int16_t value);
    void setUInt32(std::string_view key, std::uint32_t value);
    void setInt32(std::string_view key, std::int32_t value);
    void setUInt64(std::string_view key, std::uint64_t value);
    void setInt64(std::string_view key, std::int64_t value);
    void setFloat32(std::string_view key, float value);
    void setFloat64(std::string_view key, double value);
    void setBool(std::string_view key, bool value);
    void setString(std::string_view key, std::string_view value);
    void setStringArray(std::string_view key, std::span<const std::string> values);
    void setInt32Array(std::string_view key, std::span<const std::int32_t> values);
    void setUInt32Array(std::string_view key, std::span<const std::uint32_t> values);
    void setInt64Array(std::string_view key, std::span<const std::int64_t> values);
    void setFloat32Array(std::string_view key, std::span<const float> values);
    void setUInt8Array(std::string_view key, std::span<const std::uint8_t> values);
    void setBoolArray(std::string_view key, std::span<const bool> values);
    // Any value as the reader returns it, written as `type` (arrays: as their elementType);
    // copies metadata from a GgufFile. Throws nw::Error when the value does not fit `type`.
    void setValue(std::string_view key, GgufValueType type, const GgufValue &value);

    // A tensor from bytes already in `type`'s layout (shape in GGUF order, shape[0] the row
    // length); bytes.size() must be rowBytes(type, elements).
    void addTensor(std::string_view name, TensorType type, std::vector<std::int64_t> shape,
                   std::span<const std::byte> bytes);
    // A tensor from floats, quantized row by row to `target` through quantizeRow.
    void addTensor(std::string_view name, std::vector<std::int64_t> shape, const float *data,
                   TensorType target);

    std::size_t alignment() const { return m_alignment; }
    std::size_t tensorCount() const { return m_tensors.size(); }

    // The whole file image.
    std::vector<std::byte> toBytes() const;
    // Writes atomically: a temporary file next to `path`, flushed, then renamed over it.
    void write(const std::filesystem::path &path) const;

private:
    struct Entry {
        std::string key;
        GgufValueType type;
        std::vector<std::byte> encoded; // the value as it goes on disk (after the type id)
    };
    struct Tensor {
        std::string name;
        TensorType type;
        std::vector<std::int64_t> shape;
        std::vector<std::byte> bytes;
        std::uint64_t offset = 0; // within the data section
    };

    void setEncoded(std::string_view key, GgufValueType type, std::vector<std::byte> encoded);
    std::vector<std::byte> header() const; // everything before the data section, padded
    std::uint64_t dataBytes() const;

    std::size_t m_alignment;
    std::vector<Entry> m_entries;
    std::vector<Tensor> m_tensors;
};

} // namespace nw
