// Fuzz entry point above the GGUF reader: hyperparameter checks, tensor-shape validation and model
// construction of every registered architecture, then one short forward pass. Byte flips in
// megabytes of weights rarely reach these checks, so the input is an edit script applied to a small
// valid model of one architecture: byte 0 picks the model, then each edit changes one metadata value
// (integers and floats to boundary values, arrays shortened or lengthened, keys dropped) or one
// tensor (a dimension, its type, its name, or the tensor dropped). Whatever the edits, the outcome
// must be a loaded model whose forward gives nVocab logits, or nw::Error.
// Base models: the Q8_0 files of tests/data/models, a tiny llama and a tiny deepseek2 (generated).
#include "common/error.h"
#include "engine/architecture.h"
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/model.h"
#include "tests/engine/reference/tiny_llama.h"
#include "tests/engine/tiny_models_deepseek2.h"
#include "tests/fuzz/fuzz_input.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace {

using nw::fuzz::InputReader;

struct Base {
    std::string label;
    std::vector<std::byte> bytes; // the file image the GgufFile views
    std::unique_ptr<nw::GgufFile> file;
};

std::vector<Base> loadBases()
{
    std::vector<Base> bases;
    const auto add = [&](std::string label, std::vector<std::byte> bytes) {
        Base b { std::move(label), std::move(bytes), nullptr };
        b.file = nw::GgufFile::fromMemory(b.bytes, b.label);
        bases.push_back(std::move(b));
    };
    add("tiny-llama", nw::test::makeTinyLlama({}));
    add("tiny-deepseek2", nw::test::makeTinyDeepseek2(nw::test::tinyDeepseek2Variants().front()).gguf);
    for (const char *name : { "qwen2", "qwen3", "qwen3moe", "phi3", "gemma3", "gpt-oss", "deepseek32", "qwen35",
             "qwen35moe", "gemma4", "gemma4-e2b", "gemma4-moe", "deepseek4" })
        add(name, nw::fuzz::readFile(nw::fuzz::sourceDir() / "tests/data/models" / (std::string(name) + "-q8_0.gguf")));
    // Every registered architecture has a base model: a new one must add its own here.
    for (const nw::Architecture *a : nw::architectures()) {
        const bool covered = std::any_of(bases.begin(), bases.end(),
            [&](const Base &b) { return b.file->findString("general.architecture") == std::string(a->name); });
        if (!covered)
            nw::fuzz::die("fuzz_model: no base model of architecture " + std::string(a->name));
    }
    return bases;
}

const std::vector<Base> &bases()
{
    static const std::vector<Base> b = loadBases();
    return b;
}

struct Key {
    std::string name;
    nw::GgufValueType type;
    nw::GgufValue value;
};
struct Tensor {
    std::string name;
    nw::TensorType type;
    std::vector<std::int64_t> shape;
    const std::byte *data; // the base's bytes, or `owned`
    std::size_t bytes;
    std::vector<std::byte> owned;
};

constexpr std::size_t kMaxTensorBytes = std::size_t(8) << 20; // keeps every mutant small

std::int64_t boundaryInt(InputReader &in, std::int64_t old)
{
    static constexpr std::int64_t kValues[] = { 0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 33, 63, 64, 255, 256, 65536,
        std::numeric_limits<std::int32_t>::max(), std::int64_t(1) << 31, std::int64_t(1) << 32,
        std::numeric_limits<std::int64_t>::max(), -1, std::numeric_limits<std::int64_t>::min() };
    // Steps wrap around (unsigned arithmetic, converted back modulo 2^64 as C++20 defines it): the
    // harness must not overflow itself at the ends of the range it feeds the engine.
    const auto wrapped = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
    switch (in.u8() % 6) {
    case 0:
        return wrapped(static_cast<std::uint64_t>(old) + 1);
    case 1:
        return wrapped(static_cast<std::uint64_t>(old) - 1);
    case 2:
        return wrapped(static_cast<std::uint64_t>(old) * 2);
    case 3:
        return old / 2;
    case 4:
        return static_cast<std::int64_t>(in.u64());
    default:
        return kValues[in.u8() % std::size(kValues)];
    }
}

