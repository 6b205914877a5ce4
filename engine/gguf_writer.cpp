// GGUF v3 encoding: header, key/values, tensor infos, then the tensor data, each tensor at an
// offset that is a multiple of the alignment (zero padding in between).
#include "engine/gguf_writer.h"

#include "common/assert.h"
#include "common/error.h"
#include "kernels/cpu/quantize.h"

#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

#include <fmt/ranges.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nw {
namespace {

template <typename T>
void append(std::vector<std::byte> &out, T value)
{
    static_assert(std::is_trivially_copyable_v<T>);
    // resize + memcpy rather than insert(p, p + n): at -O3 GCC 12 warns about the inlined
    // insert (a false -Wstringop-overflow).
    const std::size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &value, sizeof(T));
}

void appendString(std::vector<std::byte> &out, std::string_view s)
{
    append<std::uint64_t>(out, s.size());
    const std::size_t at = out.size();
    out.resize(at + s.size());
    if (!s.empty())
        std::memcpy(out.data() + at, s.data(), s.size());
}

std::uint64_t alignUp(std::uint64_t offset, std::size_t alignment)
{
    return (offset + alignment - 1) / alignment * alignment;
}

// Encodes `value` as `type`; widened reader values must fit the narrower on-disk type.
void encodeValue(std::vector<std::byte> &out, GgufValueType type, const GgufValue &value, std::string_view key)
{
    const auto integer = [&](std::int64_t lo, std::uint64_t hi) -> std::uint64_t {
        if (const auto *u = std::get_if<std::uint64_t>(&value)) {
            if (*u > hi)
                fail("GgufWriter: value {} of '{}' does not fit a {}", *u, key, ggufValueTypeName(type));
            return *u;
        }
        if (const auto *i = std::get_if<std::int64_t>(&value)) {
            if (*i < lo || (*i > 0 && static_cast<std::uint64_t>(*i) > hi))
                fail("GgufWriter: value {} of '{}' does not fit a {}", *i, key, ggufValueTypeName(type));
            return static_cast<std::uint64_t>(*i);
        }
        fail("GgufWriter: '{}' is not an integer", key);
    };
    switch (type) {
    case GgufValueType::UInt8: append(out, static_cast<std::uint8_t>(integer(0, 0xff))); return;
    case GgufValueType::Int8: append(out, static_cast<std::int8_t>(integer(-128, 127))); return;
    case GgufValueType::UInt16: append(out, static_cast<std::uint16_t>(integer(0, 0xffff))); return;
    case GgufValueType::Int16: append(out, static_cast<std::int16_t>(integer(-32768, 32767))); return;
    case GgufValueType::UInt32: append(out, static_cast<std::uint32_t>(integer(0, 0xffffffffu))); return;
    case GgufValueType::Int32:
        append(out, static_cast<std::int32_t>(integer(std::numeric_limits<std::int32_t>::min(),
                                                      std::numeric_limits<std::int32_t>::max())));
        return;
    case GgufValueType::UInt64: append(out, integer(0, std::numeric_limits<std::uint64_t>::max())); return;
    case GgufValueType::Int64:
        append(out, static_cast<std::int64_t>(integer(std::numeric_limits<std::int64_t>::min(),
                                                      std::numeric_limits<std::int64_t>::max())));
        return;
    case GgufValueType::Float32:
    case GgufValueType::Float64: {
        double d;
        if (const auto *f = std::get_if<double>(&value))
            d = *f;
        else if (const auto *i = std::get_if<std::int64_t>(&value))
            d = static_cast<double>(*i);
        else if (const auto *u = std::get_if<std::uint64_t>(&value))
            d = static_cast<double>(*u);
        else
            fail("GgufWriter: '{}' is not a number", key);
        if (type == GgufValueType::Float32)
            append(out, static_cast<float>(d));
        else
            append(out, d);
        return;
    }
    case GgufValueType::Bool:
        if (const auto *b = std::get_if<bool>(&value)) {
            append<std::uint8_t>(out, *b ? 1 : 0);
            return;
        }
        fail("GgufWriter: '{}' is not a bool", key);
    case GgufValueType::String:
        if (const auto *s = std::get_if<std::string>(&value)) {
            appendString(out, *s);
            return;
        }
        fail("GgufWriter: '{}' is not a string", key);
    case GgufValueType::Array: {
        const auto *a = std::get_if<std::shared_ptr<const GgufArray>>(&value);
        if (!a || !*a)
            fail("GgufWriter: '{}' is not an array", key);
        append(out, static_cast<std::uint32_t>((*a)->elementType));
        append<std::uint64_t>(out, (*a)->values.size());
        for (const GgufValue &element : (*a)->values)
            encodeValue(out, (*a)->elementType, element, key);
        return;
    }
    }
    fail("GgufWriter: '{}' has an unknown value type", key);
}

