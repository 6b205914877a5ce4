// GgufWriter: exact bytes for a small file (worked out from the GGUF spec by hand), round
// trips of every metadata type and of tensors through the reader, atomic writes.
#include "engine/gguf_writer.h"

#include "common/error.h"
#include "engine/gguf_file.h"
#include "kernels/cpu/quantize.h"
#include "kernels/float16.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace nw;

namespace {

std::vector<std::byte> bytesOf(std::initializer_list<int> values)
{
    std::vector<std::byte> out;
    for (int v : values)
        out.push_back(static_cast<std::byte>(v));
    return out;
}

std::vector<std::byte> readFile(const std::filesystem::path &path)
{
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(chars.size());
    std::memcpy(out.data(), chars.data(), chars.size());
    return out;
}

} // namespace

TEST_CASE("a one-key, one-tensor file has exactly the bytes the spec gives")
{
    GgufWriter w;
    w.setUInt32("n", 5);
    const std::uint8_t data[4] = { 1, 2, 3, 4 };
    w.addTensor("t", TensorType::F16, { 2 }, std::as_bytes(std::span(data)));
    // magic "GGUF", version 3, 1 tensor, 1 key;
    // key: len 1, "n", type 4 (uint32), value 5;
    // tensor info: len 1, "t", 1 dim, 2, type 1 (F16), offset 0;
    // zero padding to 96 (header 24 + key 17 + info 33 = 74), then 4 data bytes, padded to 32.
    std::vector<std::byte> expected = bytesOf({ 'G', 'G', 'U', 'F', 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'n', 4, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 't', 1, 0, 0, 0, 2, 0, 0,
        0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 });
    REQUIRE(expected.size() == 74);
    expected.resize(96, std::byte { 0 });
    for (int v : { 1, 2, 3, 4 })
        expected.push_back(static_cast<std::byte>(v));
    expected.resize(128, std::byte { 0 });
    CHECK(w.toBytes() == expected);
}

TEST_CASE("every metadata type round-trips through the reader")
{
    GgufWriter w;
    w.setUInt8("u8", 250);
    w.setInt8("i8", -100);
    w.setUInt16("u16", 65000);
    w.setInt16("i16", -30000);
    w.setUInt32("u32", 4000000000u);
    w.setInt32("i32", -2000000000);
    w.setUInt64("u64", 1ull << 63);
    w.setInt64("i64", -(1ll << 62));
    w.setFloat32("f32", 0.1f);
    w.setFloat64("f64", 0.1);
    w.setBool("yes", true);
    w.setBool("no", false);
    w.setString("s", "héllo");
    w.setString("empty", "");
    const std::vector<std::string> tokens = { "<s>", "</s>", "▁the" };
    w.setStringArray("tokens", tokens);
    const std::vector<std::int32_t> i32s = { -1, 0, 7 };
    w.setInt32Array("i32s", i32s);
    const std::vector<std::uint32_t> u32s = { 4000000000u };
    w.setUInt32Array("u32s", u32s);
    const std::vector<std::int64_t> i64s = { -(1ll << 40) };
    w.setInt64Array("i64s", i64s);
    const std::vector<float> f32s = { 0.5f, -1.25f };
    w.setFloat32Array("f32s", f32s);
    const std::vector<std::uint8_t> u8s = {};
    w.setUInt8Array("u8s", u8s);
    const bool bools[] = { true, false };
    w.setBoolArray("bools", bools);
    w.setUInt32("replaced", 1);
    w.setString("replaced", "now a string");

    const auto bytes = w.toBytes();
    const auto file = GgufFile::fromMemory(bytes, "mem");
    CHECK(file->metadata().size() == 22);
    CHECK(file->findInt("u8") == 250);
    CHECK(file->findValueType("u8") == GgufValueType::UInt8);
    CHECK(file->findInt("i8") == -100);
    CHECK(file->findValueType("i8") == GgufValueType::Int8);
    CHECK(file->findInt("u16") == 65000);
    CHECK(file->findInt("i16") == -30000);
    CHECK(file->findInt("u32") == 4000000000ll);
    CHECK(file->findInt("i32") == -2000000000);
    CHECK(std::get<std::uint64_t>(*file->findValue("u64")) == (1ull << 63));
    CHECK_FALSE(file->findInt("u64")); // does not fit an int64
    CHECK(file->findInt("i64") == -(1ll << 62));
    CHECK(file->findFloat("f32") == static_cast<double>(0.1f));
    CHECK(file->findValueType("f32") == GgufValueType::Float32);
    CHECK(file->findFloat("f64") == 0.1);
    CHECK(file->findBool("yes") == true);
    CHECK(file->findBool("no") == false);
    CHECK(file->findString("s") == "héllo");
    CHECK(file->findString("empty") == "");
    CHECK(file->findString("replaced") == "now a string");

    const GgufArray &t = file->requireArray("tokens");
    CHECK(t.elementType == GgufValueType::String);
    REQUIRE(t.values.size() == 3);
    CHECK(std::get<std::string>(t.values[2]) == "▁the");
    CHECK(std::get<std::int64_t>(file->requireArray("i32s").values[0]) == -1);
    CHECK(std::get<std::uint64_t>(file->requireArray("u32s").values[0]) == 4000000000u);
    CHECK(std::get<std::int64_t>(file->requireArray("i64s").values[0]) == -(1ll << 40));
    CHECK(std::get<double>(file->requireArray("f32s").values[1]) == -1.25);
    CHECK(file->requireArray("u8s").values.empty());
    CHECK(file->requireArray("u8s").elementType == GgufValueType::UInt8);
    CHECK(std::get<bool>(file->requireArray("bools").values[0]) == true);

    // Copying every value with its on-disk type reproduces the file byte for byte.
    GgufWriter copy;
    // Keys must go in file order, which the reader's map does not keep: re-add in the order
    // they were first set above.
    for (const char *key : { "u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64", "yes", "no", "s",
             "empty", "tokens", "i32s", "u32s", "i64s", "f32s", "u8s", "bools", "replaced" })
        copy.setValue(key, *file->findValueType(key), *file->findValue(key));
    CHECK(copy.toBytes() == bytes);
}

