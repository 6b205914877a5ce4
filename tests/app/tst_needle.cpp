// The needle harness's pieces: haystacks of exactly the requested token count with the needle
// at the asked depth on a sentence boundary, the variants' keys, scoring, results.json/.csv
// read back by independent parsers, and heatmaps (PNG loads with the documented size, SVG is
// well-formed XML with one rect per cell). GUI test (offscreen): the PNG draws text.
#include "app/needle_haystack.h"
#include "app/needle_heatmap.h"
#include "app/needle_results.h"

#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/tokenizer.h"
#include "tests/support/conformance_qt.h"
#include "tests/support/fifo_reader.h"

#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <set>

using namespace nw::app;

namespace {

// stories260K's tokenizer; null when the conformance set is absent (the tests skip then).
std::unique_ptr<nw::Tokenizer> storiesTokenizer()
{
    const QString model = nw::test::findStories260K();
    if (model.isEmpty())
        return nullptr;
    const auto gguf = nw::GgufFile::open(model.toStdString());
    return nw::Tokenizer::fromGguf(*gguf);
}

// The recall model's tokenizer (stories260K's vocabulary), in the repository: never skipped.
std::unique_ptr<nw::Tokenizer> recallTokenizer()
{
    const auto gguf = nw::GgufFile::open(
        (qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf")).toStdString());
    return nw::Tokenizer::fromGguf(*gguf);
}

std::int64_t tokens(const nw::Tokenizer &t, const std::string &text)
{
    return static_cast<std::int64_t>(t.encode(text, false, false).size());
}

std::string withoutTrailingSpaces(std::string text)
{
    while (!text.empty() && text.back() == ' ')
        text.pop_back();
    return text;
}

bool endsSentence(std::string_view text)
{
    return !text.empty() && std::string_view(".?!").find(text.back()) != std::string_view::npos;
}

// Where the asked needle landed, measured on the text: the tokens before it over the tokens
// a needle can have before it (the haystack less the needle itself), in percent.
double landedDepth(const nw::Tokenizer &t, const Haystack &h)
{
    const PlacedNeedle &asked = h.askedNeedle();
    const std::int64_t before = tokens(t, withoutTrailingSpaces(h.text.substr(0, asked.byteOffset)));
    return 100.0 * static_cast<double>(before) / static_cast<double>(h.tokens - tokens(t, asked.sentence));
}

// The first and last 20 bytes of each filler sentence (20 bytes: the shortest sentence).
struct SentenceEdges {
    std::set<std::string> starts;
    std::set<std::string> ends;
};

SentenceEdges sentenceEdges(const FillerText &filler)
{
    SentenceEdges out;
    for (const std::string &s : filler.sentences()) {
        out.starts.insert(s.substr(0, 20));
        out.ends.insert(s.substr(s.size() - std::min<std::size_t>(s.size(), 20)));
    }
    return out;
}

// A needle inside a sentence is allowed only when no sentence boundary of the text lies within
// `band` points of the requested depth: the text without the asked needle is searched for one.
QString misplacedInsideSentence(
    const nw::Tokenizer &t, const SentenceEdges &edges, const Haystack &h, int depth, double band)
{
    const PlacedNeedle &asked = h.askedNeedle();
    const std::string before = withoutTrailingSpaces(h.text.substr(0, asked.byteOffset));
    if (before.empty() || endsSentence(before))
        return {};
    const std::string without = before + h.text.substr(asked.byteOffset + asked.sentence.size());
    const double span = static_cast<double>(h.tokens - tokens(t, asked.sentence));
    for (std::size_t q = 2; q + 1 < without.size(); ++q) {
        // A boundary between two filler sentences: the asked needle goes before any distractors
        // that share it, so a place after a distractor is not one.
        if (without[q - 1] != ' ' || q < 21 || !edges.starts.count(without.substr(q, 20))
            || !edges.ends.count(without.substr(q - 21, 20)))
            continue;
        const double at = 100.0 * static_cast<double>(tokens(t, without.substr(0, q - 1))) / span;
        if (std::abs(at - depth) <= band)
            return QStringLiteral("split a sentence although a boundary lies at %1 %: %2")
                .arg(at)
                .arg(QString::fromStdString(without.substr(q > 40 ? q - 40 : 0, 80)));
    }
    return {};
}

// RFC 4180 records: fields split on commas outside quotes, "" inside quotes is one quote.
std::vector<std::vector<std::string>> parseCsv(const std::string &text)
{
    std::vector<std::vector<std::string>> rows(1);
    std::string field;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            rows.back().push_back(field);
            field.clear();
        } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            rows.back().push_back(field);
            field.clear();
            rows.emplace_back();
            ++i;
        } else {
            field += c;
        }
    }
    if (rows.back().empty() && field.empty())
        rows.pop_back();
    return rows;
}

