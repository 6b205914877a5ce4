// GGUF reader: hand-built byte images (valid ones, and one per kind of corruption, each of
// which must give an nw::Error naming the file and what is wrong), and the conformance files.
#include "engine/gguf_file.h"

#include "common/error.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using namespace nw;

namespace {

// A little-endian byte image written field by field, independently of GgufWriter.
struct Bytes {
    std::vector<std::byte> data;

    Bytes &raw(const void *p, std::size_t n)
    {
        const auto *b = static_cast<const std::byte *>(p);
        data.insert(data.end(), b, b + n);
        return *this;
    }
    Bytes &u8(std::uint8_t v) { return raw(&v, 1); }
    Bytes &u32(std::uint32_t v) { return raw(&v, 4); }
    Bytes &u64(std::uint64_t v) { return raw(&v, 8); }
    Bytes &i32(std::int32_t v) { return raw(&v, 4); }
    Bytes &f32(float v) { return raw(&v, 4); }
    Bytes &str(std::string_view s) { return u64(s.size()).raw(s.data(), s.size()); }
    Bytes &header(std::uint64_t nTensors, std::uint64_t nKeys, std::uint32_t version = 3)
    {
        return u32(0x46554747).u32(version).u64(nTensors).u64(nKeys);
    }
    Bytes &padTo(std::size_t alignment)
    {
        while (data.size() % alignment)
            u8(0);
        return *this;
    }
    std::size_t size() const { return data.size(); }
};

std::string errorOf(const Bytes &b)
{
    try {
        GgufFile::fromMemory(b.data, "test.gguf");
    } catch (const Error &e) {
        return e.what();
    }
    return "(no error)";
}

// Checks that parsing fails with a message naming the file and containing `what`.
void checkRefused(const Bytes &b, const std::string &what)
{
    const std::string message = errorOf(b);
    INFO("message: " << message);
    CHECK(message.rfind("test.gguf: ", 0) == 0);
    CHECK(message.find(what) != std::string::npos);
}

// Header + one key "k" of the given type whose value follows.
Bytes oneKey(std::uint32_t type)
{
    Bytes b;
    b.header(0, 1).str("k").u32(type);
    return b;
}

// A file with one tensor info; the caller gives dims, type and offset, then data follows.
Bytes oneTensor(std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset, std::size_t dataBytes)
{
    Bytes b;
    b.header(1, 0).str("t").u32(static_cast<std::uint32_t>(dims.size()));
    for (auto d : dims)
        b.u64(d);
    b.u32(type).u64(offset).padTo(32);
    for (std::size_t i = 0; i < dataBytes; ++i)
        b.u8(0);
    return b;
}

} // namespace

