// The trained recall model (tests/data/recall-model.gguf, made by tools/train_recall_model.py):
// greedy decoding must find a pass key buried in filler text with the full KV cache, and find it
// measurably less often when the cache keeps only a low-rank latent of K and V.
// The haystacks are built here, with this file's own RNG, from one bundled sample text, so the
// cases are independent of the training script's generator.
#include "engine/generator.h"
#include "engine/gguf_file.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "tests/engine/reference/reference_llama.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace nw;

namespace {

struct Needle {
    std::string key;
    std::string value;
};

struct RecallCase {
    std::string prompt; // the chat template's rendering, ready to tokenize
    std::string value; // the answer
    std::string label; // for failure messages
};

// Sentences of a text with its whitespace collapsed: a sentence ends after . ; : ! ? or after
// 40 words (as the training script cuts its filler), so no haystack is one giant sentence.
std::vector<std::string> sentencesOf(const std::filesystem::path &path)
{
    std::ifstream in(path);
    REQUIRE(in);
    std::vector<std::string> out;
    std::string word, sentence;
    int words = 0;
    while (in >> word) {
        sentence += (sentence.empty() ? "" : " ") + word;
        if (++words == 40 || std::string_view(".;:!?").find(word.back()) != std::string_view::npos) {
            out.push_back(sentence);
            sentence.clear();
            words = 0;
        }
    }
    if (!sentence.empty())
        out.push_back(sentence);
    return out;
}

std::string randomKey(std::mt19937 &rng, const std::string &prefix = {})
{
    std::uniform_int_distribution<int> length(static_cast<int>(std::max<std::size_t>(5, prefix.size() + 1)), 8);
    std::uniform_int_distribution<int> letter('a', 'z');
    std::string key = prefix;
    for (int n = length(rng); static_cast<int>(key.size()) < n;)
        key += static_cast<char>(letter(rng));
    return key;
}

// Variant 0: one needle; 1: three needles with unrelated keys; 2: three needles whose keys
// share the asked key's first three letters (RULER's multi-key). The asked needle goes at
// `depth` (0..1 of the sentence boundaries); the others at random boundaries.
RecallCase makeCase(const Tokenizer &tok, const std::vector<std::string> &sentences, std::mt19937 &rng,
    std::size_t fillerTokens, double depth, int variant)
{
    std::uniform_int_distribution<int> valueDist(100000, 999999);
    std::vector<Needle> needles;
    needles.push_back({ randomKey(rng), std::to_string(valueDist(rng)) });
    while (variant > 0 && needles.size() < 3) {
        Needle n { variant == 2 ? randomKey(rng, needles[0].key.substr(0, 3)) : randomKey(rng),
            std::to_string(valueDist(rng)) };
        bool fresh = true;
        for (const Needle &other : needles)
            fresh = fresh && other.key != n.key && other.value != n.value;
        if (fresh)
            needles.push_back(n);
    }

    std::vector<std::string> chosen;
    std::size_t tokens = 0;
    for (std::size_t i = std::uniform_int_distribution<std::size_t>(0, sentences.size() - 1)(rng);
         tokens < fillerTokens; ++i) {
        const std::string &s = sentences[i % sentences.size()];
        chosen.push_back(s);
        tokens += tok.encode(s, false, false).size();
    }
    std::vector<std::vector<std::size_t>> at(chosen.size() + 1); // needles before sentence i
    at[static_cast<std::size_t>(std::lround(depth * static_cast<double>(chosen.size())))].push_back(0);
    for (std::size_t j = 1; j < needles.size(); ++j)
        at[std::uniform_int_distribution<std::size_t>(0, chosen.size())(rng)].push_back(j);

    std::string haystack;
    auto add = [&haystack](const std::string &s) { haystack += (haystack.empty() ? "" : " ") + s; };
    for (std::size_t i = 0; i <= chosen.size(); ++i) {
        for (std::size_t j : at[i])
            add("The pass key for " + needles[j].key + " is " + needles[j].value + ".");
        if (i < chosen.size())
            add(chosen[i]);
    }
    // The file's template: `{{ message['content'] }}` then, with the generation prompt,
    // "\nAnswer: "; the user message ends with the question, and the harness's answer prefix
    // follows the generation prompt.
    RecallCase c;
    c.prompt = haystack + "\nWhat is the pass key for " + needles[0].key + "?" + "\nAnswer: " + "The pass key for "
        + needles[0].key + " is";
    c.value = needles[0].value;
    c.label = "filler " + std::to_string(fillerTokens) + " depth " + std::to_string(depth) + " variant "
        + std::to_string(variant) + " key " + needles[0].key;
    return c;
}

std::vector<RecallCase> makeCases(const Tokenizer &tok, std::uint32_t seed, std::span<const std::size_t> lengths,
    std::span<const double> depths, const char *sampleText = "GPL-3.txt")
{
    const auto sentences = sentencesOf(nw::test::sourceDir() / "resources" / "sample" / sampleText);
    std::mt19937 rng(seed);
    std::vector<RecallCase> cases;
    int variant = 0;
    for (std::size_t length : lengths)
        for (double depth : depths)
            cases.push_back(makeCase(tok, sentences, rng, length, depth, variant++ % 3));
    return cases;
}

struct Score {
    int exact = 0;
    int total = 0;
    double rate() const { return total ? static_cast<double>(exact) / total : 0.0; }
};

Score runCases(
    Model &model, const Tokenizer &tok, const std::vector<RecallCase> &cases, const std::string &mode, bool verbose)
{
    Score score;
    for (const RecallCase &c : cases) {
        const std::vector<std::int32_t> prompt = tok.encode(c.prompt, true, false);
        Generator generator(model, tok, KvModeSpec::parse(mode), static_cast<std::int64_t>(prompt.size()) + 16);
        GenerateOptions options;
        options.maxTokens = 12;
        options.sampler.greedy = true;
        const GenerationResult r = generator.generateFromTokens(prompt, options);
        const bool exact = r.text == " " + c.value + "." && r.stop == StopReason::EndOfGeneration;
        score.exact += exact;
        ++score.total;
        if (verbose && !exact)
            MESSAGE(mode << ": " << c.label << " (" << prompt.size() << " tokens): wanted " << c.value << ", got '"
                         << r.text << "'");
    }
    return score;
}

std::filesystem::path modelPath()
{
    return nw::test::sourceDir() / "tests" / "data" / "recall-model.gguf";
}

// The model is made by tools/train_recall_model.py and committed once it meets its targets;
// until then (or in a checkout without it) these tests say so and do nothing.
bool modelAbsent()
{
    if (std::filesystem::exists(modelPath()))
        return false;
    MESSAGE("skipped: " << modelPath().string() << " is absent (train it with tools/train_recall_model.py)");
    return true;
}

} // namespace

