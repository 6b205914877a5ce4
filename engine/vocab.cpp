// Vocabulary from tokenizer.ggml.* metadata, validated once so the tokenizers can index freely.
#include "engine/vocab.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/gguf_file.h"
#include "engine/pre_tokenizer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fmt/format.h>
#include <span>

namespace nw {
namespace {

// Texts llama.cpp recognises when a file names no id for a role (llama_vocab::impl::load, "auto-
// detect special tokens by text"); a token found this way becomes a control token.
constexpr std::string_view kDeepSeekEos = "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>"; // <｜end▁of▁sentence｜>
constexpr std::array<std::string_view, 11> kEotTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "[EOT]", kDeepSeekEos, "<end_of_utterance>",
};
constexpr std::array<std::string_view, 1> kEomTexts = {"<|eom_id|>"};
constexpr std::array<std::string_view, 8> kFimPreTexts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<PRE>", "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>",
};
constexpr std::array<std::string_view, 8> kFimSufTexts = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "hole\xEF\xBD\x9C>",
    "<SUF>", "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>",
};
constexpr std::array<std::string_view, 8> kFimMidTexts = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>",
    "<MID>", "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>",
};
constexpr std::array<std::string_view, 5> kFimPadTexts = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
constexpr std::array<std::string_view, 5> kFimRepTexts = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
constexpr std::array<std::string_view, 1> kFimSepTexts = {"<|file_sep|>"};

// Texts that end generation whatever the file says (llama.cpp's special_eog_ids by text).
constexpr std::array<std::string_view, 22> kEndOfGenerationTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", kDeepSeekEos, "[e~[",
};

// gpt-oss's Harmony markers: llama.cpp makes them user-defined so they are always matched and
// always rendered (a reply's channel headers stay visible to whoever parses them).
constexpr std::array<std::string_view, 4> kHarmonyMarkers = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};

// The left length first: token texts may contain any byte, spaces included.
void makeMergeKey(std::string &key, std::string_view left, std::string_view right)
{
    const auto n = static_cast<std::uint32_t>(left.size());
    key.resize(sizeof n);
    std::memcpy(key.data(), &n, sizeof n);
    key.append(left);
    key.append(right);
}

std::optional<std::int64_t> asInt(const GgufValue &value)
{
    if (const auto *u = std::get_if<std::uint64_t>(&value))
        return *u <= std::uint64_t(INT64_MAX) ? std::optional<std::int64_t>(static_cast<std::int64_t>(*u)) : std::nullopt;
    if (const auto *i = std::get_if<std::int64_t>(&value))
        return *i;
    return std::nullopt;
}

std::optional<double> asNumber(const GgufValue &value)
{
    if (const auto *d = std::get_if<double>(&value))
        return *d;
    if (const auto i = asInt(value))
        return static_cast<double>(*i);
    return std::nullopt;
}

const GgufArray *requireArrayOf(const GgufFile &file, std::string_view key, bool required)
{
    const GgufArray *array = file.findArray(key);
    if (!array && file.findValue(key))
        fail("{}: metadata '{}' is not an array", file.label(), key);
    if (!array && required)
        fail("{}: metadata '{}' is missing: the file has no vocabulary", file.label(), key);
    return array;
}

// Reads a special id key; ids outside the vocabulary keep the default, as GGUF runtimes do.
void readId(const GgufFile &file, std::string_view key, std::int32_t &id, std::size_t nVocab)
{
    const std::optional<std::int64_t> value = file.findInt(key);
    // Converters write UINT32_MAX (or -1) for "no such token".
    if (!value || *value == 0xFFFFFFFF || *value == -1)
        return;
    if (*value < 0 || *value >= static_cast<std::int64_t>(nVocab)) {
        log::get("engine")->warn("{}: {} = {} is outside the vocabulary of {} tokens; using {}", file.label(), key,
                                 *value, nVocab, id);
        return;
    }
    id = static_cast<std::int32_t>(*value);
}

} // namespace