template <typename T>
std::vector<std::byte> encodeArray(GgufValueType elementType, std::span<const T> values)
{
    std::vector<std::byte> out;
    append(out, static_cast<std::uint32_t>(elementType));
    append<std::uint64_t>(out, values.size());
    for (const T &v : values) {
        if constexpr (std::is_same_v<T, std::string>)
            appendString(out, v);
        else if constexpr (std::is_same_v<T, bool>)
            append<std::uint8_t>(out, v ? 1 : 0);
        else
            append(out, v);
    }
    return out;
}

template <typename T>
std::vector<std::byte> encodeScalar(T value)
{
    std::vector<std::byte> out;
    append(out, value);
    return out;
}

void writeAll(int fd, const std::byte *data, std::size_t n, const std::string &path)
{
    while (n > 0) {
        const ssize_t written = ::write(fd, data, n);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            fail("{}: write failed: {}", path, std::strerror(errno));
        }
        data += written;
        n -= static_cast<std::size_t>(written);
    }
}

} // namespace

GgufWriter::GgufWriter(std::size_t alignment) : m_alignment(alignment)
{
    NW_ASSERT(alignment > 0 && std::has_single_bit(alignment) && alignment <= kGgufMaxAlignment);
    if (alignment != 32)
        setUInt32("general.alignment", static_cast<std::uint32_t>(alignment));
}

void GgufWriter::setEncoded(std::string_view key, GgufValueType type, std::vector<std::byte> encoded)
{
    if (key.empty())
        fail("GgufWriter: empty metadata key");
    for (Entry &e : m_entries)
        if (e.key == key) {
            e.type = type;
            e.encoded = std::move(encoded);
            return;
        }
    m_entries.push_back({std::string(key), type, std::move(encoded)});
}

void GgufWriter::setUInt8(std::string_view key, std::uint8_t v) { setEncoded(key, GgufValueType::UInt8, encodeScalar(v)); }
void GgufWriter::setInt8(std::string_view key, std::int8_t v) { setEncoded(key, GgufValueType::Int8, encodeScalar(v)); }
void GgufWriter::setUInt16(std::string_view key, std::uint16_t v) { setEncoded(key, GgufValueType::UInt16, encodeScalar(v)); }
void GgufWriter::setInt16(std::string_view key, std::int16_t v) { setEncoded(key, GgufValueType::Int16, encodeScalar(v)); }
void GgufWriter::setUInt32(std::string_view key, std::uint32_t v) { setEncoded(key, GgufValueType::UInt32, encodeScalar(v)); }
void GgufWriter::setInt32(std::string_view key, std::int32_t v) { setEncoded(key, GgufValueType::Int32, encodeScalar(v)); }
void GgufWriter::setUInt64(std::string_view key, std::uint64_t v) { setEncoded(key, GgufValueType::UInt64, encodeScalar(v)); }
void GgufWriter::setInt64(std::string_view key, std::int64_t v) { setEncoded(key, GgufValueType::Int64, encodeScalar(v)); }
void GgufWriter::setFloat32(std::string_view key, float v) { setEncoded(key, GgufValueType::Float32, encodeScalar(v)); }
void GgufWriter::setFloat64(std::string_view key, double v) { setEncoded(key, GgufValueType::Float64, encodeScalar(v)); }
void GgufWriter::setBool(std::string_view key, bool v) { setEncoded(key, GgufValueType::Bool, encodeScalar<std::uint8_t>(v ? 1 : 0)); }