TEST_CASE("recall model: full KV retrieves the pass key; a rank-8 latent KV retrieves measurably less")
{
    if (modelAbsent())
        return;
    std::shared_ptr<GgufFile> file = GgufFile::open(modelPath());
    auto model = loadModel(file, { .threads = 1 }); // a model this small gains nothing from more
    auto tok = Tokenizer::fromGguf(*file);
    CHECK(file->findString("tokenizer.chat_template").value_or("").find("\nAnswer: ") != std::string::npos);

    // Filler lengths within the trained 100-1000 tokens; depths from the start to the end.
    const std::size_t lengths[] = { 150, 400, 700, 1000 };
    const double depths[] = { 0.0, 0.25, 0.5, 0.75, 1.0 };
    const auto cases = makeCases(*tok, 20261123u, lengths, depths);

    const Score full = runCases(*model, *tok, cases, "full", true);
    MESSAGE("full: " << full.exact << "/" << full.total);
    CHECK(full.rate() >= 0.95);

    const Score low = runCases(*model, *tok, cases, "latent:8", false);
    MESSAGE("latent:8: " << low.exact << "/" << low.total);
    CHECK(low.rate() <= full.rate() - 0.25);
}

TEST_CASE("recall model: TurboQuant KV at 4 and 3 bits keeps the pass key, alone and beside q8 or q4 keys")
{
    if (modelAbsent())
        return;
    std::shared_ptr<GgufFile> file = GgufFile::open(modelPath());
    auto model = loadModel(file, { .threads = 1 });
    auto tok = Tokenizer::fromGguf(*file);
    const std::size_t lengths[] = { 150, 400, 700, 1000 };
    const double depths[] = { 0.0, 0.25, 0.5, 0.75, 1.0 };
    const auto cases = makeCases(*tok, 20261123u, lengths, depths);
    const Score full = runCases(*model, *tok, cases, "full", false);
    // Within two cases of full on these 20 (tests/data/recall-model.md has the 55-case table: keys
    // are what costs recall, values take 3 bits without loss).
    for (const char *mode : { "full+tq4", "full+tq3", "full+tq4/tq3", "full+q8/tq3", "full+q4/tq3" }) {
        const Score s = runCases(*model, *tok, cases, mode, true);
        MESSAGE(std::string(mode) << ": " << s.exact << "/" << s.total << " (full " << full.exact << ")");
        CHECK(s.exact >= full.exact - 2);
    }
    // Two bits, and a latent, run through generation too (their recall is measured in the table,
    // not required).
    for (const char *mode : { "full+tq2", "latent:32+tq3" }) {
        const Score s = runCases(*model, *tok, cases, mode, false);
        MESSAGE(std::string(mode) << ": " << s.exact << "/" << s.total);
        CHECK(s.total == int(cases.size()));
    }
}