TEST_CASE("a hand-built v3 file: metadata of every type and two tensors")
{
    Bytes b;
    b.header(2, 9);
    b.str("general.architecture").u32(8).str("llama");
    b.str("llama.block_count").u32(4).u32(5);
    b.str("neg").u32(5).i32(-7);
    b.str("f").u32(6).f32(0.5f);
    b.str("flag").u32(7).u8(1);
    b.str("small").u32(0).u8(200);
    b.str("big").u32(10).u64(1ull << 40);
    b.str("names").u32(9).u32(8).u64(3).str("a").str("").str("ccc");
    b.str("nested").u32(9).u32(9).u64(2).u32(5).u64(1).i32(-1).u32(6).u64(2).f32(1.5f).f32(-2.0f);
    // Tensor "w": F32 [3], data at 0. Tensor "h": F16 [2, 2], data at 32.
    b.str("w").u32(1).u64(3).u32(0).u64(0);
    b.str("h").u32(2).u64(2).u64(2).u32(1).u64(32);
    b.padTo(32);
    const std::size_t dataStart = b.size();
    b.f32(1.0f).f32(2.0f).f32(-3.0f).padTo(32);
    b.u32(0x40003C00).u32(0xC400BC00); // f16 1, 2, -1, -4

    const auto file = GgufFile::fromMemory(b.data, "test.gguf");
    CHECK(file->version() == 3);
    CHECK(file->alignment() == 32);
    CHECK(file->requireString("general.architecture") == "llama");
    CHECK(file->requireInt("llama.block_count") == 5);
    CHECK(file->findValueType("llama.block_count") == GgufValueType::UInt32);
    CHECK(file->requireInt("neg") == -7);
    CHECK(file->requireFloat("f") == 0.5);
    CHECK(file->requireFloat("llama.block_count") == 5.0); // any number reads as a float
    CHECK(file->findBool("flag") == true);
    CHECK(file->findInt("small") == 200);
    CHECK(file->findInt("big") == (1ll << 40));
    CHECK_FALSE(file->findString("llama.block_count")); // wrong type: nullopt
    CHECK_FALSE(file->findInt("general.architecture"));
    CHECK_FALSE(file->findInt("absent"));

    const GgufArray &names = file->requireArray("names");
    CHECK(names.elementType == GgufValueType::String);
    REQUIRE(names.values.size() == 3);
    CHECK(std::get<std::string>(names.values[0]) == "a");
    CHECK(std::get<std::string>(names.values[1]).empty());
    CHECK(std::get<std::string>(names.values[2]) == "ccc");
    const GgufArray &nested = file->requireArray("nested");
    CHECK(nested.elementType == GgufValueType::Array);
    REQUIRE(nested.values.size() == 2);
    const auto &inner0 = *std::get<std::shared_ptr<const GgufArray>>(nested.values[0]);
    const auto &inner1 = *std::get<std::shared_ptr<const GgufArray>>(nested.values[1]);
    CHECK(inner0.elementType == GgufValueType::Int32);
    CHECK(std::get<std::int64_t>(inner0.values.at(0)) == -1);
    CHECK(std::get<double>(inner1.values.at(1)) == -2.0);

    REQUIRE(file->tensors().size() == 2);
    const TensorView &w = file->requireTensor("w");
    CHECK(file->tensors()[0].name == "w"); // file order
    CHECK(w.type == TensorType::F32);
    CHECK(w.shape == std::vector<std::int64_t> { 3 });
    CHECK(w.bytes == 12);
    CHECK(w.data == b.data.data() + dataStart);
    float wv[3];
    std::memcpy(wv, w.data, 12);
    CHECK(wv[2] == -3.0f);
    const TensorView &h = file->requireTensor("h");
    CHECK(h.type == TensorType::F16);
    CHECK(h.elements() == 4);
    CHECK(h.rows() == 2);
    CHECK(h.rowLength() == 2);
    CHECK(h.bytes == 8);
    CHECK(h.data == b.data.data() + dataStart + 32);
    CHECK(file->findTensor("nope") == nullptr);
}

TEST_CASE("require*() name the file and the key")
{
    Bytes b;
    b.header(0, 1).str("general.name").u32(8).str("x");
    const auto file = GgufFile::fromMemory(b.data, "test.gguf");
    CHECK_THROWS_WITH_AS(file->requireInt("general.name"),
        "test.gguf: metadata key 'general.name' is a string, expected an integer", Error);
    CHECK_THROWS_WITH_AS(
        file->requireString("llama.context_length"), "test.gguf: metadata key 'llama.context_length' not found", Error);
    CHECK_THROWS_WITH_AS(file->requireTensor("output.weight"), "test.gguf: tensor 'output.weight' not found", Error);
    CHECK_THROWS_AS(file->requireArray("general.name"), Error);
    CHECK_THROWS_AS(file->requireFloat("general.name"), Error);
}

TEST_CASE("v2 is accepted; v1, unknown versions and big-endian files are refused")
{
    Bytes v2;
    v2.header(0, 0, 2);
    CHECK(GgufFile::fromMemory(v2.data, "test.gguf")->version() == 2);
    Bytes v1;
    v1.u32(0x46554747).u32(1).u32(0).u32(0);
    checkRefused(v1, "GGUF version 1 is not supported");
    Bytes v7;
    v7.header(0, 0, 7);
    checkRefused(v7, "unknown GGUF version 7 at byte 4");
    Bytes bigEndian;
    bigEndian.header(0, 0, 0x03000000);
    checkRefused(bigEndian, "big-endian");
}