std::string_view vocabModelName(VocabModel model)
{
    return model == VocabModel::Spm ? "llama" : "gpt2";
}

Vocab::Vocab(VocabSpec spec) : m_spec(std::move(spec))
{
    const std::size_t n = m_spec.tokens.size();
    if (n == 0)
        fail("vocabulary is empty");
    if (n > static_cast<std::size_t>(INT32_MAX))
        fail("vocabulary has {} tokens, more than token ids can address", n);
    if (!m_spec.scores.empty() && m_spec.scores.size() != n)
        fail("vocabulary has {} tokens but {} scores", n, m_spec.scores.size());
    if (!m_spec.types.empty() && m_spec.types.size() != n)
        fail("vocabulary has {} tokens but {} token types", n, m_spec.types.size());
    for (const auto &[name, id] : {std::pair{"bos", m_spec.bos}, std::pair{"eos", m_spec.eos}, std::pair{"eot", m_spec.eot},
                                   std::pair{"eom", m_spec.eom}, std::pair{"unk", m_spec.unk}, std::pair{"pad", m_spec.pad},
                                   std::pair{"fim_pre", m_spec.fimPre}, std::pair{"fim_suf", m_spec.fimSuf},
                                   std::pair{"fim_mid", m_spec.fimMid}, std::pair{"fim_pad", m_spec.fimPad},
                                   std::pair{"fim_rep", m_spec.fimRep}, std::pair{"fim_sep", m_spec.fimSep}})
        if (id < -1 || id >= static_cast<std::int64_t>(n))
            fail("vocabulary's {} id {} is outside its {} tokens", name, id, n);
    if (m_spec.addBos && m_spec.bos < 0)
        fail("vocabulary asks for a BOS token but defines none");
    if (m_spec.addEos && m_spec.eos < 0)
        fail("vocabulary asks for an EOS token but defines none");
    if (m_spec.model == VocabModel::Bpe && m_spec.merges.empty())
        fail("BPE vocabulary has no merges (tokenizer.ggml.merges)");

    m_ids.reserve(n);
    for (std::size_t id = 0; id < n; ++id)
        m_ids[m_spec.tokens[id]] = static_cast<std::int32_t>(id);

    m_mergeRanks.reserve(m_spec.merges.size());
    for (std::size_t rank = 0; rank < m_spec.merges.size(); ++rank) {
        const std::string &merge = m_spec.merges[rank];
        // Split at the first space after the first byte: a merge's left part is never empty.
        const std::size_t space = merge.find(' ', 1);
        if (space == std::string::npos)
            fail("merge {} ('{}') is not two token texts separated by a space", rank, merge);
        std::string key;
        makeMergeKey(key, std::string_view(merge).substr(0, space), std::string_view(merge).substr(space + 1));
        m_mergeRanks.emplace(std::move(key), static_cast<std::int32_t>(rank));
    }

    m_byteTokens.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
        if (const auto id = find(fmt::format("<0x{:02X}>", b)))
            m_byteTokens[static_cast<std::size_t>(b)] = *id;
        else if (const auto single = find(std::string(1, static_cast<char>(b))))
            m_byteTokens[static_cast<std::size_t>(b)] = *single;
    }

    deriveSpecialTokens();
}

void Vocab::setType(std::int32_t id, TokenType type)
{
    if (m_spec.types.empty())
        m_spec.types.assign(m_spec.tokens.size(), TokenType::Normal);
    m_spec.types[static_cast<std::size_t>(id)] = type;
}

