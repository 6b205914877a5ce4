// Haystacks for the needle harness: sentences, needles, and the exact-length trim.
#include "app/needle_haystack.h"

#include "app/sample_corpus.h"
#include "common/assert.h"
#include "common/error.h"
#include "engine/tokenizer.h"
#include "ingest/pdf_document.h"
#include "ingest/text_document.h"
#include "store/library_store.h"

#include <QFile>
#include <QFileInfo>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <optional>
#include <tuple>

namespace nw::app {
namespace {

constexpr std::array<std::pair<NeedleVariant, std::string_view>, 3> kVariantNames { {
    { NeedleVariant::Single, "single" },
    { NeedleVariant::MultiNeedle, "multi-needle" },
    { NeedleVariant::MultiKey, "multi-key" },
} };

constexpr std::size_t kMinSentenceBytes = 20;
constexpr double kDepthBand = 5.0; // points of depth a needle may land away from the one asked for

std::int64_t countTokens(const NeedleTokenCounter &counter, std::string_view text)
{
    return counter(text);
}

bool isContinuationByte(char c)
{
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

std::string randomLetters(NeedleRng &rng, std::size_t count)
{
    std::string out;
    for (std::size_t i = 0; i < count; ++i)
        out += static_cast<char>('a' + rng.below(26));
    return out;
}

struct PendingNeedle {
    std::string key;
    int value = 0;
    std::string sentence;
    std::string question;
    std::string answer;
    std::string answerPrefix;
    std::size_t boundary = 0; // placed before filler sentence `boundary` (== count: after all)
    std::size_t slot = 0; // the asked needle: after this many of the distractors at its boundary
    bool afterAsked = false; // a distractor moved right after the asked needle (placeAskedNeedle)
};

// The needles of one haystack from a needle set, the asked one first: distractors have answers
// unlike the asked one's and each other's.
std::vector<PendingNeedle> drawSetNeedles(NeedleRng &rng, NeedleVariant variant, const NeedleSet &set)
{
    if (variant == NeedleVariant::MultiKey)
        fail("the multi-key variant needs the pass-key needles (its distractors share the asked key's first letters); "
             "the needle set {} has none",
            set.name);
    const std::size_t count = variant == NeedleVariant::Single ? 1 : 1 + kDistractorNeedles;
    std::vector<std::size_t> candidates(set.needles.size());
    for (std::size_t i = 0; i < candidates.size(); ++i)
        candidates[i] = i;
    std::vector<PendingNeedle> needles;
    while (needles.size() < count && !candidates.empty()) {
        const std::size_t pick = rng.below(candidates.size());
        const NeedleText &n = set.needles[candidates[pick]];
        candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(pick));
        const bool clash
            = std::any_of(needles.begin(), needles.end(), [&](const PendingNeedle &p) { return p.answer == n.answer; });
        if (!clash)
            needles.push_back({ .sentence = n.sentence, .question = n.question, .answer = n.answer });
    }
    if (needles.size() < count)
        fail("the needle set {} has {} needles with different answers; the {} variant needs {}", set.name,
            needles.size(), needleVariantName(variant), count);
    return needles;
}

// The needles of one haystack, the asked one first.
std::vector<PendingNeedle> drawNeedles(NeedleRng &rng, NeedleVariant variant, const NeedleSet *set)
{
    if (set && !set->isPassKey())
        return drawSetNeedles(rng, variant, *set);
    std::vector<PendingNeedle> needles(1);
    needles[0].key = randomNeedleKey(rng);
    needles[0].value = randomNeedleValue(rng);
    if (variant != NeedleVariant::Single) {
        while (needles.size() < 1 + kDistractorNeedles) {
            PendingNeedle d;
            if (variant == NeedleVariant::MultiKey) {
                const std::size_t length = 5 + rng.below(4);
                d.key = needles[0].key.substr(0, kSharedKeyPrefix) + randomLetters(rng, length - kSharedKeyPrefix);
            } else {
                d.key = randomNeedleKey(rng);
            }
            d.value = randomNeedleValue(rng);
            const bool clash = std::any_of(needles.begin(), needles.end(),
                [&](const PendingNeedle &n) { return n.key == d.key || n.value == d.value; });
            if (!clash)
                needles.push_back(std::move(d));
        }
    }
    for (PendingNeedle &n : needles) {
        n.sentence = needleSentence(n.key, n.value);
        n.question = needleQuestion(n.key);
        n.answer = std::to_string(n.value);
        n.answerPrefix = needleAnswerPrefix(n.key);
    }
    return needles;
}

// The cut position nearest `c` that does not split a UTF-8 sequence, moving down.
std::size_t codepointStart(std::string_view text, std::size_t c)
{
    while (c > 0 && c < text.size() && isContinuationByte(text[c]))
        --c;
    return c;
}

// A distractor's boundary while it waits to join the asked needle's: before it at depth 100 with
// no inner boundary, after it when placeAskedNeedle moved it aside (afterAsked).
constexpr std::size_t kJoinAsked = ~std::size_t { 0 };

// The text before filler sentence b: sentences [0, b) with the distractors that precede each,
// and the first `atB` distractors (in draw order) of those at b itself.
std::string textBefore(const std::vector<std::string> &sentences, const std::vector<PendingNeedle> &needles,
    std::size_t b, std::size_t atB)
{
    std::string out;
    auto add = [&out](const std::string &part) {
        if (!out.empty())
            out += ' ';
        out += part;
    };
    for (std::size_t i = 0; i <= b; ++i) {
        std::size_t taken = 0;
        for (std::size_t d = 1; d < needles.size(); ++d)
            if (needles[d].boundary == i && (i < b || taken++ < atB))
                add(needles[d].sentence);
        if (i < b)
            add(sentences[i]);
    }
    return out;
}

// The first of `n` candidates whose count reaches `want` (counts rise with the index): it and
// the one before it are the two nearest `want`.
std::size_t firstReaching(std::size_t n, double want, const std::function<double(std::size_t)> &count)
{
    std::size_t lo = 0, hi = n;
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (count(mid) >= want)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

// Of `n` candidates whose counts rise with the index, the one nearest `want`, and its distance.
std::pair<std::size_t, double> nearestCandidate(
    std::size_t n, double want, const std::function<double(std::size_t)> &count)
{
    NW_ASSERT(n > 0);
    const std::size_t past = firstReaching(n, want, count);
    std::size_t best = std::min(past, n - 1);
    double distance = std::abs(count(best) - want);
    if (past > 0 && std::abs(count(past - 1) - want) <= distance) {
        best = past - 1;
        distance = std::abs(count(best) - want);
    }
    return { best, distance };
}

// Places the asked needle (its boundary and slot) when the filler is trimmed at the end, so that
// the tokens before it are `want`: at the sentence boundary up to `lastKept` — before, between
// or after the distractors there — nearest `want` when it lies within `band` tokens (moving a
// distractor that spans `want` aside first). Otherwise the sentence that spans `want` is split
// in two, between the two words nearest it, or, when no word boundary is within the band (a tiny
// haystack whose words are several tokens each), between the two characters nearest it, if that
// is nearer; the boundaries after it move along by one. The nearest sentence boundary alone could
// land a needle a long sentence away from its depth (one asked at 75 % of 512 tokens at 26 %).
void placeAskedNeedle(const NeedleTokenCounter &tokenizer, std::vector<std::string> &sentences,
    std::vector<PendingNeedle> &needles, std::size_t lastKept, double want, double band)
{
    std::vector<std::pair<std::size_t, std::size_t>> places; // (boundary, slot), in text order
    auto before = [&](std::size_t i) {
        return static_cast<double>(
            countTokens(tokenizer, textBefore(sentences, needles, places[i].first, places[i].second)));
    };
    double bestDistance = 0;
    std::size_t below = 0; // the last place before `want`
    // A distractor that spans `want` (it can hold more tokens than the band) moves one boundary
    // earlier (from boundary 0: right after the asked needle) and the places are searched again.
    constexpr int kMoves = 8;
    for (int round = 0;; ++round) {
        places.clear();
        for (std::size_t b = 0; b <= lastKept; ++b) {
            const auto here = std::count_if(
                needles.begin() + 1, needles.end(), [b](const PendingNeedle &d) { return d.boundary == b; });
            for (std::size_t slot = 0; slot <= static_cast<std::size_t>(here); ++slot)
                places.emplace_back(b, slot);
        }
        const std::pair<std::size_t, double> nearest = nearestCandidate(places.size(), want, before);
        bestDistance = nearest.second;
        needles[0].boundary = places[nearest.first].first;
        needles[0].slot = places[nearest.first].second;
        if (bestDistance <= band)
            return;
        // want > 0 here (place 0 has no tokens before it), so some place comes before it.
        below = firstReaching(places.size(), want, before) - 1;
        const bool insideDistractor = below + 1 < places.size() && places[below + 1].first == places[below].first;
        if (!insideDistractor)
            break;
        if (round == kMoves)
            return;
        const std::size_t b = places[below].first;
        std::size_t seen = 0; // the distractor after place `below`: the slot-th at b in draw order
        for (std::size_t d = 1; d < needles.size(); ++d)
            if (needles[d].boundary == b && seen++ == places[below].second) {
                needles[d].boundary = b > 0 ? b - 1 : kJoinAsked;
                needles[d].afterAsked = b == 0;
                break;
            }
    }

    // The sentence that spans `want`, after all the distractors at its boundary.
    const std::size_t j = places[below].first;
    const std::string &sentence = sentences[j];
    std::string head = textBefore(sentences, needles, j, needles.size());
    if (!head.empty())
        head += ' ';
    using Cut = std::pair<std::size_t, std::size_t>; // (end of the first part, start of the rest)
    auto nearestCut = [&](const std::vector<Cut> &cuts) -> std::pair<std::size_t, double> {
        if (cuts.empty())
            return { 0, bestDistance };
        return nearestCandidate(cuts.size(), want, [&](std::size_t i) {
            return static_cast<double>(countTokens(tokenizer, head + sentence.substr(0, cuts[i].first)));
        });
    };
    std::vector<Cut> cuts;
    for (std::size_t c = 1; c + 1 < sentence.size(); ++c)
        if (sentence[c] == ' ')
            cuts.emplace_back(c, c + 1);
    auto [cut, distance] = nearestCut(cuts);
    if (distance > band) {
        std::vector<Cut> characterCuts;
        for (std::size_t c = 1; c < sentence.size(); ++c)
            if (!isContinuationByte(sentence[c]) && sentence[c] != ' ' && sentence[c - 1] != ' ')
                characterCuts.emplace_back(c, c);
        const auto [characterCut, characterDistance] = nearestCut(characterCuts);
        if (characterDistance < distance) {
            cuts = std::move(characterCuts);
            cut = characterCut;
            distance = characterDistance;
        }
    }
    if (distance >= bestDistance)
        return;
    std::string rest = sentence.substr(cuts[cut].second);
    sentences[j].resize(cuts[cut].first);
    sentences.insert(sentences.begin() + static_cast<std::ptrdiff_t>(j) + 1, std::move(rest));
    for (std::size_t d = 1; d < needles.size(); ++d)
        if (needles[d].boundary > j && needles[d].boundary != kJoinAsked)
            ++needles[d].boundary;
    needles[0].boundary = j + 1;
    needles[0].slot = 0;
}

// Searches a cut position c in [0, region.size()] with count(c) == target, where count falls
// (trim at the start) or rises (trim at the end) with c by one token most of the time. A binary
// search finds the crossing; a short scan around it handles tokenizers whose count wobbles.
std::optional<std::size_t> findExactCut(
    std::size_t regionSize, std::int64_t target, bool rising, const std::function<std::int64_t(std::size_t)> &count)
{
    // First c where the count has reached the target from its starting side.
    std::size_t lo = 0, hi = regionSize;
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        const std::int64_t n = count(mid);
        const bool reached = rising ? n >= target : n <= target;
        if (reached)
            hi = mid;
        else
            lo = mid + 1;
    }
    constexpr std::size_t kScan = 48;
    for (std::size_t d = 0; d <= kScan; ++d) {
        if (lo + d <= regionSize && count(lo + d) == target)
            return lo + d;
        if (d > 0 && d <= lo && count(lo - d) == target)
            return lo - d;
    }
    return std::nullopt;
}

} // namespace

std::string_view needleVariantName(NeedleVariant variant)
{
    for (const auto &[v, name] : kVariantNames)
        if (v == variant)
            return name;
    return "single";
}

NeedleVariant parseNeedleVariant(std::string_view name)
{
    for (const auto &[v, n] : kVariantNames)
        if (n == name)
            return v;
    fail("unknown needle variant '{}': use single, multi-needle or multi-key", name);
}

std::uint64_t NeedleRng::next()
{
    // splitmix64 (Steele, Lea, Flood 2014), the seeding generator of xoshiro.
    std::uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

std::uint64_t NeedleRng::below(std::uint64_t bound)
{
    // Rejection keeps it exactly uniform; the loop runs more than once with probability < bound / 2^64.
    const std::uint64_t limit = ~std::uint64_t { 0 } - (~std::uint64_t { 0 } % bound);
    std::uint64_t x = next();
    while (x >= limit)
        x = next();
    return x % bound;
}

std::uint64_t trialSeed(std::uint64_t seed, std::int64_t length, int depthPercent, NeedleVariant variant, int trial)
{
    NeedleRng mix(seed);
    std::uint64_t h = mix.next();
    for (const std::uint64_t part : { static_cast<std::uint64_t>(length), static_cast<std::uint64_t>(depthPercent),
             static_cast<std::uint64_t>(variant), static_cast<std::uint64_t>(trial) }) {
        NeedleRng step(h ^ (part * 0x9E3779B97F4A7C15ull));
        h = step.next();
    }
    return h;
}

std::string randomNeedleKey(NeedleRng &rng)
{
    return randomLetters(rng, 5 + rng.below(4));
}

int randomNeedleValue(NeedleRng &rng)
{
    return 100000 + static_cast<int>(rng.below(900000));
}

std::string needleSentence(std::string_view key, int value)
{
    return "The pass key for " + std::string(key) + " is " + std::to_string(value) + ".";
}

std::string needleQuestion(std::string_view key)
{
    return "What is the pass key for " + std::string(key) + "?";
}

std::string needleUserMessage(std::string_view haystack, std::string_view question)
{
    return std::string(haystack) + "\n" + std::string(question);
}

std::string needleAnswerPrefix(std::string_view key)
{
    return "The pass key for " + std::string(key) + " is";
}

NeedleScore scoreNeedleAnswer(std::string_view answer, std::string_view expected)
{
    const auto lower = [](std::string_view text) {
        std::string out(text);
        for (char &c : out)
            if (c >= 'A' && c <= 'Z')
                c = static_cast<char>(c - 'A' + 'a');
        return out;
    };
    const std::string want = lower(expected);
    const std::string text = lower(answer);
    const auto isSpace
        = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    std::size_t b = 0, e = answer.size();
    while (b < e && isSpace(answer[b]))
        ++b;
    while (e > b && isSpace(answer[e - 1]))
        --e;
    if (e > b && answer[e - 1] == '.')
        --e;
    return { .exact = text.substr(b, e - b) == want, .lenient = text.find(want) != std::string::npos };
}

std::vector<std::string> FillerText::splitSentences(const QString &text)
{
    const QString flat = text.simplified(); // whitespace runs (line breaks too) become one space
    std::vector<std::string> out;
    QString current;
    for (qsizetype i = 0; i < flat.size(); ++i) {
        const QChar c = flat[i];
        current += c;
        const bool end = (c == QLatin1Char('.') || c == QLatin1Char('?') || c == QLatin1Char('!'))
            && i + 2 < flat.size() && flat[i + 1] == QLatin1Char(' ')
            && (flat[i + 2].isUpper() || flat[i + 2].isDigit());
        if (end) {
            std::string sentence = current.trimmed().toStdString();
            if (sentence.size() >= kMinSentenceBytes) {
                out.push_back(std::move(sentence));
                current.clear();
            }
        }
    }
    std::string tail = current.trimmed().toStdString();
    if (!tail.empty()) {
        if (tail.size() < kMinSentenceBytes && !out.empty())
            out.back() += " " + tail;
        else
            out.push_back(std::move(tail));
    }
    return out;
}

FillerText::FillerText(const QStringList &texts)
{
    std::vector<std::string> all;
    for (const QString &text : texts) {
        std::vector<std::string> s = splitSentences(text);
        all.insert(all.end(), std::make_move_iterator(s.begin()), std::make_move_iterator(s.end()));
    }
    if (all.size() < 20)
        fail("the filler text has {} sentences; the needle harness needs at least 20", all.size());
    const std::size_t held = std::min<std::size_t>(all.size() / 10, 4000);
    m_sentences.assign(all.begin(), all.end() - static_cast<std::ptrdiff_t>(held));
    for (auto it = all.end() - static_cast<std::ptrdiff_t>(held); it != all.end(); ++it) {
        if (!m_heldOut.empty())
            m_heldOut += ' ';
        m_heldOut += *it;
    }
}

FillerText FillerText::sampleCorpus()
{
    QStringList texts;
    for (const SampleText &t : sampleTexts())
        texts << t.text;
    return FillerText(texts);
}

FillerText FillerText::fromFiles(const QStringList &paths)
{
    QStringList texts;
    for (const QString &path : paths) {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly))
            fail("cannot read {}: {}", path.toStdString(), file.errorString().toStdString());
        const QByteArray head = file.peek(4096);
        if (head.startsWith("%PDF")) {
            file.close();
            ingest::PdfDocument pdf = [&] {
                try {
                    return ingest::PdfDocument::open(path);
                } catch (const std::exception &e) {
                    fail("cannot read the PDF {}: {}", path.toStdString(), e.what());
                }
            }();
            QString text;
            for (int i = 0; i < pdf.pageCount(); ++i)
                text += pdf.page(i, false).text + QLatin1Char('\n');
            texts << text;
        } else if (ingest::looksLikeText(head)) {
            texts << ingest::decodeText(file.readAll());
        } else {
            fail("{} is neither a PDF nor a text file", path.toStdString());
        }
    }
    return FillerText(texts);
}