NeedleTrial trial(
    const std::string &mode, std::int64_t length, int depth, int t, bool exact, std::string answer = "123456")
{
    NeedleTrial r;
    r.mode = mode;
    r.length = length;
    r.depth = depth;
    r.variant = "single";
    r.trial = t;
    r.key = "abcdef";
    r.value = 123456;
    r.question = "What is the pass key for abcdef?";
    r.expected = "123456";
    r.answer = std::move(answer);
    r.exact = exact;
    r.lenient = exact;
    r.kvBytesPerToken = 640;
    r.kvBytesTotal = 640 * static_cast<std::uint64_t>(length + 20);
    r.seconds = 0.25;
    return r;
}

} // namespace

class TestNeedle : public QObject {
    Q_OBJECT
private slots:
    void needleStrings();
    void scoring_data();
    void scoring();
    void sentences();
    void haystackIsExact_data();
    void haystackIsExact();
    void depthMovesTheNeedle();
    void depthWithinFivePoints_data();
    void depthWithinFivePoints();
    void depthInLongSentences();
    void variants();
    void sameSeedSameHaystack();
    void resultsFiles();
    void heatmaps();
};

void TestNeedle::needleStrings()
{
    QCOMPARE(needleSentence("qwerty", 123456), std::string("The pass key for qwerty is 123456."));
    QCOMPARE(needleQuestion("qwerty"), std::string("What is the pass key for qwerty?"));
    QCOMPARE(
        needleUserMessage("Hay.", needleQuestion("qwerty")), std::string("Hay.\nWhat is the pass key for qwerty?"));
    NeedleRng rng(7);
    const QRegularExpression keyShape(QStringLiteral("^[a-z]{5,8}$"));
    std::set<std::size_t> lengths;
    for (int i = 0; i < 2000; ++i) {
        const std::string key = randomNeedleKey(rng);
        QVERIFY2(keyShape.match(QString::fromStdString(key)).hasMatch(), key.c_str());
        lengths.insert(key.size());
        const int value = randomNeedleValue(rng);
        QVERIFY(value >= 100000 && value <= 999999);
    }
    QCOMPARE(lengths.size(), std::size_t(4)); // 5, 6, 7 and 8 letters all occur
}

void TestNeedle::scoring_data()
{
    QTest::addColumn<QString>("answer");
    QTest::addColumn<QString>("expected");
    QTest::addColumn<bool>("exact");
    QTest::addColumn<bool>("lenient");
    const QString key = QStringLiteral("123456");
    QTest::addRow("bare") << QStringLiteral("123456") << key << true << true;
    QTest::addRow("spaces") << QStringLiteral(" 123456\n") << key << true << true;
    QTest::addRow("sentence") << QStringLiteral("The pass key is 123456.") << key << false << true;
    QTest::addRow("closing period") << QStringLiteral(" 123456.") << key << true << true;
    QTest::addRow("two periods") << QStringLiteral("123456..") << key << false << true;
    QTest::addRow("period inside") << QStringLiteral("123.456") << key << false << false;
    QTest::addRow("short") << QStringLiteral("12345") << key << false << false;
    QTest::addRow("other") << QStringLiteral("654321") << key << false << false;
    QTest::addRow("empty") << QString() << key << false << false;
    QTest::addRow("name") << QStringLiteral(" Yuki.") << QStringLiteral("Yuki") << true << true;
    QTest::addRow("name, other case") << QStringLiteral("yuki") << QStringLiteral("Yuki") << true << true;
    QTest::addRow("name in a sentence") << QStringLiteral("It was YUKI who went.") << QStringLiteral("Yuki") << false
                                        << true;
    QTest::addRow("other name") << QStringLiteral("Yuko") << QStringLiteral("Yuki") << false << false;
}