TEST_CASE("recall model: a 256-token window with 4 sinks loses the needles outside it and keeps those inside")
{
    if (modelAbsent())
        return;
    std::shared_ptr<GgufFile> file = GgufFile::open(modelPath());
    auto model = loadModel(file, { .threads = 1 });
    auto tok = Tokenizer::fromGguf(*file);
    // At 700 and 1000 tokens of filler a needle at depth <= 0.5 has 350 or more tokens after it,
    // well outside the last 256; at depth 1 it sits right before the question, inside.
    const std::size_t lengths[] = { 700, 1000 };
    const double outsideDepths[] = { 0.0, 0.25, 0.5 };
    const double insideDepths[] = { 1.0 };
    Score outside[2], inside[2]; // [full, evicted]
    for (std::uint32_t seed : { 5u, 6u }) {
        const auto far = makeCases(*tok, seed, lengths, outsideDepths);
        const auto near = makeCases(*tok, seed + 100, lengths, insideDepths);
        for (int m = 0; m < 2; ++m) {
            const std::string mode = m == 0 ? "full" : "full+window:256+sinks:4";
            const Score a = runCases(*model, *tok, far, mode, false);
            const Score b = runCases(*model, *tok, near, mode, false);
            outside[m].exact += a.exact;
            outside[m].total += a.total;
            inside[m].exact += b.exact;
            inside[m].total += b.total;
        }
    }
    MESSAGE("outside the window: full " << outside[0].exact << "/" << outside[0].total << ", window:256+sinks:4 "
                                        << outside[1].exact << "/" << outside[1].total << "; inside: full "
                                        << inside[0].exact << "/" << inside[0].total << ", window:256+sinks:4 "
                                        << inside[1].exact << "/" << inside[1].total);
    CHECK(outside[0].rate() >= 0.9);
    CHECK(outside[1].exact == 0); // the needle's tokens are gone: only a guess could find the value
    CHECK(inside[1].exact >= inside[0].exact - 1);
}

