// results.json / results.csv of the needle harness, and the accuracy grids.
#include "app/needle_results.h"

#include "app/needle_pareto.h"
#include "app/output_file.h"
#include "common/error.h"

#include <QFile>

#include <algorithm>
#include <cmath>
#include <set>

namespace nw::app {
namespace {

std::string csvField(const std::string &text)
{
    if (text.find_first_of(",\"\r\n") == std::string::npos)
        return text;
    std::string out = "\"";
    for (char c : text) {
        if (c == '"')
            out += '"';
        out += c;
    }
    return out + "\"";
}

std::string number(double value)
{
    std::string s = fmt::format("{:.6f}", value);
    while (!s.empty() && s.back() == '0')
        s.pop_back();
    if (!s.empty() && s.back() == '.')
        s.pop_back();
    return s;
}

// Per KV mode, fewest bytes per token first: trials, exact and lenient recall, perplexity, and
// whether the mode is on the Pareto frontier. Written for readers; fromJson ignores it.
nlohmann::json summaryJson(const NeedleResults &results)
{
    std::vector<std::string> modes;
    for (const NeedleTrial &t : results.trials)
        if (std::find(modes.begin(), modes.end(), t.mode) == modes.end())
            modes.push_back(t.mode);
    std::vector<NeedleCell> cells(modes.size());
    std::vector<std::uint64_t> nextBytes(modes.size(), 0);
    std::vector<double> heldBytes(modes.size(), 0.0);
    std::vector<double> heldTokens(modes.size(), 0.0);
    for (const NeedleTrial &t : results.trials) {
        const std::size_t i = static_cast<std::size_t>(std::find(modes.begin(), modes.end(), t.mode) - modes.begin());
        ++cells[i].trials;
        cells[i].exact += t.exact;
        cells[i].lenient += t.lenient;
        nextBytes[i] = t.kvBytesPerToken;
        heldBytes[i] += static_cast<double>(t.kvBytesTotal);
        heldTokens[i] += static_cast<double>(needleTrialKvTokens(t));
    }
    std::vector<double> bytes(modes.size(), 0.0); // held per token of context, as needleGrid
    for (std::size_t i = 0; i < modes.size(); ++i)
        bytes[i] = heldTokens[i] > 0 ? heldBytes[i] / heldTokens[i] : 0.0;
    std::vector<ParetoPoint> points;
    for (std::size_t i = 0; i < modes.size(); ++i)
        if (bytes[i] > 0)
            points.push_back({ modes[i], bytes[i], cells[i].exactRate() });
    std::set<std::string> frontier;
    for (std::size_t i : paretoFrontier(points))
        frontier.insert(points[i].label);
    std::vector<std::size_t> order(modes.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return bytes[a] < bytes[b]; });
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i : order) {
        const NeedlePerplexity *ppl = results.findPerplexity(modes[i]);
        out.push_back({ { "mode", modes[i] }, { "kv_bytes_held_per_token", bytes[i] },
            { "kv_bytes_per_token", nextBytes[i] }, { "trials", cells[i].trials }, { "exact", cells[i].exactRate() },
            { "lenient", cells[i].lenientRate() }, { "ppl", ppl ? nlohmann::json(ppl->ppl) : nlohmann::json(nullptr) },
            { "pareto", frontier.count(modes[i]) > 0 } });
    }
    return out;
}

} // namespace

bool NeedleResults::hasTrial(const NeedleTrial::Key &key) const
{
    return std::any_of(trials.begin(), trials.end(), [&](const NeedleTrial &t) { return t.key5() == key; });
}

const NeedlePerplexity *NeedleResults::findPerplexity(const std::string &mode) const
{
    for (const NeedlePerplexity &p : perplexity)
        if (p.mode == mode)
            return &p;
    return nullptr;
}

nlohmann::json needleTrialJson(const NeedleTrial &t)
{
    nlohmann::json row = { { "mode", t.mode }, { "length", t.length }, { "depth", t.depth }, { "variant", t.variant },
        { "trial", t.trial }, { "key", t.key }, { "value", t.value }, { "question", t.question },
        { "expected", t.expected }, { "answer", t.answer }, { "exact", t.exact }, { "lenient", t.lenient },
        { "actual_depth", t.actualDepth }, { "prompt_tokens", t.promptTokens },
        { "kv_bytes_per_token", t.kvBytesPerToken }, { "kv_bytes_total", t.kvBytesTotal }, { "kv_tokens", t.kvTokens },
        { "seconds", t.seconds } };
    if (!t.remoteKv.is_null()) // a remote engine's trial
        row["remote_kv"] = t.remoteKv;
    return row;
}