void GgufWriter::setString(std::string_view key, std::string_view value)
{
    std::vector<std::byte> out;
    appendString(out, value);
    setEncoded(key, GgufValueType::String, std::move(out));
}

void GgufWriter::setStringArray(std::string_view key, std::span<const std::string> values)
{
    setEncoded(key, GgufValueType::Array, encodeArray(GgufValueType::String, values));
}
void GgufWriter::setInt32Array(std::string_view key, std::span<const std::int32_t> values)
{
    setEncoded(key, GgufValueType::Array, encodeArray(GgufValueType::Int32, values));
}
void GgufWriter::setUInt32Array(std::string_view key, std::span<const std::uint32_t> values)
{
    setEncoded(key, GgufValueType::Array, encodeArray(GgufValueType::UInt32, values));
}
void GgufWriter::setInt64Array(std::string_view key, std::span<const std::int64_t> values)
{
    setEncoded(key, GgufValueType::Array, encodeArray(GgufValueType::Int64, values));
}
void GgufWriter::setFloat32Array(std::string_view key, std::span<const float> values)
{
    setEncoded(key, GgufValueType::Array, encodeArray(GgufValueType::Float32, values));
}
void GgufWriter::setUInt8Array(std::string_view key, std::span<const std::uint8_t> values)
{
    setEncoded(key, GgufValueType::Array, encodeArray(GgufValueType::UInt8, values));
}
void GgufWriter::setBoolArray(std::string_view key, std::span<const bool> values)
{
    setEncoded(key, GgufValueType::Array, encodeArray(GgufValueType::Bool, values));
}

void GgufWriter::setValue(std::string_view key, GgufValueType type, const GgufValue &value)
{
    std::vector<std::byte> out;
    encodeValue(out, type, value, key);
    setEncoded(key, type, std::move(out));
}

void GgufWriter::addTensor(std::string_view name, TensorType type, std::vector<std::int64_t> shape,
                           std::span<const std::byte> bytes)
{
    if (name.empty())
        fail("GgufWriter: empty tensor name");
    for (const Tensor &t : m_tensors)
        if (t.name == name)
            fail("GgufWriter: tensor '{}' added twice", name);
    if (shape.empty() || shape.size() > kGgufMaxDims)
        fail("GgufWriter: tensor '{}' has {} dimensions (1 to {} allowed)", name, shape.size(), kGgufMaxDims);
    std::int64_t elements = 1;
    for (const auto d : shape) {
        if (d <= 0 || elements > std::numeric_limits<std::int64_t>::max() / d)
            fail("GgufWriter: tensor '{}' has a bad dimension {}", name, d);
        elements *= d;
    }
    const auto &traits = tensorTypeTraits(type);
    if (shape[0] % static_cast<std::int64_t>(traits.blockElements) != 0)
        fail("GgufWriter: tensor '{}' row length {} is not a multiple of the {} block size {}", name, shape[0],
             traits.name, traits.blockElements);
    const std::size_t expected = rowBytes(type, static_cast<std::size_t>(elements));
    if (bytes.size() != expected)
        fail("GgufWriter: tensor '{}' has {} bytes, {} {} needs {}", name, bytes.size(), traits.name,
             fmt::join(shape, "x"), expected);
    Tensor t{std::string(name), type, std::move(shape), std::vector<std::byte>(bytes.begin(), bytes.end()), 0};
    t.offset = m_tensors.empty() ? 0 : alignUp(m_tensors.back().offset + m_tensors.back().bytes.size(), m_alignment);
    m_tensors.push_back(std::move(t));
}