double boundaryFloat(InputReader &in, double old)
{
    static constexpr double kValues[]
        = { 0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-30, 1e30, 1e300, std::numeric_limits<double>::quiet_NaN(),
              std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity() };
    switch (in.u8() % 4) {
    case 0:
        return -old;
    case 1:
        return old * 1e6;
    case 2: {
        const std::uint32_t bits = in.u32();
        float f;
        std::memcpy(&f, &bits, sizeof f);
        return f;
    }
    default:
        return kValues[in.u8() % std::size(kValues)];
    }
}

void editKey(InputReader &in, std::vector<Key> &keys)
{
    if (keys.empty())
        return;
    Key &k = keys[in.u16() % keys.size()];
    if (k.name == "general.architecture")
        return; // picking another graph is the registry's job (tst_architecture)
    if (auto *u = std::get_if<std::uint64_t>(&k.value))
        k.value = std::int64_t(boundaryInt(in, static_cast<std::int64_t>(*u)));
    else if (auto *i = std::get_if<std::int64_t>(&k.value))
        k.value = boundaryInt(in, *i);
    else if (auto *d = std::get_if<double>(&k.value))
        k.value = boundaryFloat(in, *d);
    else if (auto *b = std::get_if<bool>(&k.value))
        *b = !*b;
    else if (auto *s = std::get_if<std::string>(&k.value))
        s->resize(in.u8() % (s->size() + 2), 'x');
    else if (auto *a = std::get_if<std::shared_ptr<const nw::GgufArray>>(&k.value)) {
        auto copy = std::make_shared<nw::GgufArray>(**a);
        auto &v = copy->values;
        const std::size_t n = v.size();
        switch (in.u8() % 3) {
        case 0:
            v.resize(n == 0 ? 0 : in.u32() % (n + 1));
            break; // shorten
        case 1: // lengthen by repeating the last element
            if (n > 0)
                v.resize(std::min<std::size_t>(n + 1 + in.u16() % 1024, std::size_t(1) << 20), v.back());
            break;
        default: // one element to a boundary value
            if (n > 0) {
                auto &e = v[in.u32() % n];
                if (auto *eu = std::get_if<std::uint64_t>(&e))
                    e = std::int64_t(boundaryInt(in, static_cast<std::int64_t>(*eu)));
                else if (auto *ei = std::get_if<std::int64_t>(&e))
                    e = boundaryInt(in, *ei);
                else if (auto *ed = std::get_if<double>(&e))
                    e = boundaryFloat(in, *ed);
                else if (auto *es = std::get_if<std::string>(&e))
                    es->clear();
            }
        }
        k.value = std::shared_ptr<const nw::GgufArray>(std::move(copy));
    }
}

// Gives the tensor `bytes` bytes: its old ones first, zeros after.
void resize(Tensor &t, std::size_t bytes)
{
    std::vector<std::byte> owned(bytes);
    std::memcpy(owned.data(), t.data, std::min(bytes, t.bytes));
    t.owned = std::move(owned);
    t.data = t.owned.data();
    t.bytes = bytes;
}

// Bytes of `shape` in `type`, or 0 when it is no valid or too big a tensor.
std::size_t tensorBytes(nw::TensorType type, const std::vector<std::int64_t> &shape)
{
    const auto &traits = nw::tensorTypeTraits(type);
    if (shape.empty() || shape.size() > nw::kGgufMaxDims || shape[0] % std::int64_t(traits.blockElements) != 0)
        return 0;
    std::uint64_t elements = 1;
    for (const std::int64_t d : shape) {
        if (d <= 0 || std::uint64_t(d) > kMaxTensorBytes || elements * std::uint64_t(d) > kMaxTensorBytes * 4)
            return 0;
        elements *= std::uint64_t(d);
    }
    const std::uint64_t bytes = elements / traits.blockElements * traits.blockBytes;
    return bytes <= kMaxTensorBytes ? std::size_t(bytes) : 0;
}