nlohmann::json NeedleResults::toJson() const
{
    nlohmann::json rows = nlohmann::json::array();
    for (const NeedleTrial &t : trials)
        rows.push_back(needleTrialJson(t));
    nlohmann::json ppl = nlohmann::json::array();
    for (const NeedlePerplexity &p : perplexity)
        ppl.push_back({ { "mode", p.mode }, { "ppl", p.ppl }, { "ppl_error", p.error }, { "ctx", p.ctx },
            { "scored_tokens", p.scoredTokens }, { "kv_bytes_per_token", p.kvBytesPerToken } });
    nlohmann::json out = { { "format", "needlework-needle-results" }, { "version", 1 }, { "model", model },
        { "seed", seed }, { "needles", needleSet }, { "compress_before_question", compressBeforeQuestion },
        { "summary", summaryJson(*this) }, { "perplexity", ppl }, { "trials", rows } };
    if (!engine.is_null()) // a remote engine's run
        out["engine"] = engine;
    return out;
}

NeedleResults NeedleResults::fromJson(const nlohmann::json &json, const QString &source)
{
    const std::string where = source.toStdString();
    try {
        if (!json.is_object() || json.value("format", "") != "needlework-needle-results")
            fail("{} is not a needle results file (no \"format\": \"needlework-needle-results\")", where);
        if (json.at("version").get<int>() != 1)
            fail("{}: unsupported results version {}", where, json.at("version").dump());
        NeedleResults r;
        r.model = json.at("model").get<std::string>();
        r.seed = json.at("seed").get<std::uint64_t>();
        r.needleSet = json.value("needles", std::string("passkey"));
        r.compressBeforeQuestion = json.value("compress_before_question", false);
        r.engine = json.value("engine", nlohmann::json());
        for (const nlohmann::json &row : json.at("trials")) {
            NeedleTrial t;
            t.mode = row.at("mode").get<std::string>();
            t.length = row.at("length").get<std::int64_t>();
            t.depth = row.at("depth").get<int>();
            t.variant = row.at("variant").get<std::string>();
            t.trial = row.at("trial").get<int>();
            t.key = row.at("key").get<std::string>();
            t.value = row.at("value").get<int>();
            t.question = row.value("question", std::string());
            t.expected = row.value("expected", std::to_string(t.value));
            t.answer = row.at("answer").get<std::string>();
            t.exact = row.at("exact").get<bool>();
            t.lenient = row.at("lenient").get<bool>();
            t.actualDepth = row.value("actual_depth", 0.0);
            t.promptTokens = row.value("prompt_tokens", std::int64_t { 0 });
            t.kvBytesPerToken = row.at("kv_bytes_per_token").get<std::uint64_t>();
            t.kvBytesTotal = row.at("kv_bytes_total").get<std::uint64_t>();
            t.kvTokens = row.value("kv_tokens", std::int64_t { 0 });
            t.seconds = row.at("seconds").get<double>();
            t.remoteKv = row.value("remote_kv", nlohmann::json());
            r.trials.push_back(std::move(t));
        }
        for (const nlohmann::json &row : json.value("perplexity", nlohmann::json::array())) {
            NeedlePerplexity p;
            p.mode = row.at("mode").get<std::string>();
            p.ppl = row.at("ppl").get<double>();
            p.error = row.at("ppl_error").get<double>();
            p.ctx = row.at("ctx").get<std::int64_t>();
            p.scoredTokens = row.at("scored_tokens").get<std::int64_t>();
            p.kvBytesPerToken = row.at("kv_bytes_per_token").get<std::uint64_t>();
            r.perplexity.push_back(std::move(p));
        }
        return r;
    } catch (const nlohmann::json::exception &e) {
        fail("{}: malformed needle results: {}", where, e.what());
    }
}

void writeNeedleResultsJson(const NeedleResults &results, const QString &path)
{
    const std::string text = results.toJson().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    writeOutputFile(path, QByteArray::fromStdString(text));
}

const std::vector<std::string> &needleCsvColumns()
{
    static const std::vector<std::string> columns
        = { "mode", "length", "depth", "variant", "trial", "key", "value", "answer", "exact", "lenient", "actual_depth",
              "prompt_tokens", "kv_bytes_per_token", "kv_bytes_total", "seconds", "question", "expected" };
    return columns;
}

