// Needle sets: the bundled low-overlap set keeps NoLiMa's rule (no content word of a question in
// its needle, checked here with a stop-word list and a crude stemmer written for the test), JSON
// files parse or fail with the file and entry named, and haystacks plant and ask the set's needles.
#include "app/needle_haystack.h"
#include "app/needle_set.h"

#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/tokenizer.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <set>

using namespace nw::app;

namespace {

// Function words (articles, pronouns, prepositions, auxiliaries, question words): what may be
// shared between a question and its needle.
const std::set<std::string> &stopWords()
{
    static const std::set<std::string> words {
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "into",
        "over",
        "under",
        "up",
        "down",
        "out",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "must",
        "shall",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "i",
        "you",
        "we",
        "me",
        "him",
        "us",
        "my",
        "your",
        "our",
        "not",
        "no",
        "so",
        "any",
        "some",
        "there",
        "here",
        "than",
        "then",
        "once",
        "since",
        "very",
        "also",
        "just",
        "one",
    };
    return words;
}

// Lower-case ASCII words with a plural or verb ending cut off, so "lives" meets "live".
std::set<std::string> contentStems(const std::string &text)
{
    std::set<std::string> out;
    std::string word;
    auto flush = [&] {
        if (!word.empty() && !stopWords().count(word)) {
            for (const char *suffix : { "ing", "ed", "es", "s" }) {
                const std::string s(suffix);
                if (word.size() > s.size() + 2 && word.compare(word.size() - s.size(), s.size(), s) == 0) {
                    word.resize(word.size() - s.size());
                    break;
                }
            }
            out.insert(word);
        }
        word.clear();
    };
    for (char c : text) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            word += static_cast<char>(c | 0x20);
        else
            flush();
    }
    flush();
    return out;
}

std::unique_ptr<nw::Tokenizer> recallTokenizer()
{
    const auto gguf = nw::GgufFile::open(
        (qEnvironmentVariable("NW_SOURCE_DIR") + QStringLiteral("/tests/data/recall-model.gguf")).toStdString());
    return nw::Tokenizer::fromGguf(*gguf);
}

QString writeFile(const QTemporaryDir &dir, const QString &name, const QByteArray &bytes)
{
    QFile f(dir.filePath(name));
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size())
        qFatal("cannot write %s", qPrintable(f.fileName()));
    return f.fileName();
}

} // namespace

class TestNeedleSet : public QObject {
    Q_OBJECT
private slots:
    void stemmerSeesSharedWords();
    void nolimaIsLowOverlap();
    void files();
    void haystacks();
};

void TestNeedleSet::stemmerSeesSharedWords()
{
    // The check below can fail: a literal question shares stems with its needle.
    QCOMPARE(contentStems("Yuki lives next to the Opera House."),
        (std::set<std::string> { "yuki", "liv", "next", "opera", "house" }));
    QCOMPARE(
        contentStems("Which character lived by the opera?"), (std::set<std::string> { "character", "liv", "opera" }));
    QCOMPARE(contentStems("Which character has been to Dresden?"), (std::set<std::string> { "character", "dresden" }));
}

void TestNeedleSet::nolimaIsLowOverlap()
{
    QVERIFY(bundledNeedleSetNames().contains(QStringLiteral("nolima")));
    QVERIFY(bundledNeedleSetNames().contains(QStringLiteral("passkey")));
    const NeedleSet set = loadNeedleSet(QStringLiteral("nolima"));
    QCOMPARE(set.name, std::string("nolima"));
    QVERIFY(set.needles.size() >= 10);
    std::set<std::string> answers;
    for (const NeedleText &n : set.needles) {
        const auto needle = contentStems(n.sentence);
        for (const std::string &w : contentStems(n.question))
            QVERIFY2(!needle.count(w),
                qPrintable(QStringLiteral("'%1' shares '%2' with '%3'")
                               .arg(QString::fromStdString(n.question), QString::fromStdString(w),
                                   QString::fromStdString(n.sentence))));
        // The answer is in the needle (it names who), never in the question.
        QVERIFY2(n.sentence.find(n.answer) != std::string::npos, n.sentence.c_str());
        QVERIFY2(n.question.find(n.answer) == std::string::npos, n.question.c_str());
        answers.insert(n.answer);
    }
    QCOMPARE(answers.size(), set.needles.size());
    QVERIFY(loadNeedleSet(QStringLiteral("passkey")).isPassKey());
}