TEST_CASE("corrupt headers")
{
    checkRefused(Bytes {}, "the GGUF magic needs 4 bytes but the file ends (0 bytes) at byte 0");
    Bytes magic;
    magic.u32(0x46554746).u32(3).u64(0).u64(0);
    checkRefused(magic, "not a GGUF file");
    Bytes truncated;
    truncated.u32(0x46554747).u32(3).u32(0);
    checkRefused(truncated, "the tensor count needs 8 bytes but the file ends (12 bytes) at byte 8");
    Bytes manyTensors;
    manyTensors.header(1ull << 60, 0);
    checkRefused(manyTensors, "the tensor count 1152921504606846976 cannot fit");
    Bytes manyKeys;
    manyKeys.header(0, ~0ull);
    checkRefused(manyKeys, "the metadata key count 18446744073709551615 cannot fit in the 0 bytes left at byte 16");
}

TEST_CASE("corrupt metadata")
{
    SUBCASE("key length past the end")
    {
        Bytes b;
        b.header(0, 1).u64(1000).raw("abcdefghijklmno", 15);
        checkRefused(b, "metadata key #0 has length 1000 but only 15 bytes are left at byte 24");
    }
    SUBCASE("empty key")
    {
        Bytes b;
        b.header(0, 1).str("").u32(4).u32(1);
        checkRefused(b, "metadata key #0 is empty");
    }
    SUBCASE("unknown value type")
    {
        Bytes b = oneKey(13);
        b.u32(0);
        checkRefused(b, "metadata key 'k' has unknown value type 13 at byte 33");
    }
    SUBCASE("value truncated")
    {
        Bytes b = oneKey(10);
        b.u32(0);
        checkRefused(b, "metadata key 'k' needs 8 bytes but the file ends");
    }
    SUBCASE("duplicate key")
    {
        Bytes b;
        b.header(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2);
        checkRefused(b, "metadata key 'k' appears twice at byte 41");
    }
    SUBCASE("bool other than 0 or 1")
    {
        Bytes b = oneKey(7);
        b.u8(2);
        checkRefused(b, "metadata key 'k' is a bool with value 2");
    }
    SUBCASE("string value longer than the file")
    {
        Bytes b = oneKey(8);
        b.u64(~0ull);
        checkRefused(b, "metadata key 'k' has length 18446744073709551615");
    }
    SUBCASE("array length larger than the bytes left")
    {
        Bytes b = oneKey(9);
        b.u32(4).u64(1000).u32(1).u32(2);
        checkRefused(b, "metadata key 'k' array length 1000 cannot fit in the 8 bytes left");
    }
    SUBCASE("huge string array count")
    {
        Bytes b = oneKey(9);
        b.u32(8).u64(1ull << 62);
        checkRefused(b, "array length 4611686018427387904 cannot fit");
    }
    SUBCASE("unknown array element type")
    {
        Bytes b = oneKey(9);
        b.u32(42).u64(0);
        checkRefused(b, "metadata key 'k' has unknown array element type 42");
    }
    SUBCASE("arrays nested too deep")
    {
        Bytes b = oneKey(9);
        for (int i = 0; i < 5; ++i)
            b.u32(9).u64(1);
        b.u32(4).u64(0);
        checkRefused(b, "nests arrays deeper than 4");
    }
    SUBCASE("more array elements than the reader accepts")
    {
        // 2^21 + 1 bytes of uint8: fits in the file, but over the per-array cap. The count
        // sits after the header (24), the key (9), the type (4) and the element type (4).
        Bytes b = oneKey(9);
        b.u32(0).u64((1u << 21) + 1);
        b.data.resize(b.size() + (1u << 21) + 1);
        checkRefused(
            b, "metadata key 'k' array length 2097153 is more than the 2097152 this reader accepts at byte 41");
        // Three arrays of 2^21 - 1 bytes each: each under the cap, together over the total.
        Bytes c;
        c.header(0, 3);
        for (const char *key : { "a", "b", "c" }) {
            c.str(key).u32(9).u32(0).u64((1u << 21) - 1);
            c.data.resize(c.size() + (1u << 21) - 1);
        }
        checkRefused(c, "the metadata holds more than 4194304 array elements in all");
    }
    SUBCASE("general.alignment of the wrong type or value")
    {
        Bytes b;
        b.header(0, 1).str("general.alignment").u32(10).u64(32);
        // header 24 + key 8 + 17 + type 4 = the value at byte 53
        checkRefused(b, "general.alignment must be a uint32 at byte 53");
        Bytes c;
        c.header(0, 1).str("general.alignment").u32(4).u32(48);
        checkRefused(c, "general.alignment 48 is not a power of two");
        Bytes z;
        z.header(0, 1).str("general.alignment").u32(4).u32(0);
        checkRefused(z, "general.alignment 0 is not a power of two");
    }
}

