// GGUF parsing: a bounds-checked cursor over the mapped bytes. Counts read from the file are
// capped by the bytes left before anything is reserved, so the memory we allocate stays
// proportional to the file size whatever the header claims.
#include "engine/gguf_file.h"

#include "common/error.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static_assert(std::endian::native == std::endian::little, "GGUF parsing assumes a little-endian host");

namespace nw {
namespace {

constexpr std::uint32_t kMagic = 0x46554747; // "GGUF" read as a little-endian u32

// Smallest encoded size of one value of each type, used to cap counts by the bytes left.
std::size_t minEncodedBytes(GgufValueType type)
{
    switch (type) {
    case GgufValueType::UInt8:
    case GgufValueType::Int8:
    case GgufValueType::Bool:
        return 1;
    case GgufValueType::UInt16:
    case GgufValueType::Int16:
        return 2;
    case GgufValueType::UInt32:
    case GgufValueType::Int32:
    case GgufValueType::Float32:
        return 4;
    case GgufValueType::UInt64:
    case GgufValueType::Int64:
    case GgufValueType::Float64:
        return 8;
    case GgufValueType::String:
        return 8; // the length
    case GgufValueType::Array:
        return 12; // element type + count
    }
    return 1;
}

bool knownValueType(std::uint32_t id)
{
    return id <= static_cast<std::uint32_t>(GgufValueType::Float64);
}

class Cursor {
public:
    Cursor(std::span<const std::byte> bytes, const std::string &label)
        : m_bytes(bytes)
        , m_label(label)
    {
    }

    std::size_t offset() const { return m_offset; }
    std::size_t remaining() const { return m_bytes.size() - m_offset; }

    [[noreturn]] void failAt(std::size_t offset, const std::string &what) const
    {
        fail("{}: {} at byte {}", m_label, what, offset);
    }

    void need(std::size_t n, std::string_view what) const
    {
        if (n > remaining())
            failAt(m_offset, fmt::format("{} needs {} bytes but the file ends ({} bytes)", what, n, m_bytes.size()));
    }

    template <typename T> T read(std::string_view what)
    {
        need(sizeof(T), what);
        T value;
        std::memcpy(&value, m_bytes.data() + m_offset, sizeof(T));
        m_offset += sizeof(T);
        return value;
    }

    std::string readString(std::string_view what)
    {
        const std::size_t at = m_offset;
        const auto length = read<std::uint64_t>(what);
        if (length > remaining())
            failAt(at, fmt::format("{} has length {} but only {} bytes are left", what, length, remaining()));
        std::string s(reinterpret_cast<const char *>(m_bytes.data() + m_offset), static_cast<std::size_t>(length));
        m_offset += static_cast<std::size_t>(length);
        return s;
    }