void TestNeedleSet::files()
{
    QTemporaryDir dir;
    const QString good = writeFile(dir, QStringLiteral("mine.json"),
        R"({"needles": [{"needle": "Ada keeps bees.", "question": "Who has hives?", "answer": "Ada"}]})");
    const NeedleSet set = loadNeedleSet(good);
    QCOMPARE(set.name, std::string("mine")); // the file's base name when "name" is absent
    QCOMPARE(set.needles.size(), std::size_t(1));
    QCOMPARE(set.needles[0].question, std::string("Who has hives?"));

    auto message = [&](const QByteArray &json) {
        try {
            loadNeedleSet(writeFile(dir, QStringLiteral("bad.json"), json));
        } catch (const nw::Error &e) {
            return QString::fromUtf8(e.what());
        }
        return QString();
    };
    QVERIFY(message(
        R"({"needles": [{"needle": "A.", "question": "Q?", "answer": "A"}, {"needle": "B.", "question": "Q?"}]})")
                .contains(QStringLiteral("needle 2 has no \"answer\"")));
    QVERIFY(message(R"({"needles": []})").contains(QStringLiteral("non-empty array")));
    QVERIFY(message("[1, 2").contains(QStringLiteral("bad.json")));
    QVERIFY(message(R"({"name": "passkey", "needles": [{"needle": "A.", "question": "Q?", "answer": "A"}]})")
                .contains(QStringLiteral("another name")));
    QVERIFY_THROWS_EXCEPTION(nw::Error, loadNeedleSet(dir.filePath(QStringLiteral("absent.json"))));
    QVERIFY_THROWS_EXCEPTION(nw::Error, loadNeedleSet(QStringLiteral("nolimaa")));
}

void TestNeedleSet::haystacks()
{
    const auto tokenizer = recallTokenizer();
    const FillerText filler = FillerText::sampleCorpus();
    const NeedleSet set = loadNeedleSet(QStringLiteral("nolima"));
    std::set<std::string> asked;
    for (std::uint64_t seed = 0; seed < 12; ++seed) {
        const Haystack single
            = buildHaystack(*tokenizer, filler, { .tokens = 300, .depthPercent = 40, .seed = seed, .needleSet = &set });
        QCOMPARE(single.needles.size(), std::size_t(1));
        const PlacedNeedle &n = single.askedNeedle();
        const auto it = std::find_if(
            set.needles.begin(), set.needles.end(), [&](const NeedleText &t) { return t.sentence == n.sentence; });
        QVERIFY(it != set.needles.end());
        QCOMPARE(n.question, it->question);
        QCOMPARE(n.answer, it->answer);
        QVERIFY(n.answerPrefix.empty());
        QCOMPARE(single.text.substr(n.byteOffset, n.sentence.size()), n.sentence);
        asked.insert(n.answer);

        const Haystack multi = buildHaystack(*tokenizer, filler,
            { .tokens = 400,
                .depthPercent = 60,
                .variant = NeedleVariant::MultiNeedle,
                .seed = seed,
                .needleSet = &set });
        std::set<std::string> answers;
        for (const PlacedNeedle &p : multi.needles)
            answers.insert(p.answer);
        QCOMPARE(answers.size(), std::size_t(4));
    }
    QVERIFY(asked.size() >= 6); // the seed picks the needle
    QVERIFY_THROWS_EXCEPTION(nw::Error,
        buildHaystack(*tokenizer, filler,
            { .tokens = 300, .depthPercent = 40, .variant = NeedleVariant::MultiKey, .seed = 1, .needleSet = &set }));
    // Pass keys: the question and answer follow from the key and value.
    const Haystack keys = buildHaystack(*tokenizer, filler, { .tokens = 300, .depthPercent = 40, .seed = 1 });
    const PlacedNeedle &k = keys.askedNeedle();
    QCOMPARE(k.question, needleQuestion(k.key));
    QCOMPARE(k.answer, std::to_string(k.value));
    QCOMPARE(k.answerPrefix, needleAnswerPrefix(k.key));
}

QTEST_GUILESS_MAIN(TestNeedleSet)
#include "tst_needle_set.moc"