TEST_CASE("corrupt tensor tables")
{
    // oneTensor: header (24) + name "t" (9) = byte 33 for the dimension count.
    checkRefused(oneTensor({}, 0, 0, 0), "tensor 't' has 0 dimensions (1 to 4 allowed) at byte 33");
    checkRefused(oneTensor({ 1, 1, 1, 1, 1 }, 0, 0, 32), "tensor 't' has 5 dimensions");
    checkRefused(oneTensor({ 4, 0 }, 0, 0, 32), "tensor 't' dimension 1 is 0 (must be positive) at byte 45");
    checkRefused(oneTensor({ 1ull << 63 }, 0, 0, 32), "dimension 0 is 9223372036854775808");
    checkRefused(oneTensor({ 1ull << 32, 1ull << 32 }, 0, 0, 32), "tensor 't' element count overflows");
    checkRefused(oneTensor({ 1ull << 40 }, 0, 0, 32), "tensor 't' needs more bytes than the file has");
    checkRefused(oneTensor({ 4 }, 99, 0, 32),
        "tensor 't' has unknown tensor type 99 (this engine computes with F32, F16, Q4_0,");
    checkRefused(oneTensor({ 4 }, 31, 0, 32), "tensor 't' has unknown tensor type 31"); // Q4_0_4_4, gone from GGUF
    // Types ggml knows but the engine does not compute with are read (the model refuses them by
    // name); the new low-bit types are read with their block sizes.
    CHECK(GgufFile::fromMemory(oneTensor({ 256 }, 19, 0, 64).data, "test.gguf")->tensors()[0].bytes == 50); // IQ1_S
    CHECK(GgufFile::fromMemory(oneTensor({ 256 }, 11, 0, 128).data, "test.gguf")->tensors()[0].bytes == 110); // Q3_K
    CHECK(GgufFile::fromMemory(oneTensor({ 64 }, 39, 0, 64).data, "test.gguf")->tensors()[0].bytes == 34); // MXFP4
    checkRefused(oneTensor({ 32 }, 23, 0, 256), "row length 32 is not a multiple of the IQ4_XS block size 256");
    checkRefused(oneTensor({ 30 }, 2, 0, 32), "tensor 't' row length 30 is not a multiple of the Q4_0 block size 32");
    checkRefused(oneTensor({ 4 }, 0, 8, 32), "tensor 't' data offset 8 is not a multiple of the alignment 32");
    checkRefused(oneTensor({ 16 }, 0, 0, 32),
        "tensor 't' data (64 bytes at data offset 0) runs past the end of the file (32 data bytes)");
    checkRefused(oneTensor({ 4 }, 0, 1ull << 63, 32), "runs past the end of the file");
    checkRefused(oneTensor({ 4 }, 0, ~0ull - 31, 32), "runs past the end of the file");
    CHECK_NOTHROW(GgufFile::fromMemory(oneTensor({ 8 }, 0, 0, 32).data, "test.gguf")); // the control

    // A whole first tensor info (33 bytes), then the second one cut inside its dimension.
    Bytes truncated;
    truncated.header(2, 0).str("t").u32(1).u64(4).u32(0).u64(0);
    truncated.str("a-longer-name-to-pass-the-count-check").u32(1).u32(0);
    checkRefused(truncated, "tensor 'a-longer-name-to-pass-the-count-check' dimension needs 8 bytes but the file ends");
    // Too few bytes for the claimed tensor count at all.
    Bytes cut = oneTensor({ 4 }, 0, 0, 0);
    cut.data.resize(40);
    checkRefused(cut, "the tensor count 1 cannot fit in the 16 bytes left at byte 8");

    Bytes noData;
    noData.header(1, 0).str("t").u32(1).u64(4).u32(0).u64(0);
    checkRefused(noData, "the tensor data section starts past the end of the file");

    Bytes twice;
    twice.header(2, 0).str("t").u32(1).u64(4).u32(0).u64(0).str("t").u32(1).u64(4).u32(0).u64(32).padTo(32);
    twice.data.resize(twice.size() + 64);
    checkRefused(twice, "tensor 't' appears twice");

    Bytes overlap;
    overlap.header(2, 0).str("a").u32(1).u64(16).u32(0).u64(0).str("b").u32(1).u64(8).u32(0).u64(32).padTo(32);
    overlap.data.resize(overlap.size() + 96);
    checkRefused(overlap, "tensor 'b' overlaps tensor 'a'");

    Bytes emptyName;
    emptyName.header(1, 0).str("").u32(1).u64(4).u32(0).u64(0).padTo(32);
    emptyName.data.resize(emptyName.size() + 32);
    checkRefused(emptyName, "tensor #0 has an empty name");
}