TEST_CASE("setValue refuses values that do not fit the type")
{
    GgufWriter w;
    CHECK_THROWS_AS(w.setValue("k", GgufValueType::UInt8, GgufValue { std::uint64_t { 256 } }), Error);
    CHECK_THROWS_AS(w.setValue("k", GgufValueType::UInt32, GgufValue { std::int64_t { -1 } }), Error);
    CHECK_THROWS_AS(w.setValue("k", GgufValueType::Int8, GgufValue { std::int64_t { 128 } }), Error);
    CHECK_THROWS_AS(w.setValue("k", GgufValueType::String, GgufValue { true }), Error);
    CHECK_THROWS_AS(w.setValue("k", GgufValueType::Bool, GgufValue { std::string("x") }), Error);
    CHECK_NOTHROW(w.setValue("k", GgufValueType::Int8, GgufValue { std::int64_t { -128 } }));
    CHECK_NOTHROW(w.setValue("k", GgufValueType::Int64, GgufValue { std::uint64_t { 5 } }));
}

TEST_CASE("tensors: bytes as given, floats quantized, alignment honoured")
{
    GgufWriter w(64);
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> weights(256 * 3);
    for (float &v : weights)
        v = normal(rng);
    w.addTensor("raw", { 256, 3 }, weights.data(), TensorType::F32);
    w.addTensor("q8", { 256, 3 }, weights.data(), TensorType::Q8_0);
    w.addTensor("q4k", { 256, 3 }, weights.data(), TensorType::Q4_K);
    w.addTensor("f16", { 128, 2, 3 }, weights.data(), TensorType::F16);
    const std::vector<std::byte> one(rowBytes(TensorType::Q6_K, 256), std::byte { 0x11 });
    w.addTensor("q6k", TensorType::Q6_K, { 256 }, one);
    CHECK(w.tensorCount() == 5);

    const auto bytes = w.toBytes();
    CHECK(bytes.size() % 64 == 0);
    const auto file = GgufFile::fromMemory(bytes, "mem");
    CHECK(file->alignment() == 64);
    CHECK(file->findInt("general.alignment") == 64);
    REQUIRE(file->tensors().size() == 5);
    CHECK(file->tensors()[1].name == "q8");
    for (const TensorView &t : file->tensors())
        CHECK((t.data - bytes.data()) % 64 == 0);

    const TensorView &f32 = file->requireTensor("raw");
    CHECK(std::memcmp(f32.data, weights.data(), weights.size() * 4) == 0);

    // Quantized tensors: each row dequantizes close to its floats (bounds as in tst_quantize:
    // Q8_0 half a step of amax/127 per block of 32; Q4_K loosely 1/15 of the row's range).
    for (const auto &[name, type, tolerance] : { std::tuple { "q8", TensorType::Q8_0, 0.02f },
             std::tuple { "q4k", TensorType::Q4_K, 0.6f }, std::tuple { "f16", TensorType::F16, 0.002f } }) {
        const TensorView &t = file->requireTensor(name);
        const std::string tensorName = name; // clang 14 lets no lambda (CAPTURE's) refer to a structured binding
        CAPTURE(tensorName);
        CHECK(t.type == type);
        CHECK(t.elements() == 768);
        std::vector<float> back(768);
        const std::size_t rowLength = static_cast<std::size_t>(t.rowLength());
        for (std::int64_t r = 0; r < t.rows(); ++r)
            dequantizeRow(type, t.data + static_cast<std::size_t>(r) * rowBytes(type, rowLength),
                back.data() + static_cast<std::size_t>(r) * rowLength, rowLength);
        float maxErr = 0;
        for (std::size_t i = 0; i < back.size(); ++i)
            maxErr = std::max(maxErr, std::fabs(back[i] - weights[i]));
        CHECK(maxErr < tolerance);
    }
    CHECK(file->requireTensor("f16").shape == std::vector<std::int64_t> { 128, 2, 3 });
    const TensorView &q6 = file->requireTensor("q6k");
    CHECK(q6.bytes == 210);
    CHECK(static_cast<int>(q6.data[209]) == 0x11);
}