void TestNeedle::scoring()
{
    QFETCH(QString, answer);
    QFETCH(QString, expected);
    QFETCH(bool, exact);
    QFETCH(bool, lenient);
    const NeedleScore s = scoreNeedleAnswer(answer.toStdString(), expected.toStdString());
    QCOMPARE(s.exact, exact);
    QCOMPARE(s.lenient, lenient);
}

void TestNeedle::sentences()
{
    // "It wraps over!" and "2." are shorter than 20 bytes, so they join the next sentence.
    const auto s = FillerText::splitSentences(
        QStringLiteral("This is the first sentence here.  It wraps\nover! "
                       "Short. Is this the third one? 2. Numbered item follows here. e.g. not split"));
    const std::vector<std::string> expected = { "This is the first sentence here.", "It wraps over! Short.",
        "Is this the third one?", "2. Numbered item follows here. e.g. not split" };
    QCOMPARE(s, expected);
    QVERIFY_THROWS_EXCEPTION(nw::Error, FillerText(QStringList { QStringLiteral("Too short. To fill anything.") }));
}

void TestNeedle::haystackIsExact_data()
{
    QTest::addColumn<int>("length");
    QTest::addColumn<int>("depth");
    QTest::addColumn<int>("variant");
    for (int length : { 48, 100, 257, 1000, 3000 })
        for (int depth : { 0, 33, 50, 100 })
            for (NeedleVariant v : { NeedleVariant::Single, NeedleVariant::MultiNeedle, NeedleVariant::MultiKey })
                if (length >= 257 || v == NeedleVariant::Single)
                    QTest::addRow("%d tokens, %d %%, %s", length, depth, needleVariantName(v).data())
                        << length << depth << static_cast<int>(v);
}

void TestNeedle::haystackIsExact()
{
    QFETCH(int, length);
    QFETCH(int, depth);
    QFETCH(int, variant);
    const auto tokenizer = storiesTokenizer();
    if (!tokenizer)
        QSKIP("../shared/conformance is absent");
    static const FillerText filler = FillerText::sampleCorpus();
    static const SentenceEdges edges = sentenceEdges(filler);
    for (std::uint64_t seed : { 1u, 2u, 3u }) {
        const Haystack h = buildHaystack(*tokenizer, filler,
            { .tokens = length, .depthPercent = depth, .variant = static_cast<NeedleVariant>(variant), .seed = seed });
        QCOMPARE(tokens(*tokenizer, h.text), std::int64_t(length));
        QCOMPARE(h.tokens, std::int64_t(length));
        QCOMPARE(h.needles.size(), variant == 0 ? std::size_t(1) : std::size_t(4));
        for (const PlacedNeedle &n : h.needles) {
            // Each needle occurs once, whole, on a sentence boundary: after ". " (or "? ", "! ")
            // or at the start, and followed by " " or the end. The asked one may sit between two
            // words of a sentence when no boundary is near its depth (depthWithinFivePoints).
            QCOMPARE(h.text.find(n.sentence), n.byteOffset);
            QCOMPARE(h.text.find(n.sentence, n.byteOffset + 1), std::string::npos);
            const std::size_t end = n.byteOffset + n.sentence.size();
            QVERIFY(end == h.text.size() || h.text[end] == ' ');
            if (n.byteOffset > 0) {
                QCOMPARE(h.text[n.byteOffset - 1], ' ');
                if (&n != &h.askedNeedle())
                    QVERIFY2(endsSentence(h.text.substr(0, n.byteOffset - 1)), h.text.c_str());
            }
        }
        QVERIFY(misplacedInsideSentence(*tokenizer, edges, h, depth, 4.0).isEmpty());
        const PlacedNeedle &asked = h.askedNeedle();
        if (depth == 0)
            QCOMPARE(asked.byteOffset, std::size_t(0));
        if (depth == 100)
            QCOMPARE(asked.byteOffset + asked.sentence.size(), h.text.size());
        if (depth == 50 && length >= 1000) {
            const std::int64_t before = tokens(*tokenizer, h.text.substr(0, asked.byteOffset));
            QVERIFY2(before > length / 5 && before < length * 4 / 5, std::to_string(before).c_str());
        }
    }
}