TEST_CASE("general.alignment moves the data section and the offset rule")
{
    Bytes b;
    b.header(1, 1).str("general.alignment").u32(4).u32(64);
    b.str("t").u32(1).u64(4).u32(0).u64(64);
    b.padTo(64);
    const std::size_t dataStart = b.size();
    b.data.resize(dataStart + 128);
    const auto file = GgufFile::fromMemory(b.data, "test.gguf");
    CHECK(file->alignment() == 64);
    CHECK(file->requireTensor("t").data == b.data.data() + dataStart + 64);

    Bytes misaligned;
    misaligned.header(1, 1).str("general.alignment").u32(4).u32(64);
    misaligned.str("t").u32(1).u64(4).u32(0).u64(32).padTo(64);
    misaligned.data.resize(misaligned.size() + 128);
    checkRefused(misaligned, "data offset 32 is not a multiple of the alignment 64");
}

TEST_CASE("general.alignment 1 with an odd data offset: tensors are copied to aligned memory")
{
    // llama.cpp accepts alignment 1, so tensors can start at odd addresses; kernels read them as
    // floats and block structs, which must sit at their alignment (UBSan flagged dequantQ5_K).
    const float f32[3] = { 1.5f, -2.0f, 3.25f };
    const std::int32_t i32[2] = { 7, -9 };
    std::vector<std::byte> q5k(sizeof(BlockQ5_K));
    for (std::size_t i = 0; i < q5k.size(); ++i)
        q5k[i] = static_cast<std::byte>(i * 37 + 11);
    q5k[0] = std::byte { 0x00 }; // d = 1.0 (f16 0x3C00), dmin = 0
    q5k[1] = std::byte { 0x3C };
    q5k[2] = q5k[3] = std::byte { 0x00 };

    Bytes b;
    b.header(3, 1).str("general.alignment").u32(4).u32(1);
    b.str("f32").u32(1).u64(3).u32(0).u64(0);
    b.str("i32").u32(1).u64(2).u32(26).u64(12);
    b.str("q5_k").u32(1).u64(256).u32(13).u64(20);
    const std::size_t dataStart = b.size();
    REQUIRE(dataStart % 2 == 1); // std::vector's storage is aligned, so the data addresses are odd
    b.raw(f32, sizeof f32).raw(i32, sizeof i32).raw(q5k.data(), q5k.size());

    const auto file = GgufFile::fromMemory(b.data, "test.gguf");
    CHECK(file->alignment() == 1);
    const auto aligned = [](const TensorView &t, std::size_t alignment) {
        return reinterpret_cast<std::uintptr_t>(t.data) % alignment == 0;
    };
    const TensorView &tf = file->requireTensor("f32");
    const TensorView &ti = file->requireTensor("i32");
    const TensorView &tq = file->requireTensor("q5_k");
    CHECK(aligned(tf, alignof(float)));
    CHECK(aligned(ti, alignof(std::int32_t)));
    CHECK(aligned(tq, alignof(BlockQ5_K)));
    const auto *floats = reinterpret_cast<const float *>(tf.data);
    CHECK(floats[0] == 1.5f);
    CHECK(floats[1] == -2.0f);
    CHECK(floats[2] == 3.25f);
    const auto *ints = reinterpret_cast<const std::int32_t *>(ti.data);
    CHECK(ints[0] == 7);
    CHECK(ints[1] == -9);
    REQUIRE(tq.bytes == q5k.size());
    CHECK(std::memcmp(tq.data, q5k.data(), q5k.size()) == 0);
    CHECK(reinterpret_cast<const BlockQ5_K *>(tq.data)->d == 0x3C00);

    // An aligned tensor stays in place (no copy of a well-formed model).
    Bytes even;
    even.header(1, 1).str("general.alignment").u32(4).u32(1);
    even.str("f32").u32(1).u64(1).u32(0).u64(0);
    const std::size_t evenStart = even.size();
    REQUIRE(evenStart % alignof(float) == 0);
    even.f32(0.5f);
    const auto evenFile = GgufFile::fromMemory(even.data, "test.gguf");
    CHECK(evenFile->requireTensor("f32").data == even.data.data() + evenStart);
}

