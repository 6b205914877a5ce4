// GGUF v3 reader (v2 accepted): maps a model file and validates its header, metadata and tensor
// table before anything is used; every offset, count and length is checked against the file
// size, so a hostile file gives an nw::Error, never a crash or a huge allocation.
// Format: https://github.com/ggerganov/ggml/blob/master/docs/gguf.md
#pragma once

#include "kernels/tensor_type.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nw {

// GGUF metadata value types, numbered as on disk.
enum class GgufValueType : std::uint32_t {
    UInt8 = 0,
    Int8 = 1,
    UInt16 = 2,
    Int16 = 3,
    UInt32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    UInt64 = 10,
    Int64 = 11,
    Float64 = 12,
};

// Limits the reader enforces on hostile files (beyond "fits in the file").
constexpr std::size_t kGgufMaxDims = 4; // as GGML_MAX_DIMS
constexpr int kGgufMaxArrayDepth = 4; // arrays of arrays of ... (the spec allows nesting)
constexpr std::size_t kGgufMaxAlignment = 1u << 20;
// Metadata values are widened in memory (up to ~40 bytes for a 1-byte value), so the counts
// are capped too: far above any real vocabulary (about 260k tokens, 300k merges), far below
// what would exhaust memory (the worst case, 2^22 one-byte values, takes ~170 MB).
constexpr std::uint64_t kGgufMaxArrayElements = 1u << 21;
constexpr std::uint64_t kGgufMaxMetadataValues = 1u << 22; // all array elements together

std::string_view ggufValueTypeName(GgufValueType type);

// One metadata value. Numbers are widened on read (unsigned ints to uint64, signed ints to
// int64, floats to double); the on-disk type stays available through findValueType() and,
// for arrays, GgufArray::elementType.
struct GgufArray;
using GgufValue
    = std::variant<std::uint64_t, std::int64_t, double, bool, std::string, std::shared_ptr<const GgufArray>>;
struct GgufArray {
    GgufValueType elementType = GgufValueType::UInt8;
    std::vector<GgufValue> values;
};

// A tensor's description and its bytes inside the mapping (no copy unless misaligned).
struct TensorView {
    std::string name;
    TensorType type = TensorType::F32;
    std::vector<std::int64_t> shape; // GGUF order: shape[0] is the fastest-varying (row length)
    // Into the mapping, valid while the GgufFile lives; aligned for the type's block struct (the
    // reader copies a tensor that a small general.alignment put at an unaligned address).
    const std::byte *data = nullptr;
    std::size_t bytes = 0;

    std::int64_t elements() const;
    std::int64_t rows() const { return shape.empty() ? 0 : elements() / shape[0]; }
    std::int64_t rowLength() const { return shape.empty() ? 0 : shape[0]; }
};

class GgufFile {
public:
    // Maps and validates the file; throws nw::Error naming the file and what is wrong
    // ("model.gguf: tensor 'x' data runs past the end of the file at byte 1234").
    static std::unique_ptr<GgufFile> open(const std::filesystem::path &path);
    // Validates an in-memory image (tests, fuzzing); the bytes must outlive the object.
    static std::unique_ptr<GgufFile> fromMemory(std::span<const std::byte> bytes, std::string label);

    ~GgufFile();
    GgufFile(const GgufFile &) = delete;
    GgufFile &operator=(const GgufFile &) = delete;

    const std::string &label() const { return m_label; } // the path, for messages
    std::uint32_t version() const { return m_version; }
    std::size_t fileBytes() const { return m_bytes.size(); }
    std::size_t alignment() const { return m_alignment; }

    // Metadata, by key ("general.architecture"). find*() return nullopt when the key is absent
    // or has another type; require*() throw nw::Error naming the file and key.
    const std::map<std::string, GgufValue, std::less<>> &metadata() const { return m_metadata; }
    const GgufValue *findValue(std::string_view key) const;
    std::optional<GgufValueType> findValueType(std::string_view key) const; // as on disk
    std::optional<std::string> findString(std::string_view key) const;
    std::optional<std::int64_t> findInt(std::string_view key) const; // any integer type
    std::optional<double> findFloat(std::string_view key) const; // any number type
    std::optional<bool> findBool(std::string_view key) const;
    const GgufArray *findArray(std::string_view key) const;
    std::string requireString(std::string_view key) const;
    std::int64_t requireInt(std::string_view key) const;
    double requireFloat(std::string_view key) const;
    const GgufArray &requireArray(std::string_view key) const;

    // Tensors in file order.
    const std::vector<TensorView> &tensors() const { return m_tensors; }
    const TensorView *findTensor(std::string_view name) const;
    const TensorView &requireTensor(std::string_view name) const;

private:
    GgufFile() = default;
    void parse();

    std::string m_label;
    std::span<const std::byte> m_bytes;
    void *m_mapping = nullptr; // munmap on destruction when the file was mapped
    std::size_t m_mappingBytes = 0;
    std::uint32_t m_version = 0;
    std::size_t m_alignment = 32;
    std::map<std::string, GgufValue, std::less<>> m_metadata;
    std::map<std::string, GgufValueType, std::less<>> m_metadataTypes;
    std::vector<TensorView> m_tensors;
    std::vector<std::unique_ptr<std::byte[]>> m_alignedCopies; // tensors the file placed misaligned
    std::map<std::string, std::size_t, std::less<>> m_tensorIndex;
};

} // namespace nw