void TestNeedle::depthMovesTheNeedle()
{
    const auto tokenizer = storiesTokenizer();
    if (!tokenizer)
        QSKIP("../shared/conformance is absent");
    const FillerText filler = FillerText::sampleCorpus();
    // Same seed: same filler and key, so only the depth moves the needle, monotonically, and
    // its token position tracks the depth within a couple of sentences of 2,000 tokens.
    std::int64_t previous = -1;
    for (int depth = 0; depth <= 100; depth += 10) {
        const Haystack h = buildHaystack(*tokenizer, filler, { .tokens = 2000, .depthPercent = depth, .seed = 42 });
        const std::int64_t at = tokens(*tokenizer, h.text.substr(0, h.askedNeedle().byteOffset));
        QVERIFY2(at >= previous, qPrintable(QStringLiteral("depth %1: %2 < %3").arg(depth).arg(at).arg(previous)));
        previous = at;
        const double share = 100.0 * static_cast<double>(at) / 2000.0;
        QVERIFY2(std::abs(share - depth) < 15.0,
            qPrintable(QStringLiteral("depth %1 landed at %2 %").arg(depth).arg(share)));
        QVERIFY(std::abs(h.depthPercent - share) < 3.0);
    }
}

void TestNeedle::depthWithinFivePoints_data()
{
    QTest::addColumn<int>("length");
    QTest::addColumn<int>("variant");
    for (int length : { 64, 150, 512, 1000, 2000 })
        for (NeedleVariant v : { NeedleVariant::Single, NeedleVariant::MultiNeedle })
            if (length >= 150 || v == NeedleVariant::Single)
                QTest::addRow("%d tokens, %s", length, needleVariantName(v).data()) << length << static_cast<int>(v);
}

void TestNeedle::depthWithinFivePoints()
{
    // Every depth from 0 to 100 % in steps of 5, over seeds: the asked needle lands within 5
    // points of the request (measured on the text, not taken from Haystack::depthPercent), on
    // a sentence boundary unless none lies within 4 points of the request.
    QFETCH(int, length);
    QFETCH(int, variant);
    const auto tokenizer = recallTokenizer();
    static const FillerText filler = FillerText::sampleCorpus();
    static const SentenceEdges edges = sentenceEdges(filler);
    for (std::uint64_t seed = 0; seed < 6; ++seed)
        for (int depth = 0; depth <= 100; depth += 5) {
            const Haystack h = buildHaystack(*tokenizer, filler,
                { .tokens = length,
                    .depthPercent = depth,
                    .variant = static_cast<NeedleVariant>(variant),
                    .seed = seed });
            const double landed = landedDepth(*tokenizer, h);
            QVERIFY2(std::abs(landed - depth) <= 5.0,
                qPrintable(QStringLiteral("seed %1: depth %2 % landed at %3 %").arg(seed).arg(depth).arg(landed)));
            QVERIFY(std::abs(h.depthPercent - landed) < 1e-9);
            const QString split = misplacedInsideSentence(*tokenizer, edges, h, depth, 4.0);
            QVERIFY2(
                split.isEmpty(), qPrintable(QStringLiteral("seed %1, depth %2: %3").arg(seed).arg(depth).arg(split)));
        }
}