TEST_CASE("open() names the path for missing, empty and non-regular files")
{
    const auto dir = test::scratchDir("gguf_file_open");
    CHECK_THROWS_WITH_AS(GgufFile::open(dir / "missing.gguf"), doctest::Contains("missing.gguf: cannot open"), Error);
    std::ofstream(dir / "empty.gguf").close();
    CHECK_THROWS_WITH_AS(GgufFile::open(dir / "empty.gguf"), doctest::Contains("empty.gguf: file is empty"), Error);
    CHECK_THROWS_WITH_AS(GgufFile::open(dir), doctest::Contains("not a regular file"), Error);

    Bytes b;
    b.header(0, 1).str("general.architecture").u32(8).str("llama");
    {
        std::ofstream out(dir / "ok.gguf", std::ios::binary);
        out.write(reinterpret_cast<const char *>(b.data.data()), static_cast<std::streamsize>(b.size()));
    }
    const auto file = GgufFile::open(dir / "ok.gguf");
    CHECK(file->label() == (dir / "ok.gguf").string());
    CHECK(file->fileBytes() == b.size());
    CHECK(file->requireString("general.architecture") == "llama");
}

TEST_CASE("conformance: stories260K.gguf")
{
    const auto dir = test::conformanceDir();
    if (!dir || !std::filesystem::exists(*dir / "models" / "stories260K.gguf")) {
        MESSAGE("skipped: ../shared/conformance/models/stories260K.gguf is absent");
        return;
    }
    const auto file = GgufFile::open(*dir / "models" / "stories260K.gguf");
    CHECK(file->requireString("general.architecture") == "llama");
    CHECK(file->requireInt("llama.block_count") == 5);
    CHECK(file->requireInt("llama.embedding_length") == 64);
    const TensorView &embd = file->requireTensor("token_embd.weight");
    CHECK(embd.shape == std::vector<std::int64_t> { 64, 512 });
    CHECK(file->requireArray("tokenizer.ggml.tokens").values.size() == 512);
    // Every tensor lies inside the file and is aligned.
    // Every tensor's data is aligned like the first one's and sized by its type.
    const std::byte *first = file->tensors().front().data;
    for (const TensorView &t : file->tensors()) {
        CHECK((t.data - first) % static_cast<std::ptrdiff_t>(file->alignment()) == 0);
        CHECK(t.bytes == rowBytes(t.type, static_cast<std::size_t>(t.elements())));
    }
}

TEST_CASE("conformance: tokenizer GGUFs")
{
    const auto dir = test::conformanceDir();
    if (!dir || !std::filesystem::is_directory(*dir / "tokenizers")) {
        MESSAGE("skipped: ../shared/conformance/tokenizers is absent");
        return;
    }
    int opened = 0;
    for (const auto &entry : std::filesystem::directory_iterator(*dir / "tokenizers")) {
        if (entry.path().extension() != ".gguf")
            continue;
        CAPTURE(entry.path().string());
        const auto file = GgufFile::open(entry.path());
        CHECK(file->findString("tokenizer.ggml.model").has_value());
        CHECK(file->requireArray("tokenizer.ggml.tokens").values.size() > 0);
        ++opened;
    }
    MESSAGE("opened " << opened << " tokenizer files");
}