TEST_CASE("tensor mistakes are refused")
{
    GgufWriter w;
    const std::vector<std::byte> eight(8);
    w.addTensor("a", TensorType::F32, { 2 }, eight);
    CHECK_THROWS_WITH_AS(w.addTensor("a", TensorType::F32, { 2 }, eight), "GgufWriter: tensor 'a' added twice", Error);
    CHECK_THROWS_WITH_AS(
        w.addTensor("b", TensorType::F32, { 3 }, eight), "GgufWriter: tensor 'b' has 8 bytes, F32 3 needs 12", Error);
    CHECK_THROWS_AS(w.addTensor("c", TensorType::F32, {}, eight), Error);
    CHECK_THROWS_AS(w.addTensor("c", TensorType::F32, { 2, 0 }, eight), Error);
    CHECK_THROWS_AS(w.addTensor("c", TensorType::F32, { 1, 1, 1, 1, 2 }, eight), Error);
    const float f[16] = {};
    CHECK_THROWS_WITH_AS(w.addTensor("d", { 16 }, f, TensorType::Q8_0),
        "GgufWriter: tensor 'd' row length 16 is not a multiple of the Q8_0 block size 32", Error);
    CHECK_THROWS_AS(w.addTensor("e", { 256 }, f, TensorType::IQ2_XXS), Error);
    CHECK(w.tensorCount() == 1);
}

TEST_CASE("write() replaces the file atomically and leaves no temporary behind")
{
    const auto dir = test::scratchDir("gguf_writer");
    const auto path = dir / "model.gguf";
    {
        std::ofstream(path) << "old contents";
    }
    GgufWriter w;
    w.setString("general.architecture", "llama");
    const float x[64] = { 1.0f, 2.0f };
    w.addTensor("x", { 64 }, x, TensorType::F16);
    w.addTensor("y", { 32 }, x, TensorType::Q8_0);
    w.write(path);
    CHECK(readFile(path) == w.toBytes());
    CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 1);
    const auto file = GgufFile::open(path);
    CHECK(file->requireString("general.architecture") == "llama");
    CHECK(fp16ToFloat(*reinterpret_cast<const f16_t *>(file->requireTensor("x").data + 2)) == 2.0f);

    CHECK_THROWS_WITH_AS(
        w.write(dir / "no-such-dir" / "m.gguf"), doctest::Contains("cannot create a temporary file"), Error);
}