void GgufWriter::addTensor(std::string_view name, std::vector<std::int64_t> shape, const float *data,
                           TensorType target)
{
    if (shape.empty() || shape[0] <= 0)
        fail("GgufWriter: tensor '{}' has no row length", name);
    if (!canQuantize(target))
        fail("GgufWriter: cannot quantize tensor '{}' to {}", name, tensorTypeName(target));
    const auto &traits = tensorTypeTraits(target);
    if (shape[0] % static_cast<std::int64_t>(traits.blockElements) != 0)
        fail("GgufWriter: tensor '{}' row length {} is not a multiple of the {} block size {}", name, shape[0],
             traits.name, traits.blockElements);
    std::int64_t rows = 1;
    for (std::size_t d = 1; d < shape.size(); ++d) {
        if (shape[d] <= 0 || rows > std::numeric_limits<std::int64_t>::max() / shape[d])
            fail("GgufWriter: tensor '{}' has a bad dimension {}", name, shape[d]);
        rows *= shape[d];
    }
    const auto rowLength = static_cast<std::size_t>(shape[0]);
    const std::size_t bytesPerRow = rowBytes(target, rowLength);
    std::vector<std::byte> bytes(bytesPerRow * static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r)
        quantizeRow(target, data + static_cast<std::size_t>(r) * rowLength,
                    bytes.data() + static_cast<std::size_t>(r) * bytesPerRow, rowLength);
    addTensor(name, target, std::move(shape), bytes);
}

std::vector<std::byte> GgufWriter::header() const
{
    std::vector<std::byte> out;
    append<std::uint32_t>(out, 0x46554747); // "GGUF"
    append<std::uint32_t>(out, 3);
    append<std::uint64_t>(out, m_tensors.size());
    append<std::uint64_t>(out, m_entries.size());
    for (const Entry &e : m_entries) {
        appendString(out, e.key);
        append(out, static_cast<std::uint32_t>(e.type));
        out.insert(out.end(), e.encoded.begin(), e.encoded.end());
    }
    for (const Tensor &t : m_tensors) {
        appendString(out, t.name);
        append<std::uint32_t>(out, static_cast<std::uint32_t>(t.shape.size()));
        for (const auto d : t.shape)
            append<std::uint64_t>(out, static_cast<std::uint64_t>(d));
        append(out, static_cast<std::uint32_t>(t.type));
        append<std::uint64_t>(out, t.offset);
    }
    out.resize(alignUp(out.size(), m_alignment), std::byte{0});
    return out;
}

std::uint64_t GgufWriter::dataBytes() const
{
    if (m_tensors.empty())
        return 0;
    return alignUp(m_tensors.back().offset + m_tensors.back().bytes.size(), m_alignment);
}

std::vector<std::byte> GgufWriter::toBytes() const
{
    std::vector<std::byte> out = header();
    const std::size_t dataStart = out.size();
    out.resize(dataStart + dataBytes(), std::byte{0});
    for (const Tensor &t : m_tensors)
        std::memcpy(out.data() + dataStart + t.offset, t.bytes.data(), t.bytes.size());
    return out;
}

void GgufWriter::write(const std::filesystem::path &path) const
{
    const std::string target = path.string();
    std::string temp = target + ".tmp-XXXXXX";
    const int fd = ::mkstemp(temp.data());
    if (fd < 0)
        fail("{}: cannot create a temporary file next to it: {}", target, std::strerror(errno));
    bool closed = false;
    try {
        if (::fchmod(fd, 0644) != 0) // mkstemp makes it 0600; a model file is not a secret
            fail("{}: chmod failed: {}", temp, std::strerror(errno));
        const std::vector<std::byte> head = header();
        writeAll(fd, head.data(), head.size(), temp);
        std::uint64_t written = 0;
        const std::vector<std::byte> zeros(m_alignment, std::byte{0});
        for (const Tensor &t : m_tensors) {
            writeAll(fd, zeros.data(), static_cast<std::size_t>(t.offset - written), temp);
            writeAll(fd, t.bytes.data(), t.bytes.size(), temp);
            written = t.offset + t.bytes.size();
        }
        writeAll(fd, zeros.data(), static_cast<std::size_t>(dataBytes() - written), temp);
        if (::fsync(fd) != 0)
            fail("{}: fsync failed: {}", temp, std::strerror(errno));
        closed = true;
        if (::close(fd) != 0)
            fail("{}: close failed: {}", temp, std::strerror(errno));
    } catch (...) {
        if (!closed)
            ::close(fd);
        ::unlink(temp.c_str());
        throw;
    }
    if (::rename(temp.c_str(), target.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        fail("{}: cannot rename the temporary file into place: {}", target, std::strerror(err));
    }
}

} // namespace nw