void editTensor(InputReader &in, std::vector<Tensor> &tensors)
{
    if (tensors.empty())
        return;
    const std::size_t at = in.u16() % tensors.size();
    Tensor &t = tensors[at];
    switch (in.u8() % 5) {
    case 0: { // one dimension
        auto shape = t.shape;
        auto &d = shape[in.u8() % shape.size()];
        d = std::clamp<std::int64_t>(boundaryInt(in, d), 1, std::int64_t(kMaxTensorBytes));
        if (const std::size_t bytes = tensorBytes(t.type, shape)) {
            t.shape = std::move(shape);
            resize(t, bytes);
        }
        break;
    }
    case 1: { // a dimension more or less
        auto shape = t.shape;
        if (in.u8() % 2 && shape.size() > 1)
            shape.pop_back();
        else
            shape.push_back(1 + in.u8() % 3);
        if (const std::size_t bytes = tensorBytes(t.type, shape)) {
            t.shape = std::move(shape);
            resize(t, bytes);
        }
        break;
    }
    case 2: { // another type
        static constexpr nw::TensorType kTypes[] = { nw::TensorType::F32, nw::TensorType::F16, nw::TensorType::BF16,
            nw::TensorType::Q8_0, nw::TensorType::Q4_0, nw::TensorType::Q4_K, nw::TensorType::Q6_K, nw::TensorType::I32,
            nw::TensorType::Q2_K };
        const nw::TensorType type = kTypes[in.u8() % std::size(kTypes)];
        if (const std::size_t bytes = tensorBytes(type, t.shape)) {
            t.type = type;
            resize(t, bytes);
        }
        break;
    }
    case 3: // another name: another layer's, or a stray one
        if (const auto dot = t.name.find_first_of("0123456789"); dot != std::string::npos && in.u8() % 2)
            t.name[dot] = char('0' + in.u8() % 10);
        else
            t.name += ".x";
        break;
    default:
        tensors.erase(tensors.begin() + std::ptrdiff_t(at));
    }
}

volatile float g_sink;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    InputReader in(data + 1, size - 1);
    const Base &base = bases()[data[0] % bases().size()];
    std::vector<Key> keys;
    for (const auto &[name, value] : base.file->metadata())
        if (name != "general.alignment")
            keys.push_back({ name, *base.file->findValueType(name), value });
    std::vector<Tensor> tensors;
    for (const nw::TensorView &t : base.file->tensors())
        tensors.push_back({ t.name, t.type, t.shape, t.data, t.bytes, {} });
    int edits = 0;
    for (; !in.empty() && edits < 16; ++edits) {
        if (in.u8() % 2)
            editKey(in, keys);
        else
            editTensor(in, tensors);
    }

    nw::GgufWriter w;
    for (const Key &k : keys) {
        try {
            w.setValue(k.name, k.type, k.value);
        } catch (const nw::Error &) {
            // A value its old type cannot hold: as an int64 where it is a number, else dropped.
            if (std::holds_alternative<std::int64_t>(k.value))
                w.setValue(k.name, nw::GgufValueType::Int64, k.value);
        }
    }
    for (const Tensor &t : tensors) {
        try {
            w.addTensor(t.name, t.type, t.shape, std::span(t.data, t.bytes));
        } catch (const nw::Error &) {
            // a duplicate name after a rename: the writer refuses it as the reader would
        }
    }
    const std::vector<std::byte> image = w.toBytes();
    try {
        std::shared_ptr<const nw::GgufFile> file = nw::GgufFile::fromMemory(image, "fuzz-model.gguf");
        const auto model = nw::loadModel(file, { .threads = 1 });
        const std::int64_t nVocab = model->hparams().nVocab;
        const std::vector<std::int32_t> tokens = { 0, nVocab > 1 ? 1 : 0 };
        const std::vector<std::int32_t> positions = { 0, 1 };
        const auto cache = model->makeKvCache(nw::KvModeSpec { .mode = model->kvModes().front() }, 4);
        std::vector<float> logits;
        model->forward(tokens, positions, *cache, nw::LogitsFor::Last, logits);
        if (logits.size() != std::size_t(nVocab))
            nw::fuzz::die("fuzz_model: forward gave " + std::to_string(logits.size()) + " logits for "
                + std::to_string(nVocab) + " tokens");
        float sum = 0;
        for (const float f : logits)
            sum += f;
        g_sink = sum;
    } catch (const nw::Error &e) {
        if (edits == 0) // an unedited base model must load and run
            nw::fuzz::die(std::string("fuzz_model: base model ") + base.label + " fails: " + e.what());
    }
    return 0;
}

// Seeds: each base model unedited.
std::vector<std::vector<std::uint8_t>> nwFuzzSeeds()
{
    std::vector<std::vector<std::uint8_t>> seeds;
    for (std::size_t i = 0; i < bases().size(); ++i)
        seeds.push_back({ static_cast<std::uint8_t>(i) });
    return seeds;
}