// SnapKV (arXiv:2404.14469) on the float64 reference llama (tests/engine/reference) and on the
// engine's +snapkv:B (f32 rows, so that both choose from the same scores, and the default f16).
// Reference teacher-forced: a case counts as found when every answer token is the argmax after the
// tokens before it, which is exactly when greedy decoding writes the answer; the engine decodes
// greedily. "question known": the prompt (and so the observation window) ends with the question
// and the answer prefix; "compressed before": it ends with the haystack, as a cached document
// would (the engine prefills it alone first, as needle --compress-before-question does), and the
// question comes after the selection. Opt-in (about 5 s per budget): NW_SNAPKV_TABLE=1.
TEST_CASE("recall model: SnapKV with the question known and compressed before it (NW_SNAPKV_TABLE=1)")
{
    if (modelAbsent() || !std::getenv("NW_SNAPKV_TABLE"))
        return;
    std::shared_ptr<GgufFile> file = GgufFile::open(modelPath());
    auto tok = Tokenizer::fromGguf(*file);
    const std::size_t lengths[] = { 500 };
    const double depths[] = { 0.0, 0.25, 0.5 }; // >= 250 filler tokens before the question
    struct Trial {
        std::vector<std::int32_t> tokens; // prompt, then the answer " VALUE."
        std::int64_t prompt = 0;
        std::int64_t haystack = 0; // BOS and the haystack, before "\nWhat is the pass key"
    };
    std::vector<Trial> trials;
    for (std::uint32_t seed : { 5u, 6u }) {
        for (const RecallCase &c : makeCases(*tok, seed, lengths, depths)) {
            const std::vector<std::int32_t> prompt = tok->encode(c.prompt, true, false);
            Trial t { tok->encode(c.prompt + " " + c.value + ".", true, false), std::int64_t(prompt.size()), 0 };
            REQUIRE(std::equal(prompt.begin(), prompt.end(), t.tokens.begin()));
            const std::vector<std::int32_t> head
                = tok->encode(c.prompt.substr(0, c.prompt.find("\nWhat is the pass key")), true, false);
            REQUIRE(std::equal(head.begin(), head.end(), t.tokens.begin()));
            t.haystack = std::int64_t(head.size());
            trials.push_back(std::move(t));
        }
    }
    auto found = [](const Trial &t, const std::vector<std::vector<double>> &logits) {
        for (std::size_t i = std::size_t(t.prompt) - 1; i + 1 < t.tokens.size(); ++i)
            if (std::max_element(logits[i].begin(), logits[i].end()) - logits[i].begin() != t.tokens[i + 1])
                return false;
        return true;
    };
    int full = 0;
    for (const Trial &t : trials) {
        const auto n = std::int64_t(t.tokens.size());
        full += found(t, test::referenceLlamaSnapKvLogits(*file, t.tokens, n, n));
    }
    MESSAGE("full: " << full << "/" << trials.size());
    CHECK(full == int(trials.size())); // the reference finds what the engine's full cache finds
    auto model = loadModel(file, { .threads = 1 });
    // The engine: greedy answers after the Generator compressed the prompt (or the haystack alone).
    auto engineFound = [&](const Trial &t, const KvModeSpec &kv, bool compressBefore) {
        Generator g(*model, *tok, kv, std::int64_t(t.tokens.size()) + 8);
        const std::span<const std::int32_t> all(t.tokens);
        if (compressBefore)
            g.prefill(all.first(std::size_t(t.haystack)));
        GenerateOptions options;
        options.maxTokens = int(t.tokens.size()) - int(t.prompt);
        options.sampler.greedy = true;
        const GenerationResult r = g.generateFromTokens(all.first(std::size_t(t.prompt)), options);
        return std::equal(r.generatedTokens.begin(), r.generatedTokens.end(), all.begin() + t.prompt, all.end())
            && r.generatedTokens.size() == all.size() - std::size_t(t.prompt);
    };
    for (std::int64_t budget : { 64, 128, 256, 400 }) {
        int known = 0, before = 0, engineKnown = 0, engineBefore = 0, f16Known = 0, f16Before = 0;
        KvModeSpec f32 = KvModeSpec::parse("full+snapkv:" + std::to_string(budget));
        const KvModeSpec f16 = f32;
        f32.rowType = TensorType::F32;
        for (const Trial &t : trials) {
            known += found(t, test::referenceLlamaSnapKvLogits(*file, t.tokens, t.prompt, budget));
            before += found(t, test::referenceLlamaSnapKvLogits(*file, t.tokens, t.haystack, budget));
            engineKnown += engineFound(t, f32, false);
            engineBefore += engineFound(t, f32, true);
            f16Known += engineFound(t, f16, false);
            f16Before += engineFound(t, f16, true);
        }
        const int n = int(trials.size());
        MESSAGE("snapkv:" << budget << ": question known " << known << "/" << n << " (engine f32 " << engineKnown
                          << ", f16 " << f16Known << "), compressed before the question " << before << "/" << n
                          << " (engine f32 " << engineBefore << ", f16 " << f16Before << ")");
        // The engine with f32 rows chooses from the reference's scores up to rounding.
        CHECK(std::abs(engineKnown - known) <= 1);
        CHECK(std::abs(engineBefore - before) <= 1);
    }
}