void Vocab::deriveSpecialTokens()
{
    // Each rule looks a text up (the id a text maps to is the last of duplicates). Where several
    // tokens fit a role, llama.cpp takes the first in its hash map's order; this takes the
    // lowest id (it matters only for vocabularies with two such texts, and both end generation
    // either way).
    auto lowestOf = [this](std::span<const std::string_view> texts) {
        std::int32_t lowest = -1;
        for (std::string_view t : texts)
            if (const auto id = find(t); id && (lowest < 0 || *id < lowest))
                lowest = *id;
        return lowest;
    };
    const std::pair<std::int32_t *, std::span<const std::string_view>> roles[] = {
        {&m_spec.eot, kEotTexts},       {&m_spec.eom, kEomTexts},       {&m_spec.fimPre, kFimPreTexts},
        {&m_spec.fimSuf, kFimSufTexts}, {&m_spec.fimMid, kFimMidTexts}, {&m_spec.fimPad, kFimPadTexts},
        {&m_spec.fimRep, kFimRepTexts}, {&m_spec.fimSep, kFimSepTexts},
    };
    for (const auto &[id, texts] : roles) {
        if (*id >= 0)
            continue;
        *id = lowestOf(texts);
        if (*id >= 0)
            setType(*id, TokenType::Control);
    }

    for (std::int32_t id : {m_spec.fimPad, m_spec.fimRep, m_spec.fimSep})
        if (id >= 0)
            m_eog.push_back(id);
    for (std::string_view t : kEndOfGenerationTexts) {
        if (const auto id = find(t)) {
            m_eog.push_back(*id);
            setType(*id, TokenType::Control);
        }
    }
    for (std::string_view t : kHarmonyMarkers)
        if (const auto id = find(t))
            setType(*id, TokenType::UserDefined);
    for (std::int32_t id : {m_spec.eos, m_spec.eot, m_spec.eom})
        if (id >= 0)
            m_eog.push_back(id);
    std::sort(m_eog.begin(), m_eog.end());
    m_eog.erase(std::unique(m_eog.begin(), m_eog.end()), m_eog.end());

    auto eogWithText = [this](std::string_view wanted) -> std::int32_t {
        for (std::int32_t id : m_eog)
            if (text(id) == wanted)
                return id;
        return -1;
    };
    auto dropFromEog = [this](std::int32_t id) { m_eog.erase(std::find(m_eog.begin(), m_eog.end(), id)); };
    // Harmony (gpt-oss) ends a reply with <|return|> or a tool call with <|call|>; its <|end|>
    // only closes a message, and the analysis message comes before the final one.
    const std::int32_t end = eogWithText("<|end|>");
    const bool hasCall = eogWithText("<|call|>") >= 0 || eogWithText("<|calls|>") >= 0;
    if (end >= 0 && hasCall && (eogWithText("<|return|>") >= 0 || eogWithText("<|flush|>") >= 0)) {
        dropFromEog(end);
        setType(end, TokenType::UserDefined);
    }
    // Gemma 4 has </s> as an ordinary token.
    const std::int32_t closeS = eogWithText("</s>");
    if (closeS >= 0 && eogWithText("<|tool_response>") >= 0) {
        dropFromEog(closeS);
        setType(closeS, TokenType::Normal);
    }

    for (std::int32_t id = 0; id < size(); ++id) {
        const TokenType t = type(id);
        if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown)
            m_special.push_back(id);
    }
    std::stable_sort(m_special.begin(), m_special.end(),
                     [this](std::int32_t a, std::int32_t b) { return text(a).size() > text(b).size(); });

    // llama.cpp gives the special tokens of files named like Phi-3 its RSTRIP attribute (the
    // text after them loses its leading whitespace), except <unk>, <s> and <|endoftext|>.
    std::string name = m_spec.name;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
        m_stripsSpaceAfter.assign(m_spec.tokens.size(), 0);
        for (std::int32_t id : m_special)
            m_stripsSpaceAfter[static_cast<std::size_t>(id)] = 1;
        if (const auto id = find("</s>"))
            m_stripsSpaceAfter[static_cast<std::size_t>(*id)] = 1;
        for (std::string_view kept : {"<unk>", "<s>", "<|endoftext|>"})
            if (const auto id = find(kept))
                m_stripsSpaceAfter[static_cast<std::size_t>(*id)] = 0;
    }
}