void TestNeedle::depthInLongSentences()
{
    // Filler whose sentences run to ~150 words: sentence boundaries are too far apart for most
    // depths, so the needle goes inside a sentence, at a word boundary, still within 5 points.
    QStringList texts;
    NeedleRng words(3);
    for (int s = 0; s < 40; ++s) {
        QString sentence = QStringLiteral("Sentence %1 says").arg(s);
        for (int w = 0; w < 150; ++w)
            sentence += QLatin1Char(' ') + QString::fromStdString(randomNeedleKey(words));
        texts << sentence + QStringLiteral(". ");
    }
    const FillerText filler(QStringList { texts.join(QString()) });
    const auto tokenizer = recallTokenizer();
    for (std::uint64_t seed = 0; seed < 4; ++seed)
        for (int depth = 0; depth <= 100; depth += 10) {
            const Haystack h
                = buildHaystack(*tokenizer, filler, { .tokens = 700, .depthPercent = depth, .seed = seed });
            QCOMPARE(h.tokens, std::int64_t(700));
            const double landed = landedDepth(*tokenizer, h);
            QVERIFY2(std::abs(landed - depth) <= 5.0,
                qPrintable(QStringLiteral("seed %1: depth %2 % landed at %3 %").arg(seed).arg(depth).arg(landed)));
            const PlacedNeedle &asked = h.askedNeedle();
            if (asked.byteOffset > 0)
                QCOMPARE(h.text[asked.byteOffset - 1], ' '); // between words, never inside one
            const std::size_t end = asked.byteOffset + asked.sentence.size();
            QVERIFY(end == h.text.size() || h.text[end] == ' ');
        }
}

void TestNeedle::variants()
{
    const auto tokenizer = storiesTokenizer();
    if (!tokenizer)
        QSKIP("../shared/conformance is absent");
    const FillerText filler = FillerText::sampleCorpus();
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
        const Haystack multiKey = buildHaystack(*tokenizer, filler,
            { .tokens = 600, .depthPercent = 30, .variant = NeedleVariant::MultiKey, .seed = seed });
        const std::string &key = multiKey.askedNeedle().key;
        std::set<std::string> keys;
        std::set<int> values;
        for (const PlacedNeedle &n : multiKey.needles) {
            keys.insert(n.key);
            values.insert(n.value);
            QCOMPARE(n.key.substr(0, 4), key.substr(0, 4)); // distractors share the prefix
            QVERIFY(n.key.size() >= 5 && n.key.size() <= 8);
        }
        QCOMPARE(keys.size(), std::size_t(4));
        QCOMPARE(values.size(), std::size_t(4));

        const Haystack multi = buildHaystack(*tokenizer, filler,
            { .tokens = 600, .depthPercent = 70, .variant = NeedleVariant::MultiNeedle, .seed = seed });
        std::set<std::string> mk;
        for (const PlacedNeedle &n : multi.needles)
            mk.insert(n.key);
        QCOMPARE(mk.size(), std::size_t(4));
    }
    QCOMPARE(parseNeedleVariant("multi-key"), NeedleVariant::MultiKey);
    QVERIFY_THROWS_EXCEPTION(nw::Error, parseNeedleVariant("multikey"));
}

void TestNeedle::sameSeedSameHaystack()
{
    const auto tokenizer = storiesTokenizer();
    if (!tokenizer)
        QSKIP("../shared/conformance is absent");
    const FillerText filler = FillerText::sampleCorpus();
    const std::uint64_t s1 = trialSeed(1, 1024, 50, NeedleVariant::Single, 0);
    QCOMPARE(trialSeed(1, 1024, 50, NeedleVariant::Single, 0), s1);
    QVERIFY(trialSeed(1, 1024, 50, NeedleVariant::Single, 1) != s1);
    QVERIFY(trialSeed(2, 1024, 50, NeedleVariant::Single, 0) != s1);
    const Haystack a = buildHaystack(*tokenizer, filler, { .tokens = 300, .depthPercent = 50, .seed = s1 });
    const Haystack b = buildHaystack(*tokenizer, filler, { .tokens = 300, .depthPercent = 50, .seed = s1 });
    QCOMPARE(a.text, b.text);
    const Haystack c = buildHaystack(*tokenizer, filler, { .tokens = 300, .depthPercent = 50, .seed = s1 + 1 });
    QVERIFY(a.text != c.text);
}

