// KV snapshots: a prefix's cache written and loaded back gives the same logits and greedy tokens
// as the session that computed it, in every KV mode and cache kind (full, quantized, latent,
// MLA with indexer keys, window layers, recurrent states); truncated, corrupt, foreign and stale
// files are refused and leave an empty cache; writes leave nothing half-written; the directory
// lists, removes and evicts the least recently used.
#include "common/error.h"
#include "engine/generator.h"
#include "engine/gguf_file.h"
#include "engine/kv_cache.h"
#include "engine/kv_snapshot.h"
#include "engine/kv_snapshot_directory.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "engine/xxhash64.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <thread>

using namespace nw;

namespace {

struct Loaded {
    std::shared_ptr<const GgufFile> file;
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;
    std::uint64_t hash = 0;
};

Loaded loadTestModel(const std::string &name)
{
    Loaded m;
    const auto path = test::sourceDir() / "tests/data/models" / name;
    m.file = GgufFile::open(path);
    m.model = loadModel(m.file, { .threads = 2 });
    m.tokenizer = Tokenizer::fromGguf(*m.file);
    m.hash = fileContentHash(path);
    return m;
}

std::vector<std::int32_t> someTokens(int n, int seed, std::int64_t vocab)
{
    std::vector<std::int32_t> ids(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        ids[std::size_t(i)]
            = static_cast<std::int32_t>(3 + (i * 37 + seed * 101) % (std::min<std::int64_t>(vocab, 500) - 3));
    return ids;
}

GenerateOptions greedy(int n)
{
    GenerateOptions o;
    o.maxTokens = n;
    o.sampler.greedy = true;
    o.prefillChunk = 48;
    return o;
}

std::vector<std::byte> readAll(const std::filesystem::path &path)
{
    std::ifstream in(path, std::ios::binary);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    std::memcpy(bytes.data(), chars.data(), chars.size());
    return bytes;
}

void writeAll(const std::filesystem::path &path, std::span<const std::byte> bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

struct Run {
    std::vector<float> logits; // after the whole prompt
    std::vector<std::int32_t> generated;
    PrefixResult prefix;
};

// A question after the prefix: the prefix from the cache, the snapshot or a prefill (which
// writes the snapshot), then the whole prompt and 8 greedy tokens.
Run ask(Loaded &m, const KvModeSpec &mode, const std::vector<std::int32_t> &prefix,
    const std::vector<std::int32_t> &prompt, const std::filesystem::path &path)
{
    Generator generator(*m.model, *m.tokenizer, mode, 512);
    const KvSnapshotIdentity id { m.hash, mode.toString() };
    Run run;
    run.prefix = generator.prepareSnapshotPrefix(prefix, id, path, 48);
    run.logits = generator.prefill(prompt, 48);
    CHECK(generator.lastReusedTokens() == static_cast<std::int64_t>(prefix.size()));
    run.generated = generator.generateFromTokens(prompt, greedy(8)).generatedTokens;
    return run;
}

} // namespace

TEST_CASE("a loaded snapshot gives the logits and greedy tokens of the session that wrote it, in every mode")
{
    struct Case {
        const char *model;
        const char *mode;
    };
    // qwen3: plain GQA, f16 and quantized rows; qwen2: latent:R; deepseek32: MLA rows plus the indexer's keys (two
    // stores a layer); gemma3: sliding-window layers (a prefix longer than the window drops rows); qwen35: recurrent
    // layers (a fixed state) beside full ones; gemma4-e2b: shared-KV layers.
    const Case cases[] = { { "qwen3-q8_0.gguf", "full" }, { "qwen3-q8_0.gguf", "full+q8" },
        { "qwen3-q8_0.gguf", "full+q4" }, { "qwen2-q8_0.gguf", "latent:32" }, { "qwen2-q8_0.gguf", "latent:32+q8" },
        { "deepseek32-q8_0.gguf", "mla" }, { "gemma3-q8_0.gguf", "full" }, { "qwen35-q8_0.gguf", "full" },
        { "gemma4-e2b-q8_0.gguf", "full" } };
    const auto dir = test::scratchDir("kv_snapshot_modes");
    for (const Case &c : cases) {
        const std::string what = std::string(c.model) + " " + c.mode;
        CAPTURE(what);
        Loaded m = loadTestModel(c.model);
        const KvModeSpec mode = KvModeSpec::parse(c.mode);
        if (m.model->hparams().slidingWindow > 0) // the prefix outgrows the window: rows were dropped
            CHECK(m.model->hparams().slidingWindow < 230);
        const std::vector<std::int32_t> prefix = someTokens(230, 1, m.model->hparams().nVocab);
        std::vector<std::int32_t> prompt = prefix;
        for (std::int32_t t : someTokens(21, 2, m.model->hparams().nVocab))
            prompt.push_back(t);
        const auto path = dir / kvSnapshotFileName({ m.hash, mode.toString() }, prefix);

        const Run first = ask(m, mode, prefix, prompt, path);
        CHECK(first.prefix.source == PrefixSource::Prefill);
        REQUIRE(first.prefix.saved);
        CHECK(first.prefix.bytes == std::filesystem::file_size(path));
        const Run second = ask(m, mode, prefix, prompt, path);
        CHECK(second.prefix.source == PrefixSource::Snapshot);
        CHECK(second.prefix.problem.empty());
        CHECK(second.prefix.bytes == first.prefix.bytes);
        // Bit-exact: the loaded rows are the written bytes, and the question runs the same batches.
        REQUIRE(second.logits.size() == first.logits.size());
        CHECK(std::memcmp(second.logits.data(), first.logits.data(), first.logits.size() * sizeof(float)) == 0);
        CHECK(second.generated == first.generated);
        CHECK(!first.generated.empty()); // eight, or fewer before an end of generation

        // Against one session that never split the prompt: the same up to the batch shapes'
        // rounding (the prefix ends a batch there, not here).
        Generator plain(*m.model, *m.tokenizer, mode, 512);
        const std::vector<float> logits = plain.prefill(prompt, 48);
        double worst = 0;
        for (std::size_t i = 0; i < logits.size(); ++i)
            worst = std::max(worst, std::fabs(double(logits[i]) - double(first.logits[i])));
        // Measured 0 on every case here (2 threads): each row's arithmetic does not depend on
        // its batch. The tolerance leaves room for kernels that pick paths by batch size.
        CHECK(worst < 1e-3);
    }
}

TEST_CASE("the snapshot's size is the mode's KV bytes for the prefix plus the header")
{
    Loaded m = loadTestModel("qwen2-q8_0.gguf");
    const auto dir = test::scratchDir("kv_snapshot_size");
    const std::vector<std::int32_t> prefix = someTokens(200, 3, m.model->hparams().nVocab);
    for (const std::string name : { "full", "full+q8", "latent:32+q4" }) {
        CAPTURE(name);
        const KvModeSpec mode = KvModeSpec::parse(name);
        Generator generator(*m.model, *m.tokenizer, mode, 512);
        generator.prefill(prefix, 64);
        const auto path = dir / "s.nwkv";
        const KvSnapshotSaved saved = generator.saveSnapshot({ m.hash, name }, path);
        const std::uint64_t kvBytes = generator.memoryStats().kvBytesUsed;
        const std::uint64_t header = 24 + 8 * 4 + 4 + name.size() + 8 + 4 * prefix.size() + 4
            + std::uint64_t(generator.cache().nStores()) * 56 + 8;
        CHECK(saved.bytes == kvBytes + header);
        CHECK(std::filesystem::file_size(path) == saved.bytes);
    }
}

TEST_CASE("truncated, corrupt, foreign and stale snapshots are refused and leave an empty cache")
{
    Loaded m = loadTestModel("qwen3-q8_0.gguf");
    const auto dir = test::scratchDir("kv_snapshot_bad");
    const KvModeSpec mode = KvModeSpec::parse("full+q8");
    const KvSnapshotIdentity id { m.hash, mode.toString() };
    const std::vector<std::int32_t> prefix = someTokens(150, 4, m.model->hparams().nVocab);
    const auto good = dir / "good.nwkv";
    {
        Generator generator(*m.model, *m.tokenizer, mode, 512);
        generator.prefill(prefix, 64);
        generator.saveSnapshot(id, good);
    }
    const std::vector<std::byte> bytes = readAll(good);
    const std::uint64_t headerBytes = KvSnapshotHeader::headerBytes(std::span(bytes).first(24), "good");
    const KvSnapshotHeader header = KvSnapshotHeader::parse(bytes, "good");

    Generator generator(*m.model, *m.tokenizer, mode, 512);
    const auto expect = [&](const std::filesystem::path &path, KvSnapshotProblem problem,
                            std::span<const std::int32_t> tokens, const KvSnapshotIdentity &identity) {
        generator.prefill(someTokens(40, 9, m.model->hparams().nVocab), 64); // something to be cleared
        const KvSnapshotLoaded loaded = generator.loadSnapshot(tokens, identity, path);
        CHECK(loaded.problem == problem);
        CHECK(!loaded.message.empty());
        CHECK(generator.cache().tokens() == 0);
        CHECK(generator.tokens().empty());
        CHECK(generator.memoryStats().kvBytesUsed == 0);
    };
    const auto variant = [&](const std::string &name, std::vector<std::byte> content) {
        const auto path = dir / name;
        writeAll(path, content);
        return path;
    };

    SUBCASE("the good file loads")
    {
        CHECK(generator.loadSnapshot(prefix, id, good).ok());
        CHECK(generator.cache().tokens() == 150);
    }
    SUBCASE("missing")
    {
        expect(dir / "none.nwkv", KvSnapshotProblem::Missing, prefix, id);
    }
    SUBCASE("truncated: in the prologue, in the header, in the payload, by one byte")
    {
        for (std::size_t keep : { std::size_t(0), std::size_t(5), std::size_t(20), std::size_t(headerBytes - 1),
                 std::size_t(headerBytes + 1000), bytes.size() - 1 }) {
            CAPTURE(keep);
            const auto path = variant("cut.nwkv", { bytes.begin(), bytes.begin() + std::ptrdiff_t(keep) });
            expect(
                path, keep < 8 && keep > 0 ? KvSnapshotProblem::Truncated : KvSnapshotProblem::Truncated, prefix, id);
        }
    }
    SUBCASE("corrupt: a flipped bit in the header or in the rows, a byte too many")
    {
        for (std::size_t at : { std::size_t(30), std::size_t(headerBytes - 3), std::size_t(headerBytes + 7),
                 bytes.size() / 2, bytes.size() - 1 }) {
            CAPTURE(at);
            std::vector<std::byte> flipped = bytes;
            flipped[at] ^= std::byte { 0x10 };
            expect(variant("flip.nwkv", flipped), KvSnapshotProblem::Corrupt, prefix, id);
        }
        std::vector<std::byte> longer = bytes;
        longer.push_back(std::byte { 0 });
        expect(variant("long.nwkv", longer), KvSnapshotProblem::Corrupt, prefix, id);
    }
    SUBCASE("foreign: not a snapshot, another model, mode or prefix")
    {
        const std::string text = "GGUF and then something else entirely, long enough to pass a prologue";
        expect(variant("text.nwkv",
                   std::vector<std::byte>(reinterpret_cast<const std::byte *>(text.data()),
                       reinterpret_cast<const std::byte *>(text.data()) + text.size())),
            KvSnapshotProblem::Foreign, prefix, id);
        expect(good, KvSnapshotProblem::Foreign, prefix, { m.hash + 1, id.kvMode });
        expect(good, KvSnapshotProblem::Foreign, prefix, { m.hash, "full+q4" });
        std::vector<std::int32_t> other = prefix;
        other[77] += 1;
        expect(good, KvSnapshotProblem::Foreign, other, id);
        expect(good, KvSnapshotProblem::Foreign, std::span(prefix).first(149), id);
    }
    SUBCASE("stale: another format version, rows laid out for another cache")
    {
        std::vector<std::byte> version = bytes;
        version[8] = std::byte { 0 }; // version 2 -> 0 (the checksum is not reached)
        expect(variant("version.nwkv", version), KvSnapshotProblem::Stale, prefix, id);
        version[8] = std::byte { 1 }; // the first format, before the prefill time
        expect(variant("version1.nwkv", version), KvSnapshotProblem::Stale, prefix, id);

        // A valid file whose stores do not match this cache's (as after a layout change).
        KvSnapshotHeader moved = header;
        moved.stores[1].kRowBytes += 34;
        moved.stores[1].vRowBytes -= 34;
        std::vector<std::byte> content = moved.serialize();
        content.insert(content.end(), bytes.begin() + std::ptrdiff_t(headerBytes), bytes.end());
        expect(variant("layout.nwkv", content), KvSnapshotProblem::Stale, prefix, id);
    }
}

TEST_CASE("prepareSnapshotPrefix replaces a bad snapshot with a good one")
{
    Loaded m = loadTestModel("qwen3-q8_0.gguf");
    const auto dir = test::scratchDir("kv_snapshot_rebuild");
    const KvModeSpec mode = KvModeSpec::parse("full");
    const KvSnapshotIdentity id { m.hash, mode.toString() };
    const std::vector<std::int32_t> prefix = someTokens(100, 5, m.model->hparams().nVocab);
    const auto path = dir / kvSnapshotFileName(id, prefix);
    std::vector<std::byte> junk(5000, std::byte { 0x5a });
    writeAll(path, junk);
    Generator first(*m.model, *m.tokenizer, mode, 512);
    const PrefixResult rebuilt = first.prepareSnapshotPrefix(prefix, id, path);
    CHECK(rebuilt.source == PrefixSource::Prefill);
    CHECK(rebuilt.problem.find("not a KV snapshot") != std::string::npos);
    CHECK(rebuilt.saved);
    CHECK(rebuilt.prefillSeconds == rebuilt.seconds);
    CHECK(rebuilt.prefillSeconds > 0);
    // In the same session the cache already holds it; in a new one the file loads.
    CHECK(first.prepareSnapshotPrefix(prefix, id, path).source == PrefixSource::Cache);
    Generator second(*m.model, *m.tokenizer, mode, 512);
    const PrefixResult loaded = second.prepareSnapshotPrefix(prefix, id, path);
    CHECK(loaded.source == PrefixSource::Snapshot);
    CHECK(loaded.problem.empty());
    CHECK(second.tokens().size() == prefix.size());
    // The load says what it saved: the first prefill's time, kept in whole microseconds.
    CHECK(std::fabs(loaded.prefillSeconds - rebuilt.seconds) <= 0.5e-6);
    CHECK(KvSnapshotDirectory(dir).list().front().prefillSeconds == loaded.prefillSeconds);
}

TEST_CASE("a write that fails leaves no file behind, and a save replaces the old file whole")
{
    Loaded m = loadTestModel("qwen3-q8_0.gguf");
    const auto dir = test::scratchDir("kv_snapshot_atomic");
    const KvModeSpec mode = KvModeSpec::parse("full");
    Generator generator(*m.model, *m.tokenizer, mode, 512);
    generator.prefill(someTokens(70, 6, m.model->hparams().nVocab), 64);
    CHECK_THROWS_AS(generator.saveSnapshot({ m.hash, "full" }, dir / "no-such-dir" / "s.nwkv"), Error);
    const auto path = dir / "s.nwkv";
    writeAll(path, std::vector<std::byte>(10, std::byte { 1 }));
    generator.saveSnapshot({ m.hash, "full" }, path);
    CHECK(readKvSnapshotHeader(path).tokens.size() == 70);
    std::size_t files = 0;
    for (const auto &entry : std::filesystem::directory_iterator(dir)) {
        (void)entry;
        ++files;
    }
    CHECK(files == 1); // no temporary left
}

TEST_CASE("eviction sweeps the temporaries of writers that died an hour ago or more, and no others")
{
    const KvSnapshotDirectory store(test::scratchDir("kv_snapshot_temporaries") / "kv");
    store.create();
    const auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(2);
    const std::string bytes = "partial";
    for (const char *name : { "a.nwkv.tmp.123", "model-hashes.txt.tmp.456", "b.nwkv.tmp.789", "notes.tmp.1" }) {
        writeAll(store.dir() / name, std::as_bytes(std::span(bytes)));
        if (std::string_view(name) != "b.nwkv.tmp.789") // a writer still at work
            std::filesystem::last_write_time(store.dir() / name, old);
    }
    CHECK(store.evict(std::uint64_t(1) << 40).empty()); // no snapshot to evict
    CHECK_FALSE(std::filesystem::exists(store.dir() / "a.nwkv.tmp.123"));
    CHECK_FALSE(std::filesystem::exists(store.dir() / "model-hashes.txt.tmp.456"));
    CHECK(std::filesystem::exists(store.dir() / "b.nwkv.tmp.789"));
    CHECK(std::filesystem::exists(store.dir() / "notes.tmp.1")); // not ours
}

TEST_CASE("the snapshot directory lists, removes and evicts the least recently used")
{
    Loaded m = loadTestModel("qwen3-q8_0.gguf");
    const KvSnapshotDirectory store(test::scratchDir("kv_snapshot_dir") / "kv");
    CHECK(store.list().empty()); // no directory yet
    store.create();
    const KvModeSpec mode = KvModeSpec::parse("full");
    const KvSnapshotIdentity id { m.hash, mode.toString() };
    std::vector<std::filesystem::path> paths;
    for (int i = 0; i < 3; ++i) {
        Generator generator(*m.model, *m.tokenizer, mode, 512);
        const std::vector<std::int32_t> prefix = someTokens(64 + 10 * i, 10 + i, m.model->hparams().nVocab);
        paths.push_back(store.pathFor(id, prefix));
        CHECK(generator.prepareSnapshotPrefix(prefix, id, paths.back()).saved);
        // Last use is the file time: space them out beyond the file system's resolution.
        std::filesystem::last_write_time(
            paths.back(), std::filesystem::file_time_type::clock::now() - std::chrono::hours(10 - i));
    }
    const std::string cut = "NWKV"; // the start of a snapshot's magic, and nothing after it
    writeAll(store.dir() / "broken.nwkv", std::as_bytes(std::span(cut)));
    std::filesystem::last_write_time(
        store.dir() / "broken.nwkv", std::filesystem::file_time_type::clock::now() - std::chrono::hours(20));
    std::vector<KvSnapshotEntry> entries = store.list();
    REQUIRE(entries.size() == 4);
    CHECK(entries[0].path == paths[2]); // most recently used first
    CHECK(entries[0].tokens == 84);
    CHECK(entries[0].kvMode == "full");
    CHECK(entries[0].modelHash == m.hash);
    CHECK(entries[3].problem == KvSnapshotProblem::Truncated);

    // Loading renews the oldest's use: the middle one is evicted first after the broken file.
    Generator reader(*m.model, *m.tokenizer, mode, 512);
    CHECK(reader.loadSnapshot(someTokens(64, 10, m.model->hparams().nVocab), id, paths[0]).ok());
    const std::uint64_t keepBytes = std::filesystem::file_size(paths[0]) + std::filesystem::file_size(paths[2]);
    const std::vector<KvSnapshotEntry> removed = store.evict(keepBytes, paths[2]);
    REQUIRE(removed.size() == 2);
    CHECK(removed[0].path == store.dir() / "broken.nwkv");
    CHECK(removed[1].path == paths[1]);
    CHECK(store.list().size() == 2);
    // The one just written stays even when it alone is over the cap.
    CHECK(store.evict(1, paths[2]).size() == 1);
    CHECK(store.list().size() == 1);
    CHECK(store.remove(paths[2].filename().string()));
    CHECK(!store.remove("0000000000000000-0000000000000000"));
    CHECK(store.list().empty());
}

TEST_CASE("the directory remembers a model's hash across processes and hashes a changed file again")
{
    const auto scratch = test::scratchDir("kv_snapshot_model_hash");
    const auto model = scratch / "model.gguf";
    std::filesystem::copy_file(test::sourceDir() / "tests" / "data" / "recall-model.gguf", model);
    const std::vector<std::byte> content = readAll(model);
    const std::uint64_t expected = xxhash64(content); // the file's bytes, hashed in one piece

    const KvSnapshotDirectory dir(scratch / "kv");
    dir.create();
    CHECK(dir.modelHash(model) == expected);
    const auto memo = scratch / "kv" / std::string(KvSnapshotDirectory::kModelHashesFile);
    std::string line;
    {
        std::ifstream in(memo);
        std::getline(in, line);
    }
    REQUIRE(line.size() > 17);
    CHECK(line.substr(0, 16) == fmt::format("{:016x}", expected));
    CHECK(dir.list().empty()); // the memo is not a snapshot

    // A later process reads the remembered value instead of the file: shown by planting another.
    {
        std::ofstream out(memo, std::ios::trunc);
        out << "this line is not one\n"
            << "0123456789abcdef" << line.substr(16) << "\n";
    }
    CHECK(KvSnapshotDirectory(scratch / "kv").modelHash(model) == 0x0123456789abcdefULL);

    // Rewritten in place to the same size and modification time: hashed again.
    std::this_thread::sleep_for(std::chrono::milliseconds(30)); // past the clock tick of file times
    const auto modified = std::filesystem::last_write_time(model);
    std::vector<std::byte> changed = content;
    changed[changed.size() / 2] ^= std::byte { 1 };
    writeAll(model, changed);
    std::filesystem::last_write_time(model, modified);
    CHECK(std::filesystem::file_size(model) == content.size());
    CHECK(KvSnapshotDirectory(scratch / "kv").modelHash(model) == xxhash64(changed));
    CHECK(fileContentHash(model) == xxhash64(changed));

    // Unreadable: the error names the file.
    CHECK_THROWS_WITH_AS(dir.modelHash(scratch / "none.gguf"), doctest::Contains("none.gguf"), Error);
}