    // A count of items that each take at least `minBytes`; refused when they cannot fit.
    std::uint64_t readCount(std::string_view what, std::size_t minBytes)
    {
        const std::size_t at = m_offset;
        const auto count = read<std::uint64_t>(what);
        if (count > remaining() / minBytes)
            failAt(at, fmt::format("{} {} cannot fit in the {} bytes left", what, count, remaining()));
        return count;
    }

private:
    std::span<const std::byte> m_bytes;
    const std::string &m_label;
    std::size_t m_offset = 0;
};

struct ParsedValue {
    GgufValueType type;
    GgufValue value;
};

GgufValue readScalar(Cursor &in, GgufValueType type, std::string_view what)
{
    switch (type) {
    case GgufValueType::UInt8:
        return std::uint64_t { in.read<std::uint8_t>(what) };
    case GgufValueType::Int8:
        return std::int64_t { in.read<std::int8_t>(what) };
    case GgufValueType::UInt16:
        return std::uint64_t { in.read<std::uint16_t>(what) };
    case GgufValueType::Int16:
        return std::int64_t { in.read<std::int16_t>(what) };
    case GgufValueType::UInt32:
        return std::uint64_t { in.read<std::uint32_t>(what) };
    case GgufValueType::Int32:
        return std::int64_t { in.read<std::int32_t>(what) };
    case GgufValueType::UInt64:
        return std::uint64_t { in.read<std::uint64_t>(what) };
    case GgufValueType::Int64:
        return std::int64_t { in.read<std::int64_t>(what) };
    case GgufValueType::Float32:
        return double { in.read<float>(what) };
    case GgufValueType::Float64:
        return double { in.read<double>(what) };
    case GgufValueType::Bool: {
        const std::size_t at = in.offset();
        const auto b = in.read<std::uint8_t>(what);
        if (b > 1)
            in.failAt(at, fmt::format("{} is a bool with value {} (not 0 or 1)", what, b));
        return b == 1;
    }
    case GgufValueType::String:
        return in.readString(what);
    case GgufValueType::Array:
        break;
    }
    return std::uint64_t { 0 };
}

GgufValue readValue(Cursor &in, GgufValueType type, std::string_view what, int depth, std::uint64_t &nValues)
{
    if (type != GgufValueType::Array)
        return readScalar(in, type, what);
    if (depth >= kGgufMaxArrayDepth)
        in.failAt(in.offset(), fmt::format("{} nests arrays deeper than {}", what, kGgufMaxArrayDepth));
    const std::size_t at = in.offset();
    const auto elementId = in.read<std::uint32_t>(what);
    if (!knownValueType(elementId))
        in.failAt(at, fmt::format("{} has unknown array element type {}", what, elementId));
    const auto elementType = static_cast<GgufValueType>(elementId);
    const std::size_t countAt = in.offset();
    const auto count = in.readCount(fmt::format("{} array length", what), minEncodedBytes(elementType));
    if (count > kGgufMaxArrayElements)
        in.failAt(countAt,
            fmt::format(
                "{} array length {} is more than the {} this reader accepts", what, count, kGgufMaxArrayElements));
    nValues += count;
    if (nValues > kGgufMaxMetadataValues)
        in.failAt(
            countAt, fmt::format("the metadata holds more than {} array elements in all", kGgufMaxMetadataValues));
    auto array = std::make_shared<GgufArray>();
    array->elementType = elementType;
    array->values.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i)
        array->values.push_back(readValue(in, elementType, what, depth + 1, nValues));
    return std::shared_ptr<const GgufArray>(std::move(array));
}

// The alignment of what kernels read a tensor's bytes as: its block struct or element type.
std::size_t readAlignment(TensorType type)
{
    switch (type) {
    case TensorType::F32:
        return alignof(float);
    case TensorType::F16:
        return alignof(f16_t);
    case TensorType::BF16:
        return alignof(bf16_t);
    case TensorType::I32:
        return alignof(std::int32_t);
    case TensorType::Q4_0:
        return alignof(BlockQ4_0);
    case TensorType::Q4_1:
        return alignof(BlockQ4_1);
    case TensorType::Q5_0:
        return alignof(BlockQ5_0);
    case TensorType::Q5_1:
        return alignof(BlockQ5_1);
    case TensorType::Q8_0:
        return alignof(BlockQ8_0);
    case TensorType::Q8_1:
        return alignof(BlockQ8_1);
    case TensorType::Q2_K:
        return alignof(BlockQ2_K);
    case TensorType::Q3_K:
        return alignof(BlockQ3_K);
    case TensorType::Q4_K:
        return alignof(BlockQ4_K);
    case TensorType::Q5_K:
        return alignof(BlockQ5_K);
    case TensorType::Q6_K:
        return alignof(BlockQ6_K);
    case TensorType::Q8_K:
        return alignof(BlockQ8_K);
    default: // the types read but not computed with: the strictest, which covers their blocks
        return alignof(std::max_align_t);
    }
}

std::size_t alignUp(std::size_t offset, std::size_t alignment, bool &overflow)
{
    const std::size_t rest = offset % alignment;
    if (rest == 0)
        return offset;
    overflow = offset > std::numeric_limits<std::size_t>::max() - (alignment - rest);
    return overflow ? 0 : offset + (alignment - rest);
}

} // namespace

std::string_view ggufValueTypeName(GgufValueType type)
{
    switch (type) {
    case GgufValueType::UInt8:
        return "uint8";
    case GgufValueType::Int8:
        return "int8";
    case GgufValueType::UInt16:
        return "uint16";
    case GgufValueType::Int16:
        return "int16";
    case GgufValueType::UInt32:
        return "uint32";
    case GgufValueType::Int32:
        return "int32";
    case GgufValueType::Float32:
        return "float32";
    case GgufValueType::Bool:
        return "bool";
    case GgufValueType::String:
        return "string";
    case GgufValueType::Array:
        return "array";
    case GgufValueType::UInt64:
        return "uint64";
    case GgufValueType::Int64:
        return "int64";
    case GgufValueType::Float64:
        return "float64";
    }
    return "unknown";
}

std::int64_t TensorView::elements() const
{
    std::int64_t n = 1;
    for (const auto d : shape)
        n *= d; // the reader checked the product for overflow
    return n;
}