bool Vocab::stripsSpaceAfter(std::int32_t id) const
{
    NW_ASSERT(contains(id));
    return !m_stripsSpaceAfter.empty() && m_stripsSpaceAfter[static_cast<std::size_t>(id)] != 0;
}

const std::string &Vocab::text(std::int32_t id) const
{
    NW_ASSERT(contains(id));
    return m_spec.tokens[static_cast<std::size_t>(id)];
}

float Vocab::score(std::int32_t id) const
{
    NW_ASSERT(contains(id));
    return m_spec.scores.empty() ? 0.0f : m_spec.scores[static_cast<std::size_t>(id)];
}

TokenType Vocab::type(std::int32_t id) const
{
    NW_ASSERT(contains(id));
    return m_spec.types.empty() ? TokenType::Normal : m_spec.types[static_cast<std::size_t>(id)];
}

std::optional<std::int32_t> Vocab::find(std::string_view text) const
{
    const auto it = m_ids.find(text);
    if (it == m_ids.end())
        return std::nullopt;
    return it->second;
}

std::optional<std::int32_t> Vocab::mergeRank(std::string_view left, std::string_view right) const
{
    thread_local std::string key; // reused: BPE asks this for every adjacent pair
    makeMergeKey(key, left, right);
    const auto it = m_mergeRanks.find(std::string_view(key));
    if (it == m_mergeRanks.end())
        return std::nullopt;
    return it->second;
}

std::optional<std::int32_t> Vocab::byteToken(std::uint8_t byte) const
{
    const std::int32_t id = m_byteTokens[byte];
    if (id >= 0)
        return id;
    if (m_spec.unk >= 0)
        return m_spec.unk;
    return std::nullopt;
}