void TestNeedle::resultsFiles()
{
    QTemporaryDir dir;
    NeedleResults r;
    r.model = "m.gguf";
    r.seed = 9;
    r.needleSet = "nolima";
    r.trials.push_back(trial("full", 1024, 0, 0, true));
    r.trials.push_back(trial("full", 1024, 50, 0, false, "say \"12,3\"\nthen"));
    r.trials.push_back(trial("latent:16+q8", 2048, 50, 1, false, ""));
    r.perplexity.push_back(
        { .mode = "full", .ppl = 2.5, .error = 0.1, .ctx = 128, .scoredTokens = 500, .kvBytesPerToken = 640 });
    const QString json = dir.filePath(QStringLiteral("results.json"));
    const QString csv = dir.filePath(QStringLiteral("results.csv"));
    writeNeedleResultsJson(r, json);
    writeNeedleResultsCsv(r, csv);

    QFile jf(json);
    QVERIFY(jf.open(QIODevice::ReadOnly));
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(jf.readAll(), &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    const QJsonArray rows = doc.object().value(QStringLiteral("trials")).toArray();
    QCOMPARE(rows.size(), 3);
    QCOMPARE(doc.object().value(QStringLiteral("needles")).toString(), QStringLiteral("nolima"));
    for (const char *field : { "mode", "length", "depth", "variant", "trial", "key", "value", "question", "expected",
             "answer", "exact", "lenient", "kv_bytes_per_token", "kv_bytes_total", "seconds" })
        QVERIFY2(rows[1].toObject().contains(QLatin1String(field)), field);
    QCOMPARE(rows[1].toObject().value(QStringLiteral("answer")).toString(), QStringLiteral("say \"12,3\"\nthen"));
    QCOMPARE(rows[2].toObject().value(QStringLiteral("mode")).toString(), QStringLiteral("latent:16+q8"));

    QFile cf(csv);
    QVERIFY(cf.open(QIODevice::ReadOnly));
    const auto records = parseCsv(cf.readAll().toStdString());
    QCOMPARE(records.size(), std::size_t(4));
    for (const auto &record : records)
        QCOMPARE(record.size(), needleCsvColumns().size());
    QCOMPARE(records[0][0], std::string("mode"));
    QCOMPARE(records[2][7], std::string("say \"12,3\"\nthen"));
    QCOMPARE(records[1][8], std::string("1"));
    QCOMPARE(records[3][1], std::string("2048"));

    const auto back = readNeedleResultsJson(json);
    QVERIFY(back.has_value());
    QCOMPARE(back->trials.size(), std::size_t(3));
    QCOMPARE(back->needleSet, std::string("nolima"));
    QCOMPARE(needleGrid(*back, "full", { 1024 }, { 0, 50 }).needleSet, std::string("nolima"));
    QVERIFY(back->hasTrial({ "latent:16+q8", 2048, 50, "single", 1 }));
    QVERIFY(!back->hasTrial({ "latent:16+q8", 2048, 50, "single", 0 }));
    QCOMPARE(back->findPerplexity("full")->ppl, 2.5);
    QVERIFY(!readNeedleResultsJson(dir.filePath(QStringLiteral("absent.json"))).has_value());
    QFile broken(dir.filePath(QStringLiteral("broken.json")));
    QVERIFY(broken.open(QIODevice::WriteOnly));
    broken.write("{\"format\": \"needlework-needle-results\", \"trials\": [");
    broken.close();
    QVERIFY_THROWS_EXCEPTION(nw::Error, readNeedleResultsJson(broken.fileName()));

    // Through app/output_file.h like every export: into a FIFO in place (it stays a FIFO), and a
    // full device is an error, not a silent loss.
    nw::test::FifoReader fifo(dir.filePath(QStringLiteral("results.fifo")));
    QVERIFY(fifo.made());
    writeNeedleResultsCsv(r, dir.filePath(QStringLiteral("results.fifo")));
    cf.seek(0);
    QCOMPARE(fifo.received(), cf.readAll());
    QVERIFY(fifo.isFifo());
    QVERIFY_THROWS_EXCEPTION(nw::Error, writeNeedleResultsJson(r, QStringLiteral("/dev/full")));
    QVERIFY_THROWS_EXCEPTION(nw::Error, writeNeedleResultsJson(r, dir.path())); // a folder
}

void TestNeedle::heatmaps()
{
    NeedleResults r;
    r.trials.push_back(trial("full", 512, 0, 0, true));
    r.trials.push_back(trial("full", 512, 0, 1, true));
    r.trials.push_back(trial("full", 1024, 100, 0, false));
    r.trials.push_back(trial("full", 2048, 50, 0, true));
    r.trials.push_back(trial("full", 2048, 50, 1, false));
    const NeedleGrid grid = needleGrid(r, "full", { 2048, 512, 1024 }, { 100, 0, 50, 25 });
    QCOMPARE(grid.lengths, (std::vector<std::int64_t> { 512, 1024, 2048 }));
    QCOMPARE(grid.depths, (std::vector<int> { 0, 25, 50, 100 }));
    QCOMPARE(grid.cell(0, 0).trials, 2);
    QCOMPARE(grid.cell(2, 2).exactRate(), 0.5);
    QCOMPARE(grid.kvBytesTotalLength, std::int64_t(2048));
    // The header labels the bytes as the cells do: for the tokens the engine counted them for
    // (the 2048-token haystack's trial had 2068 in its cache), not for the haystack's length.
    QCOMPARE(grid.kvBytesTotalTokens, std::int64_t(2068));
    QVERIFY2(needleHeatmapTitle(grid).contains(QStringLiteral("1.26 MiB for 2068 tokens in cache")),
        qPrintable(needleHeatmapTitle(grid)));
    QCOMPARE(needleCacheBytesText(640 * 2068, 2068), QStringLiteral("1.26 MiB for 2068 tokens in cache"));
    QCOMPARE(
        needleHeatmapSubtitle(grid), QStringLiteral("exact 60.0 % of 5 trials (lenient 60.0 %) · needles passkey"));

    QTemporaryDir dir;
    writeNeedleHeatmaps(grid, dir.path());
    const QString base = dir.filePath(QStringLiteral("heatmap-full"));
    QImage png(base + QStringLiteral(".png"));
    QVERIFY(!png.isNull());
    // The documented layout: 72 + 3 × 64 + 96 = 360, widened to the 520 minimum, by 48 + 4 × 24 + 44.
    QCOMPARE(png.size(), QSize(520, 188));
    // Cell centres: (0 %, 512) all exact → green; (100 %, 1024) none → red; (25 %, 512) empty → grey.
    const QColor good = png.pixelColor(72 + 8, 48 + 4);
    const QColor bad = png.pixelColor(72 + 64 + 8, 48 + 3 * 24 + 4);
    const QColor empty = png.pixelColor(72 + 8, 48 + 24 + 4);
    QVERIFY2(good.green() > 2 * good.red(), qPrintable(good.name()));
    QVERIFY2(bad.red() > 2 * bad.green(), qPrintable(bad.name()));
    QCOMPARE(empty.red(), empty.green());
    // Text was drawn: the title line is not all white. A long title (a long mode, a perplexity) over
    // a grid of few lengths ends inside its margin; it once ran off the image's edge.
    auto rightmostTitleInk = [](const QImage &image) {
        int rightmost = -1;
        for (int x = 0; x < image.width(); ++x)
            for (int y = 4; y < 24; ++y)
                if (image.pixelColor(x, y).lightness() < 128)
                    rightmost = x;
        return rightmost;
    };
    QVERIFY(rightmostTitleInk(png) > 0);
    NeedleGrid longTitle = grid;
    longTitle.mode = "latent:128+q4";
    longTitle.ppl = 1234.56;
    const QImage titled = renderNeedleHeatmap(longTitle);
    QVERIFY2(rightmostTitleInk(titled) < titled.width() - 8, qPrintable(needleHeatmapTitle(longTitle)));

    QFile svg(base + QStringLiteral(".svg"));
    QVERIFY(svg.open(QIODevice::ReadOnly));
    QXmlStreamReader xml(&svg);
    int rects = 0;
    QString width, height;
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement() && xml.name() == QLatin1String("rect"))
            ++rects;
        if (xml.isStartElement() && xml.name() == QLatin1String("svg")) {
            width = xml.attributes().value(QLatin1String("width")).toString();
            height = xml.attributes().value(QLatin1String("height")).toString();
        }
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(rects, 12);
    QCOMPARE(width, QStringLiteral("520"));
    QCOMPARE(height, QStringLiteral("188"));
    QCOMPARE(needleHeatmapBaseName("latent:64+q8"), QStringLiteral("heatmap-latent-64+q8"));
}

QTEST_MAIN(TestNeedle)
#include "tst_needle.moc"