std::unique_ptr<GgufFile> GgufFile::open(const std::filesystem::path &path)
{
    const std::string label = path.string();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail("{}: cannot open: {}", label, std::strerror(errno));
    struct stat st { };
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        fail("{}: cannot stat: {}", label, std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail("{}: not a regular file", label);
    }
    if (st.st_size == 0) {
        ::close(fd);
        fail("{}: file is empty, not a GGUF model", label);
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    void *mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int mapErr = errno;
    ::close(fd); // the mapping keeps the file alive
    if (mapping == MAP_FAILED)
        fail("{}: cannot map {} bytes: {}", label, size, std::strerror(mapErr));

    std::unique_ptr<GgufFile> file(new GgufFile());
    file->m_label = label;
    file->m_mapping = mapping;
    file->m_mappingBytes = size;
    file->m_bytes = std::span<const std::byte>(static_cast<const std::byte *>(mapping), size);
    file->parse(); // on throw, the destructor unmaps
    return file;
}

std::unique_ptr<GgufFile> GgufFile::fromMemory(std::span<const std::byte> bytes, std::string label)
{
    std::unique_ptr<GgufFile> file(new GgufFile());
    file->m_label = std::move(label);
    file->m_bytes = bytes;
    file->parse();
    return file;
}

GgufFile::~GgufFile()
{
    if (m_mapping)
        ::munmap(m_mapping, m_mappingBytes);
}

void GgufFile::parse()
{
    Cursor in(m_bytes, m_label);
    const auto magic = in.read<std::uint32_t>("the GGUF magic");
    if (magic != kMagic)
        in.failAt(0, "not a GGUF file (the magic is not \"GGUF\")");
    m_version = in.read<std::uint32_t>("the version");
    if (m_version == 1)
        in.failAt(4, "GGUF version 1 is not supported (re-convert the model with a current llama.cpp)");
    if ((m_version & 0xffffu) == 0 && (m_version >> 16) != 0)
        in.failAt(4, "big-endian GGUF files are not supported");
    if (m_version != 2 && m_version != 3)
        in.failAt(4, fmt::format("unknown GGUF version {}", m_version));

    // Each tensor info takes at least 8 (name length) + 4 (dims) + 8 (one dim) + 4 (type)
    // + 8 (offset) bytes; each key/value at least 8 (key length) + 4 (type) + 1.
    const std::size_t countsAt = in.offset();
    const auto nTensors = in.read<std::uint64_t>("the tensor count");
    const auto nKeys = in.readCount("the metadata key count", 13);
    if (nTensors > in.remaining() / 32)
        in.failAt(
            countsAt, fmt::format("the tensor count {} cannot fit in the {} bytes left", nTensors, in.remaining()));

    std::uint64_t nValues = 0;
    std::size_t alignmentAt = 0;
    for (std::uint64_t k = 0; k < nKeys; ++k) {
        const std::size_t keyAt = in.offset();
        std::string key = in.readString(fmt::format("metadata key #{}", k));
        if (key.empty())
            in.failAt(keyAt, fmt::format("metadata key #{} is empty", k));
        if (m_metadata.contains(key))
            in.failAt(keyAt, fmt::format("metadata key '{}' appears twice", key));
        const std::size_t typeAt = in.offset();
        const auto typeId = in.read<std::uint32_t>(fmt::format("the type of metadata key '{}'", key));
        if (!knownValueType(typeId))
            in.failAt(typeAt, fmt::format("metadata key '{}' has unknown value type {}", key, typeId));
        const auto type = static_cast<GgufValueType>(typeId);
        if (key == "general.alignment")
            alignmentAt = in.offset();
        GgufValue value = readValue(in, type, fmt::format("metadata key '{}'", key), 0, nValues);
        m_metadataTypes.emplace(key, type);
        m_metadata.emplace(std::move(key), std::move(value));
    }

    if (const auto it = m_metadata.find("general.alignment"); it != m_metadata.end()) {
        const auto *alignment = std::get_if<std::uint64_t>(&it->second);
        if (!alignment || m_metadataTypes.at("general.alignment") != GgufValueType::UInt32)
            in.failAt(alignmentAt, "general.alignment must be a uint32");
        if (*alignment == 0 || !std::has_single_bit(*alignment) || *alignment > kGgufMaxAlignment)
            in.failAt(alignmentAt,
                fmt::format(
                    "general.alignment {} is not a power of two between 1 and {}", *alignment, kGgufMaxAlignment));
        m_alignment = static_cast<std::size_t>(*alignment);
    }

    struct Extent {
        std::uint64_t offset;
        std::size_t infoAt;
    };
    std::vector<Extent> extents;
    m_tensors.reserve(static_cast<std::size_t>(nTensors));
    extents.reserve(static_cast<std::size_t>(nTensors));
    for (std::uint64_t t = 0; t < nTensors; ++t) {
        const std::size_t infoAt = in.offset();
        TensorView view;
        view.name = in.readString(fmt::format("the name of tensor #{}", t));
        if (view.name.empty())
            in.failAt(infoAt, fmt::format("tensor #{} has an empty name", t));
        if (m_tensorIndex.contains(view.name))
            in.failAt(infoAt, fmt::format("tensor '{}' appears twice", view.name));
        const std::string what = fmt::format("tensor '{}'", view.name);
        const std::size_t dimsAt = in.offset();
        const auto nDims = in.read<std::uint32_t>(what + " dimension count");
        if (nDims == 0 || nDims > kGgufMaxDims)
            in.failAt(dimsAt, fmt::format("{} has {} dimensions (1 to {} allowed)", what, nDims, kGgufMaxDims));
        std::int64_t elements = 1;
        for (std::uint32_t d = 0; d < nDims; ++d) {
            const std::size_t dimAt = in.offset();
            const auto dim = in.read<std::uint64_t>(what + " dimension");
            if (dim == 0 || dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                in.failAt(dimAt, fmt::format("{} dimension {} is {} (must be positive)", what, d, dim));
            const auto dimension = static_cast<std::int64_t>(dim);
            if (elements > std::numeric_limits<std::int64_t>::max() / dimension)
                in.failAt(dimAt, fmt::format("{} element count overflows", what));
            elements *= dimension;
            view.shape.push_back(dimension);
        }
        const std::size_t typeAt = in.offset();
        const auto typeId = in.read<std::uint32_t>(what + " type");
        const auto traits = findTensorType(typeId);
        if (!traits) // ggml's ids all have a row (kernels/tensor_type.cpp): this one is newer than us
            in.failAt(typeAt,
                fmt::format("{} has unknown tensor type {} (this engine computes with {})", what, typeId,
                    supportedTensorTypeList()));
        view.type = traits->type;
        if (view.shape[0] % static_cast<std::int64_t>(traits->blockElements) != 0)
            in.failAt(dimsAt,
                fmt::format("{} row length {} is not a multiple of the {} block size {}", what, view.shape[0],
                    traits->name, traits->blockElements));
        const auto blocks = static_cast<std::uint64_t>(elements) / traits->blockElements;
        if (blocks > std::numeric_limits<std::uint64_t>::max() / traits->blockBytes
            || blocks * traits->blockBytes > m_bytes.size())
            in.failAt(dimsAt, fmt::format("{} needs more bytes than the file has ({})", what, m_bytes.size()));
        view.bytes = static_cast<std::size_t>(blocks * traits->blockBytes);
        const std::size_t offsetAt = in.offset();
        const auto offset = in.read<std::uint64_t>(what + " data offset");
        if (offset % m_alignment != 0)
            in.failAt(offsetAt,
                fmt::format("{} data offset {} is not a multiple of the alignment {}", what, offset, m_alignment));
        extents.push_back({ offset, offsetAt });
        m_tensorIndex.emplace(view.name, m_tensors.size());
        m_tensors.push_back(std::move(view));
    }

    bool overflow = false;
    const std::size_t dataStart = alignUp(in.offset(), m_alignment, overflow);
    if (overflow || (dataStart > m_bytes.size() && !m_tensors.empty()))
        in.failAt(in.offset(), "the tensor data section starts past the end of the file");
    const std::size_t dataBytes = dataStart <= m_bytes.size() ? m_bytes.size() - dataStart : 0;

    for (std::size_t t = 0; t < m_tensors.size(); ++t) {
        TensorView &view = m_tensors[t];
        const std::uint64_t offset = extents[t].offset;
        if (offset > dataBytes || view.bytes > dataBytes - offset)
            in.failAt(extents[t].infoAt,
                fmt::format("tensor '{}' data ({} bytes at data offset {}) runs past the end of the file "
                            "({} data bytes)",
                    view.name, view.bytes, offset, dataBytes));
        view.data = m_bytes.data() + dataStart + offset;
        // With general.alignment below 4 (1 is legal, and llama.cpp reads such files) a tensor can
        // start at an address its block struct or float may not sit at, and every kernel reads
        // through such casts. llama.cpp reads the mapping in place there (undefined behaviour that
        // x86 forgives); we copy just those tensors, as llama.cpp does without mmap.
        const std::size_t need = readAlignment(view.type);
        if (reinterpret_cast<std::uintptr_t>(view.data) % need != 0) {
            // operator new[] aligns to __STDCPP_DEFAULT_NEW_ALIGNMENT__, above every block struct's
            auto copy = std::make_unique_for_overwrite<std::byte[]>(view.bytes);
            std::memcpy(copy.get(), view.data, view.bytes);
            view.data = copy.get();
            m_alignedCopies.push_back(std::move(copy));
        }
    }

    // Tensors may not overlap: a weight written through one view would change another.
    std::vector<std::size_t> order(m_tensors.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(),
        [&](std::size_t a, std::size_t b) { return extents[a].offset < extents[b].offset; });
    for (std::size_t i = 1; i < order.size(); ++i) {
        const std::size_t prev = order[i - 1], cur = order[i];
        if (extents[prev].offset + m_tensors[prev].bytes > extents[cur].offset)
            in.failAt(extents[cur].infoAt,
                fmt::format("tensor '{}' overlaps tensor '{}'", m_tensors[cur].name, m_tensors[prev].name));
    }
}

const GgufValue *GgufFile::findValue(std::string_view key) const
{
    const auto it = m_metadata.find(key);
    return it == m_metadata.end() ? nullptr : &it->second;
}

std::optional<GgufValueType> GgufFile::findValueType(std::string_view key) const
{
    const auto it = m_metadataTypes.find(key);
    if (it == m_metadataTypes.end())
        return std::nullopt;
    return it->second;
}

std::optional<std::string> GgufFile::findString(std::string_view key) const
{
    const GgufValue *value = findValue(key);
    if (const auto *s = value ? std::get_if<std::string>(value) : nullptr)
        return *s;
    return std::nullopt;
}

std::optional<std::int64_t> GgufFile::findInt(std::string_view key) const
{
    const GgufValue *value = findValue(key);
    if (!value)
        return std::nullopt;
    if (const auto *i = std::get_if<std::int64_t>(value))
        return *i;
    if (const auto *u = std::get_if<std::uint64_t>(value))
        if (*u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return static_cast<std::int64_t>(*u);
    return std::nullopt;
}

std::optional<double> GgufFile::findFloat(std::string_view key) const
{
    const GgufValue *value = findValue(key);
    if (!value)
        return std::nullopt;
    if (const auto *d = std::get_if<double>(value))
        return *d;
    if (const auto *i = std::get_if<std::int64_t>(value))
        return static_cast<double>(*i);
    if (const auto *u = std::get_if<std::uint64_t>(value))
        return static_cast<double>(*u);
    return std::nullopt;
}

std::optional<bool> GgufFile::findBool(std::string_view key) const
{
    const GgufValue *value = findValue(key);
    if (const auto *b = value ? std::get_if<bool>(value) : nullptr)
        return *b;
    return std::nullopt;
}

const GgufArray *GgufFile::findArray(std::string_view key) const
{
    const GgufValue *value = findValue(key);
    if (const auto *a = value ? std::get_if<std::shared_ptr<const GgufArray>>(value) : nullptr)
        return a->get();
    return nullptr;
}

namespace {
[[noreturn]] void failMissing(const GgufFile &file, std::string_view key, std::string_view expected)
{
    if (const auto type = file.findValueType(key))
        fail("{}: metadata key '{}' is a {}, expected {}", file.label(), key, ggufValueTypeName(*type), expected);
    fail("{}: metadata key '{}' not found", file.label(), key);
}
} // namespace

std::string GgufFile::requireString(std::string_view key) const
{
    if (auto s = findString(key))
        return *std::move(s);
    failMissing(*this, key, "a string");
}

std::int64_t GgufFile::requireInt(std::string_view key) const
{
    if (const auto i = findInt(key))
        return *i;
    failMissing(*this, key, "an integer");
}

double GgufFile::requireFloat(std::string_view key) const
{
    if (const auto d = findFloat(key))
        return *d;
    failMissing(*this, key, "a number");
}

const GgufArray &GgufFile::requireArray(std::string_view key) const
{
    if (const GgufArray *a = findArray(key))
        return *a;
    failMissing(*this, key, "an array");
}

const TensorView *GgufFile::findTensor(std::string_view name) const
{
    const auto it = m_tensorIndex.find(name);
    return it == m_tensorIndex.end() ? nullptr : &m_tensors[it->second];
}

const TensorView &GgufFile::requireTensor(std::string_view name) const
{
    if (const TensorView *t = findTensor(name))
        return *t;
    fail("{}: tensor '{}' not found", m_label, name);
}

} // namespace nw