FillerText FillerText::fromDatabase(const QString &path)
{
    if (!QFileInfo::exists(path))
        fail("no library database at {} (ingest documents first, or use --docs)", path.toStdString());
    store::LibraryStore library(path);
    QStringList texts;
    for (const store::DocumentInfo &doc : library.documents()) {
        QString text;
        for (int page = 1; page <= doc.pageCount; ++page)
            if (auto record = library.findPage(doc.id, page))
                text += record->text + QLatin1Char('\n');
        texts << text;
    }
    if (texts.isEmpty())
        fail("the library {} holds no documents", path.toStdString());
    return FillerText(texts);
}

Haystack buildHaystack(const Tokenizer &tokenizer, const FillerText &filler, const HaystackRequest &request)
{
    return buildHaystack(
        [&tokenizer](
            std::string_view text) { return static_cast<std::int64_t>(tokenizer.encode(text, false, false).size()); },
        filler, request);
}

Haystack buildHaystack(const NeedleTokenCounter &tokenizer, const FillerText &filler, const HaystackRequest &request)
{
    const std::int64_t target = request.tokens;
    if (request.depthPercent < 0 || request.depthPercent > 100)
        fail("needle depth {} is outside 0..100 %", request.depthPercent);
    NeedleRng rng(request.seed);
    std::vector<PendingNeedle> needles = drawNeedles(rng, request.variant, request.needleSet);
    std::int64_t needleTokens = 0;
    for (const PendingNeedle &n : needles)
        needleTokens += countTokens(tokenizer, n.sentence);
    const std::int64_t askedTokens = countTokens(tokenizer, needles[0].sentence);
    if (needleTokens >= target)
        fail("a haystack of {} tokens cannot hold its {} needle(s) ({} tokens)", target, needles.size(), needleTokens);
    const std::int64_t budget = target - needleTokens; // filler tokens

    // Filler sentences from a random start, wrapping round, until they pass the budget, plus one
    // more so the trim always has a sentence to cut into. Counts per sentence are close to the
    // count of the joined text (the trim below makes the total exact).
    const std::vector<std::string> &all = filler.sentences();
    // A tokenizer may drop two tokens at once where the cut crosses a word start, so a filler
    // start can have no exact cut; the next start (from the same generator) is tried then.
    constexpr int kAttempts = 8;
    std::string text;
    std::vector<std::size_t> placedOrder; // needle indices in text order
    for (int attempt = 0; attempt < kAttempts && text.empty(); ++attempt) {
        std::size_t next = rng.below(all.size());
        std::vector<std::string> sentences;
        std::vector<std::int64_t> cum { 0 }; // cum[i]: tokens of sentences [0, i)
        auto take = [&] {
            sentences.push_back(all[next]);
            cum.push_back(cum.back() + countTokens(tokenizer, all[next]));
            next = (next + 1) % all.size();
        };
        while (cum.back() < budget || sentences.size() < 2)
            take();
        take();
        // Depth 100 closes the text: the asked needle goes last and the filler is trimmed at the
        // start instead of the end.
        const bool trimStart = request.depthPercent == 100;
        const std::size_t k = sentences.size();
        std::size_t lastKept = 0; // the last boundary whose filler before it fits the budget
        while (lastKept + 1 < k && cum[lastKept + 1] <= budget)
            ++lastKept;
        std::size_t firstKept = 0; // trimStart: the first boundary whose filler after it fits
        while (firstKept < k && cum[k] - cum[firstKept] > budget)
            ++firstKept;
        // Distractors at random boundaries of the part that stays after the trim (when trimming at
        // the start, inner ones; when a single sentence is longer than the filler budget there is
        // none, and they join the asked needle's boundary, before it).
        const std::size_t lo = trimStart ? std::max<std::size_t>(firstKept, 1) : 0;
        const std::size_t hi = trimStart ? k - 1 : lastKept;
        for (std::size_t i = 1; i < needles.size(); ++i)
            needles[i].boundary = hi >= lo ? lo + rng.below(hi - lo + 1) : kJoinAsked;
        if (trimStart) {
            needles[0].boundary = k;
            needles[0].slot = needles.size(); // after every distractor there: it closes the text
        } else {
            const double span = static_cast<double>(target - askedTokens);
            placeAskedNeedle(tokenizer, sentences, needles, lastKept, request.depthPercent / 100.0 * span,
                kDepthBand / 100.0 * span);
        }
        for (std::size_t i = 1; i < needles.size(); ++i)
            if (needles[i].boundary == kJoinAsked)
                needles[i].boundary = needles[0].boundary;
        const std::size_t nSentences = sentences.size(); // one more when the asked needle split a sentence

        // The text in order: at each boundary b its needles, then filler sentence b. The trimmed
        // region is the filler before the first needle (trimStart) or after the last one; it is never
        // empty (distractors sit at inner boundaries, the asked needle at one with filler after it).
        std::vector<std::size_t> order(needles.size());
        for (std::size_t i = 0; i < order.size(); ++i)
            order[i] = i;
        // Distractors sharing a boundary keep their draw order, as placeAskedNeedle counted them,
        // and the asked needle goes after `slot` of them.
        auto sortKey = [&](std::size_t a) {
            std::size_t rank = 0; // distractors drawn before `a` at its boundary
            for (std::size_t d = 1; d < a; ++d)
                rank += needles[d].boundary == needles[a].boundary && !needles[d].afterAsked;
            if (a == 0)
                return std::tuple(needles[a].boundary, needles[a].slot, 0);
            return std::tuple(needles[a].boundary, needles[a].afterAsked ? needles.size() + 1 : rank, 1);
        };
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return sortKey(a) < sortKey(b); });
        std::vector<std::pair<const std::string *, bool>> parts; // text, is a needle
        for (std::size_t b = 0, n = 0; b <= nSentences; ++b) {
            for (; n < order.size() && needles[order[n]].boundary == b; ++n)
                parts.emplace_back(&needles[order[n]].sentence, true);
            if (b < nSentences)
                parts.emplace_back(&sentences[b], false);
        }
        std::size_t firstNeedle = 0, lastNeedle = 0;
        for (std::size_t i = 0; i < parts.size(); ++i)
            if (parts[i].second) {
                if (!parts[firstNeedle].second)
                    firstNeedle = i;
                lastNeedle = i;
            }
        auto joinParts = [&](std::size_t from, std::size_t to) { // [from, to)
            std::string out;
            for (std::size_t i = from; i < to; ++i)
                out += (i == from ? "" : " ") + *parts[i].first;
            return out;
        };
        const std::size_t split = trimStart ? firstNeedle : lastNeedle + 1;
        NW_ASSERT(split > 0 && split < parts.size());
        const std::string region = trimStart ? joinParts(0, split) + " " : joinParts(split, parts.size());
        const std::string fixed = trimStart ? joinParts(split, parts.size()) : joinParts(0, split) + " ";

        auto textAt = [&](std::size_t c) {
            if (trimStart)
                return region.substr(codepointStart(region, c)) + fixed;
            return fixed + region.substr(0, codepointStart(region, c));
        };
        auto count = [&](std::size_t c) { return countTokens(tokenizer, textAt(c)); };
        std::optional<std::size_t> cut = findExactCut(region.size(), target, !trimStart, count);
        if (cut) {
            text = textAt(*cut);
            placedOrder = order;
        }
    }
    if (text.empty())
        fail("cannot cut the filler to exactly {} tokens for this tokenizer (depth {} %, seed {})", target,
            request.depthPercent, request.seed);

    Haystack h;
    h.text = std::move(text);
    h.tokens = countTokens(tokenizer, h.text);
    NW_ASSERT(h.tokens == target);
    std::size_t searchFrom = 0;
    for (std::size_t idx : placedOrder) {
        PlacedNeedle p;
        p.key = needles[idx].key;
        p.value = needles[idx].value;
        p.sentence = needles[idx].sentence;
        p.question = needles[idx].question;
        p.answer = needles[idx].answer;
        p.answerPrefix = needles[idx].answerPrefix;
        p.byteOffset = h.text.find(p.sentence, searchFrom);
        NW_ASSERT(p.byteOffset != std::string::npos);
        searchFrom = p.byteOffset + p.sentence.size();
        std::string_view before(h.text.data(), p.byteOffset);
        while (!before.empty() && before.back() == ' ')
            before.remove_suffix(1);
        p.tokenOffset = countTokens(tokenizer, before);
        if (idx == 0)
            h.asked = h.needles.size();
        h.needles.push_back(std::move(p));
    }
    const double span = static_cast<double>(std::max<std::int64_t>(target - askedTokens, 1));
    h.depthPercent = std::clamp(100.0 * static_cast<double>(h.askedNeedle().tokenOffset) / span, 0.0, 100.0);
    return h;
}

} // namespace nw::app
