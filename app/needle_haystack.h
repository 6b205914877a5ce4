// Needle-in-a-haystack prompts: filler text cut into sentences, needles ("The pass key for KEY
// is VALUE.", or those of a needle set, app/needle_set.h) inserted at sentence boundaries at a
// chosen depth, and haystacks of exactly the requested number of tokens for a model's
// tokenizer. The pass-key format is fixed: the recall test model (tools/train_recall_model.py)
// is trained on exactly these strings.
#pragma once

#include "app/needle_set.h"

#include <QString>
#include <QStringList>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace nw {
class Tokenizer;
}

namespace nw::app {

// The RULER-style variants the harness runs.
enum class NeedleVariant {
    Single, // one needle, the one asked for
    MultiNeedle, // the asked needle plus kDistractorNeedles with unrelated keys
    MultiKey, // the asked needle plus kDistractorNeedles whose keys share its first letters
};
inline constexpr int kDistractorNeedles = 3;
inline constexpr int kSharedKeyPrefix = 4; // multi-key: letters a distractor key shares with the asked one

std::string_view needleVariantName(NeedleVariant variant); // "single", "multi-needle", "multi-key"
// Throws nw::Error naming the known variants.
NeedleVariant parseNeedleVariant(std::string_view name);

// A small portable generator (splitmix64), so a seed gives the same haystacks on every
// platform and standard library.
class NeedleRng {
public:
    explicit NeedleRng(std::uint64_t seed)
        : m_state(seed)
    {
    }
    std::uint64_t next();
    std::uint64_t below(std::uint64_t bound); // uniform in [0, bound), bound > 0
private:
    std::uint64_t m_state;
};

// One seed per trial from the run's seed and the cell's coordinates; the KV mode is not part
// of it, so every mode answers the same haystacks.
std::uint64_t trialSeed(std::uint64_t seed, std::int64_t length, int depthPercent, NeedleVariant variant, int trial);

// KEY: 5–8 random lowercase letters; VALUE: a random number in [100000, 999999].
std::string randomNeedleKey(NeedleRng &rng);
int randomNeedleValue(NeedleRng &rng);
std::string needleSentence(std::string_view key, int value); // "The pass key for KEY is VALUE."
std::string needleQuestion(std::string_view key); // "What is the pass key for KEY?"
// The user message: HAYSTACK + "\n" + QUESTION.
std::string needleUserMessage(std::string_view haystack, std::string_view question);
// "The pass key for KEY is": put after the chat template's generation prompt, as the start of
// the model's answer (RULER does the same), so every model answers in one form: the value,
// then perhaps the sentence's period.
std::string needleAnswerPrefix(std::string_view key);

// Scores of one answer (the text generated after the prefix): exact = the answer with
// surrounding whitespace and one final '.' trimmed equals the expected one; lenient = the
// expected answer occurs in it. Both ignore ASCII case ("yuki" answers "Yuki").
struct NeedleScore {
    bool exact = false;
    bool lenient = false;
};
NeedleScore scoreNeedleAnswer(std::string_view answer, std::string_view expected);

// Filler text as sentences: whitespace runs collapsed to one space, split after '.', '?' or
// '!' followed by a space and an upper-case letter or digit; fragments shorter than 20 bytes
// join the next sentence. `heldOut` keeps the last tenth (at most 4,000 sentences) apart, for
// the perplexity beside each mode, so the model is not scored on text it retrieved from.
class FillerText {
public:
    // Throws nw::Error when the texts hold fewer than 20 sentences.
    explicit FillerText(const QStringList &texts);
    // The bundled sample corpus (app/sample_corpus.h).
    static FillerText sampleCorpus();
    // Text and PDF files; throws nw::Error naming a file that cannot be read.
    static FillerText fromFiles(const QStringList &paths);
    // Every page of every document of a library database; throws nw::Error when it is empty.
    static FillerText fromDatabase(const QString &path);

    const std::vector<std::string> &sentences() const { return m_sentences; }
    const std::string &heldOut() const { return m_heldOut; }

    // Splits one text into sentences as described above (exposed for tests).
    static std::vector<std::string> splitSentences(const QString &text);

private:
    std::vector<std::string> m_sentences; // filler, in corpus order
    std::string m_heldOut;
};

struct PlacedNeedle {
    std::string key; // pass-key needles only (empty for a needle set's)
    int value = 0; // pass-key needles only
    std::string sentence;
    std::string question;
    std::string answer; // expected
    std::string answerPrefix; // put after the generation prompt: needleAnswerPrefix() or nothing
    std::size_t byteOffset = 0; // where the sentence starts in Haystack::text
    std::int64_t tokenOffset = 0; // tokens of the haystack text before it
};

struct Haystack {
    std::string text; // encodes to exactly `tokens` tokens (no BOS/EOS)
    std::int64_t tokens = 0;
    std::vector<PlacedNeedle> needles; // in text order
    std::size_t asked = 0; // index into needles of the one the question asks for
    double depthPercent = 0.0; // the asked needle's tokenOffset / (tokens - its own tokens) × 100

    const PlacedNeedle &askedNeedle() const { return needles[asked]; }
};

struct HaystackRequest {
    std::int64_t tokens = 0; // exact length of the haystack text in the model's tokens
    int depthPercent = 50; // 0 = the needle opens the text, 100 = it closes it
    NeedleVariant variant = NeedleVariant::Single;
    std::uint64_t seed = 0; // picks keys, values, where the filler starts, distractor depths
    const NeedleSet *needleSet = nullptr; // null or a pass-key set: pass keys; else needles drawn from it
};

// Builds a haystack: filler sentences from a seeded start (wrapping round the corpus),
// distractors (per variant) at random inner sentence boundaries, the asked needle at the
// sentence boundary nearest the depth when one lies within 5 points of it (depthPercent is then
// within 5 of the request), else between the two words nearest it, then the filler trimmed
// character by character at the end (at the start when the needle closes the text) until the
// text is exactly `tokens` long. A needle set's distractors are its other needles with other
// answers; multi-key needs pass keys. Throws nw::Error
// when the length cannot be met exactly (a tokenizer whose count jumps past it) or is shorter
// than the needles themselves.
Haystack buildHaystack(const Tokenizer &tokenizer, const FillerText &filler, const HaystackRequest &request);
// The same with any count of a text's tokens (no BOS/EOS), e.g. a remote server's /tokenize
// (app/needle_remote.h); the count must be deterministic.
using NeedleTokenCounter = std::function<std::int64_t(std::string_view text)>;
Haystack buildHaystack(const NeedleTokenCounter &counter, const FillerText &filler, const HaystackRequest &request);

} // namespace nw::app