Vocab Vocab::fromGguf(const GgufFile &file)
{
    VocabSpec spec;
    const std::optional<std::string> model = file.findString("tokenizer.ggml.model");
    if (!model)
        fail("{}: metadata 'tokenizer.ggml.model' is missing: the file has no tokenizer", file.label());
    if (*model == "llama") {
        // SentencePiece defaults (llama.cpp): <unk>=0, <s>=1, </s>=2, BOS added, space prefix on.
        spec.model = VocabModel::Spm;
        spec.unk = 0;
        spec.bos = 1;
        spec.eos = 2;
        spec.addBos = true;
        spec.addSpacePrefix = true;
    } else if (*model == "gpt2") {
        // llama.cpp's BPE defaults are BOS = EOS = 11, whatever that token is: files name theirs.
        spec.model = VocabModel::Bpe;
        spec.bos = 11;
        spec.eos = 11;
    } else if (*model == "gemma4") {
        spec.model = VocabModel::Bpe;
    } else {
        fail("{}: tokenizer model '{}' is not supported (tokenizer.ggml.model must be 'llama', 'gpt2' or 'gemma4')",
             file.label(), *model);
    }
    spec.pre = *model == "gemma4" ? std::string("gemma4") : file.findString("tokenizer.ggml.pre").value_or("");
    // Llama 3 vocabularies add BOS unless the file says otherwise.
    const std::optional<PreTokenizerSpec> pre = preTokenizerFromName(spec.pre);
    if (spec.model == VocabModel::Bpe && pre && pre->addBos)
        spec.addBos = true;
    spec.name = file.findString("general.name").value_or("");

    const GgufArray &tokens = *requireArrayOf(file, "tokenizer.ggml.tokens", true);
    const std::size_t n = tokens.values.size();
    spec.tokens.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto *s = std::get_if<std::string>(&tokens.values[i]);
        if (!s)
            fail("{}: tokenizer.ggml.tokens[{}] is not a string", file.label(), i);
        // An empty text could never be matched; give it a unique placeholder as llama.cpp does.
        spec.tokens.push_back(s->empty() ? fmt::format("[EMPTY_{}]", i) : *s);
    }
    if (const GgufArray *scores = requireArrayOf(file, "tokenizer.ggml.scores", false)) {
        if (scores->values.size() != n)
            fail("{}: tokenizer.ggml.scores has {} values for {} tokens", file.label(), scores->values.size(), n);
        spec.scores.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            const std::optional<double> v = asNumber(scores->values[i]);
            if (!v)
                fail("{}: tokenizer.ggml.scores[{}] is not a number", file.label(), i);
            spec.scores.push_back(static_cast<float>(*v));
        }
    }
    if (const GgufArray *types = requireArrayOf(file, "tokenizer.ggml.token_type", false)) {
        if (types->values.size() != n)
            fail("{}: tokenizer.ggml.token_type has {} values for {} tokens", file.label(), types->values.size(), n);
        spec.types.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            const std::optional<std::int64_t> v = asInt(types->values[i]);
            if (!v)
                fail("{}: tokenizer.ggml.token_type[{}] is not an integer", file.label(), i);
            spec.types.push_back(*v >= 0 && *v <= 6 ? static_cast<TokenType>(*v) : TokenType::Undefined);
        }
    }
    if (spec.model == VocabModel::Bpe) {
        const GgufArray &merges = *requireArrayOf(file, "tokenizer.ggml.merges", true);
        spec.merges.reserve(merges.values.size());
        for (std::size_t i = 0; i < merges.values.size(); ++i) {
            const auto *s = std::get_if<std::string>(&merges.values[i]);
            if (!s)
                fail("{}: tokenizer.ggml.merges[{}] is not a string", file.label(), i);
            spec.merges.push_back(*s);
        }
    }

    // Defaults the vocabulary is too small for name no token.
    for (std::int32_t *id : {&spec.bos, &spec.eos, &spec.unk})
        if (*id >= static_cast<std::int32_t>(n))
            *id = -1;
    readId(file, "tokenizer.ggml.bos_token_id", spec.bos, n);
    readId(file, "tokenizer.ggml.eos_token_id", spec.eos, n);
    readId(file, "tokenizer.ggml.eot_token_id", spec.eot, n);
    readId(file, "tokenizer.ggml.eom_token_id", spec.eom, n);
    readId(file, "tokenizer.ggml.unknown_token_id", spec.unk, n);
    readId(file, "tokenizer.ggml.padding_token_id", spec.pad, n);
    // The deprecated prefix/suffix/middle keys first: the fim_* keys win where both are present.
    readId(file, "tokenizer.ggml.prefix_token_id", spec.fimPre, n);
    readId(file, "tokenizer.ggml.suffix_token_id", spec.fimSuf, n);
    readId(file, "tokenizer.ggml.middle_token_id", spec.fimMid, n);
    readId(file, "tokenizer.ggml.fim_pre_token_id", spec.fimPre, n);
    readId(file, "tokenizer.ggml.fim_suf_token_id", spec.fimSuf, n);
    readId(file, "tokenizer.ggml.fim_mid_token_id", spec.fimMid, n);
    readId(file, "tokenizer.ggml.fim_pad_token_id", spec.fimPad, n);
    readId(file, "tokenizer.ggml.fim_rep_token_id", spec.fimRep, n);
    readId(file, "tokenizer.ggml.fim_sep_token_id", spec.fimSep, n);
    spec.addBos = file.findBool("tokenizer.ggml.add_bos_token").value_or(spec.addBos);
    spec.addEos = file.findBool("tokenizer.ggml.add_eos_token").value_or(spec.addEos);
    spec.addSpacePrefix = file.findBool("tokenizer.ggml.add_space_prefix").value_or(spec.addSpacePrefix);
    // llama.cpp adds BOS for Gemma 4 even where the file says not to.
    if (pre && pre->kind == PreTokenizerKind::Gemma4)
        spec.addBos = true;

    try {
        return Vocab(std::move(spec));
    } catch (const Error &e) {
        fail("{}: {}", file.label(), e.what());
    }
}

} // namespace nw