void writeNeedleResultsCsv(const NeedleResults &results, const QString &path)
{
    std::string out;
    for (std::size_t i = 0; i < needleCsvColumns().size(); ++i)
        out += (i ? "," : "") + needleCsvColumns()[i];
    out += "\r\n";
    for (const NeedleTrial &t : results.trials) {
        const std::vector<std::string> fields = { csvField(t.mode), std::to_string(t.length), std::to_string(t.depth),
            csvField(t.variant), std::to_string(t.trial), csvField(t.key), std::to_string(t.value), csvField(t.answer),
            t.exact ? "1" : "0", t.lenient ? "1" : "0", number(t.actualDepth), std::to_string(t.promptTokens),
            std::to_string(t.kvBytesPerToken), std::to_string(t.kvBytesTotal), number(t.seconds), csvField(t.question),
            csvField(t.expected) };
        for (std::size_t i = 0; i < fields.size(); ++i)
            out += (i ? "," : "") + fields[i];
        out += "\r\n";
    }
    writeOutputFile(path, QByteArray::fromStdString(out));
}

std::optional<NeedleResults> readNeedleResultsJson(const QString &path)
{
    QFile file(path);
    if (!file.exists())
        return std::nullopt;
    if (!file.open(QIODevice::ReadOnly))
        fail("cannot read {}: {}", path.toStdString(), file.errorString().toStdString());
    const QByteArray bytes = file.readAll();
    nlohmann::json json = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (json.is_discarded())
        fail("{} is not valid JSON (delete it or use another --out)", path.toStdString());
    return NeedleResults::fromJson(json, path);
}

NeedleCell NeedleGrid::total() const
{
    NeedleCell sum;
    for (const NeedleCell &c : cells) {
        sum.trials += c.trials;
        sum.exact += c.exact;
        sum.lenient += c.lenient;
    }
    return sum;
}

std::int64_t needleTrialKvTokens(const NeedleTrial &t)
{
    if (t.kvTokens > 0)
        return t.kvTokens;
    // Before kv_tokens was recorded no mode evicted, so every cached token cost kvBytesPerToken.
    return t.kvBytesPerToken ? static_cast<std::int64_t>(t.kvBytesTotal / t.kvBytesPerToken) : 0;
}

NeedleGrid needleGrid(const NeedleResults &results, const std::string &mode, const std::vector<std::int64_t> &lengths,
    const std::vector<int> &depths)
{
    NeedleGrid g;
    g.mode = mode;
    g.lengths = lengths;
    g.depths = depths;
    std::sort(g.lengths.begin(), g.lengths.end());
    std::sort(g.depths.begin(), g.depths.end());
    g.cells.resize(g.lengths.size() * g.depths.size());
    double heldBytes = 0.0; // over the trials in the grid
    double heldTokens = 0.0;
    for (const NeedleTrial &t : results.trials) {
        if (t.mode != mode)
            continue;
        const auto li = std::find(g.lengths.begin(), g.lengths.end(), t.length);
        const auto di = std::find(g.depths.begin(), g.depths.end(), t.depth);
        if (li == g.lengths.end() || di == g.depths.end())
            continue;
        NeedleCell &c = g.cells[static_cast<std::size_t>(di - g.depths.begin()) * g.lengths.size()
            + static_cast<std::size_t>(li - g.lengths.begin())];
        ++c.trials;
        c.exact += t.exact;
        c.lenient += t.lenient;
        g.kvBytesPerToken = t.kvBytesPerToken;
        heldBytes += static_cast<double>(t.kvBytesTotal);
        heldTokens += static_cast<double>(needleTrialKvTokens(t));
        if (t.kvBytesTotal > g.kvBytesTotal) {
            g.kvBytesTotal = t.kvBytesTotal;
            g.kvBytesTotalLength = t.length;
            g.kvBytesTotalTokens = needleTrialKvTokens(t);
        }
    }
    g.kvBytesHeldPerToken = heldTokens > 0 ? heldBytes / heldTokens : 0.0;
    if (const NeedlePerplexity *p = results.findPerplexity(mode))
        g.ppl = p->ppl;
    g.needleSet = results.needleSet;
    return g;
}

std::string formatTokenCount(std::int64_t tokens)
{
    if (tokens >= 1024 && tokens % 512 == 0)
        return tokens % 1024 == 0 ? fmt::format("{}k", tokens / 1024) : fmt::format("{}.5k", tokens / 1024);
    return std::to_string(tokens);
}

} // namespace nw::app