// The accuracy table of the model's KV modes, on more cases than the test above; slow, so only
// when NW_RECALL_TABLE is set: NW_RECALL_TABLE=1 ctest -R recall_model --output-on-failure -V
TEST_CASE("recall model: accuracy per KV mode (NW_RECALL_TABLE=1)")
{
    if (!std::getenv("NW_RECALL_TABLE")) {
        MESSAGE("skipped: set NW_RECALL_TABLE=1 to measure the table");
        return;
    }
    if (modelAbsent())
        return;
    std::shared_ptr<GgufFile> file = GgufFile::open(modelPath());
    auto model = loadModel(file, { .threads = 1 });
    auto tok = Tokenizer::fromGguf(*file);
    const std::size_t lengths[] = { 128, 256, 512, 768, 1000 };
    const double depths[] = { 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0 };
    const auto cases = makeCases(*tok, 7u, lengths, depths);
    // NW_RECALL_TABLE=1 measures the list below and the calibrated factors; a comma-separated list
    // of modes instead measures those alone (NW_RECALL_TABLE=full+q4,full+q4:plain).
    const std::string asked = std::getenv("NW_RECALL_TABLE");
    // K and V are 2 heads x 32 = 64 numbers per token and layer each: latent:64 is full rank.
    std::vector<std::string> modes = { "full", "full+q8", "full+q8:plain", "full+q4", "full+q4:plain", "full+q8/q4",
        "full+q8/q4:plain", "full+f16/q4", "full+q4/f16", "full+q4+protect:1", "latent:48", "latent:32", "latent:24",
        "latent:16", "latent:8", "latent:32+q8", "latent:32+q8:plain", "latent:32+q4", "latent:32+q4:plain", "full+tq4",
        "full+tq3", "full+tq2", "full+q8/tq3", "full+q4/tq3", "full+tq4/tq3", "full+tq3/f16", "full+f16/tq3",
        "latent:32+tq3" };
    if (asked != "1") {
        modes.clear();
        for (std::size_t start = 0; start <= asked.size();) {
            const std::size_t comma = std::min(asked.find(',', start), asked.size());
            modes.push_back(asked.substr(start, comma - start));
            start = comma + 1;
        }
    }
    for (const std::string &mode : modes) {
        const Score s = runCases(*model, *tok, cases, mode, false);
        MESSAGE(mode << ": " << s.exact << "/" << s.total << " exact");
        if (mode == "full")
            CHECK(s.rate() >= 0.95);
    }
    if (asked != "1")
        return;

    // Activation-aware factors (issue 7 asks whether calibration helps recall): fitted to the keys
    // and values of 8 haystacks with needles from another sample text, then the same cases again.
    std::string calibrationText;
    const std::size_t calibrationLengths[] = { 300, 600 };
    const double calibrationDepths[] = { 0.2, 0.4, 0.6, 0.8 };
    for (const RecallCase &c : makeCases(*tok, 99u, calibrationLengths, calibrationDepths, "Apache-2.0.txt"))
        calibrationText += c.prompt + " " + c.value + ".\n";
    const std::vector<std::int32_t> calibration = tok->encode(calibrationText, true, false);
    model->calibrateLatent(calibration);
    for (const std::string mode : { "latent:48", "latent:32", "latent:24", "latent:16", "latent:8" }) {
        const Score s = runCases(*model, *tok, cases, mode, false);
        MESSAGE(
            mode << " calibrated on " << calibration.size() << " tokens: " << s.exact << "/" << s.total << " exact");
    }
}
