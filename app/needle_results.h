// What the needle harness measured: one row per trial, perplexity per KV mode, the
// results.json / results.csv files (written atomically, read back to resume), and the
// accuracy grid per mode that the heatmaps and the summary table show.
#pragma once

#include <nlohmann/json.hpp>

#include <QString>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace nw::app {

struct NeedleTrial {
    std::string mode; // KV mode as KvModeSpec::toString() writes it
    std::int64_t length = 0; // haystack tokens
    int depth = 0; // requested depth, percent
    std::string variant; // needleVariantName()
    int trial = 0;
    std::string key; // pass-key needles; empty for a needle set's
    int value = 0; // pass-key needles
    std::string question;
    std::string expected; // the answer the needle gives
    std::string answer; // the generated text
    bool exact = false;
    bool lenient = false;
    double actualDepth = 0.0; // where the asked needle landed, percent
    std::int64_t promptTokens = 0; // after the chat template, with BOS
    std::uint64_t kvBytesPerToken = 0; // all layers: what the next token adds (0 once a window is full)
    std::uint64_t kvBytesTotal = 0; // the cache when the answer was done
    std::int64_t kvTokens = 0; // the context (prompt and answer) kvBytesTotal was held for; 0 in older files
    double seconds = 0.0; // prefill + decode of this trial
    // A remote engine's trial: the server's /metrics figures after the answer (null in process).
    nlohmann::json remoteKv;

    // The cell a trial belongs to, and the trial itself, for resuming.
    using Key = std::tuple<std::string, std::int64_t, int, std::string, int>;
    Key key5() const { return { mode, length, depth, variant, trial }; }
};

struct NeedlePerplexity {
    std::string mode;
    double ppl = 0.0;
    double error = 0.0;
    std::int64_t ctx = 0;
    std::int64_t scoredTokens = 0;
    std::uint64_t kvBytesPerToken = 0;
};

// Everything results.json holds. `model`, `seed`, `needleSet` and `compressBeforeQuestion` identify
// the run: resuming with another would mix haystacks or answers, so the runner refuses it.
struct NeedleResults {
    std::string model; // file name of the model
    std::uint64_t seed = 0;
    std::string needleSet { "passkey" }; // NeedleSet::name; files from before needle sets had pass keys
    // --compress-before-question: a `+snapkv:B` cache was compressed with the haystack alone in its
    // observation window, the question coming after (other modes run as without it).
    bool compressBeforeQuestion = false;
    std::vector<NeedleTrial> trials;
    std::vector<NeedlePerplexity> perplexity;
    // A remote engine's run (app/needle_remote.h): its URL, model, context and how haystack
    // tokens were counted; null in process.
    nlohmann::json engine;

    bool hasTrial(const NeedleTrial::Key &key) const;
    const NeedlePerplexity *findPerplexity(const std::string &mode) const;

    nlohmann::json toJson() const;
    // Throws nw::Error naming the file and what is wrong with it.
    static NeedleResults fromJson(const nlohmann::json &json, const QString &source);
};

nlohmann::json needleTrialJson(const NeedleTrial &t);

// results.json (pretty-printed, with a per-mode "summary" sorted by KV bytes per token that
// fromJson does not read back) and results.csv (header + one row per trial, RFC 4180 quoting),
// each through writeOutputFile (app/output_file.h) so an interrupted run never leaves half a file
// and a full device or an unwritable path throws nw::Error.
void writeNeedleResultsJson(const NeedleResults &results, const QString &path);
void writeNeedleResultsCsv(const NeedleResults &results, const QString &path);
// nullopt when the file does not exist; nw::Error when it exists but cannot be read or parsed.
std::optional<NeedleResults> readNeedleResultsJson(const QString &path);

// The CSV header, in the order the columns are written.
const std::vector<std::string> &needleCsvColumns();

// Accuracy of one KV mode over lengths × depths (all variants and trials of a cell together).
struct NeedleCell {
    int trials = 0;
    int exact = 0;
    int lenient = 0;
    double exactRate() const { return trials ? static_cast<double>(exact) / trials : 0.0; }
    double lenientRate() const { return trials ? static_cast<double>(lenient) / trials : 0.0; }
};

struct NeedleGrid {
    std::string mode;
    std::vector<std::int64_t> lengths; // columns, ascending
    std::vector<int> depths; // rows, ascending
    std::vector<NeedleCell> cells; // [depths.size()][lengths.size()], row-major
    std::uint64_t kvBytesPerToken = 0; // what the next token adds (MemoryStats::bytesPerToken)
    // Mean KV bytes held per token of context over the mode's trials, Σ kvBytesTotal / Σ kvTokens:
    // what the summaries and the Pareto chart show. Equal to kvBytesPerToken for a cache that keeps
    // every token; smaller for eviction, whose next-token figure is 0 once its window is full.
    double kvBytesHeldPerToken = 0.0;
    std::uint64_t kvBytesTotal = 0; // the largest total seen (the longest haystack)
    std::int64_t kvBytesTotalLength = 0; // the haystack length of that trial
    std::int64_t kvBytesTotalTokens = 0; // the tokens in its cache then (prompt and answer): the bytes' own count
    std::optional<double> ppl;
    std::string needleSet; // NeedleResults::needleSet

    const NeedleCell &cell(std::size_t depthRow, std::size_t lengthColumn) const
    {
        return cells[depthRow * lengths.size() + lengthColumn];
    }
    NeedleCell total() const;
};

// The tokens of context a trial's kvBytesTotal was held for: kvTokens, or for files written
// before it was recorded, kvBytesTotal / kvBytesPerToken (exact then: no mode evicted).
std::int64_t needleTrialKvTokens(const NeedleTrial &t);

// The grid of `mode` over the given lengths and depths (cells without trials stay empty).
NeedleGrid needleGrid(const NeedleResults &results, const std::string &mode, const std::vector<std::int64_t> &lengths,
    const std::vector<int> &depths);

// "1k", "1.5k", "512" (1k = 1024); app/numeric_options.h parses them back.
std::string formatTokenCount(std::int64_t tokens);

} // namespace nw::app
