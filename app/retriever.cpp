// Question -> FTS5 query -> candidate pages -> best sentences -> ranked, cited passages.
#include "app/retriever.h"

#include "app/document_titles.h"
#include "common/error.h"
#include "common/log.h"
#include "ingest/page_words.h"
#include "store/search_service.h"

#include <QRegularExpression>
#include <QSet>

#include <algorithm>
#include <cmath>

namespace nw::app {
namespace {

// English function words and question words that carry no topic.
const QSet<QString> &stopWords()
{
    static const QSet<QString> words = [] {
        QSet<QString> set;
        for (const char *w : { "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any",
                 "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
                 "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
                 "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if",
                 "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not",
                 "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same",
                 "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there",
                 "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we",
                 "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
                 "you", "your", "yours", "may", "might", "must", "shall", "also", "tell", "say", "says", "said",
                 "according", "document", "documents", "happens", "happen", "mean", "means", "define", "defined",
                 "give", "explain", "whether", "there", "get", "let", "lets", "much", "many", "one", "ones" })
            set.insert(QString::fromLatin1(w));
        return set;
    }();
    return words;
}

// A light suffix stripper (not a full Porter stemmer): enough for "terminates/termination/
// terminated" or "conveying/conveyed" to share a prefix. Stems shorter than 4 are not used.
QString stemOf(const QString &word)
{
    static const char *const suffixes[] = { "ations", "ation", "itions", "ition", "ments", "ment", "ings", "ing",
        "ions", "ion", "ies", "ied", "ers", "er", "ed", "es", "s", "e", "y" };
    for (const char *suffix : suffixes) {
        const QLatin1String s(suffix);
        if (word.endsWith(s) && word.size() - s.size() >= 4)
            return word.left(word.size() - s.size());
    }
    return word;
}

QStringList wordsOf(const QString &text)
{
    static const QRegularExpression word(QStringLiteral("[\\p{L}\\p{N}]+"));
    QStringList out;
    auto it = word.globalMatch(text);
    while (it.hasNext())
        out << it.next().captured(0).toLower();
    return out;
}

struct WordAt {
    QString word;
    int start;
};

std::vector<WordAt> wordsWithOffsets(const QString &text, TextSpan span)
{
    static const QRegularExpression word(QStringLiteral("[\\p{L}\\p{N}]+"));
    std::vector<WordAt> out;
    auto it = word.globalMatch(text.mid(span.start, span.length));
    while (it.hasNext()) {
        const auto m = it.next();
        out.push_back({ m.captured(0).toLower(), span.start + static_cast<int>(m.capturedStart()) });
    }
    return out;
}

// How well a run of sentences answers: distinct terms present, plus adjacent term pairs in
// order (phrases of the question), against everything the question asks.
double coverageOf(const std::vector<QueryTerm> &terms, const QString &subject, const QString &text, TextSpan span)
{
    if (terms.empty())
        return 0;
    const auto words = wordsWithOffsets(text, span);
    std::vector<bool> seen(terms.size(), false);
    std::vector<bool> pairSeen(terms.size(), false); // pair (t, t + 1) found in order
    for (std::size_t w = 0; w < words.size(); ++w) {
        for (std::size_t t = 0; t < terms.size(); ++t) {
            if (!Retriever::matches(terms[t], words[w].word))
                continue;
            seen[t] = true;
            if (t + 1 < terms.size() && w + 1 < words.size() && Retriever::matches(terms[t + 1], words[w + 1].word))
                pairSeen[t] = true;
        }
    }
    const double distinct = static_cast<double>(std::count(seen.begin(), seen.end(), true));
    const double pairs = static_cast<double>(std::count(pairSeen.begin(), pairSeen.end(), true));
    const double possiblePairs = terms.size() > 1 ? static_cast<double>(terms.size() - 1) : 1.0;
    // 0..1 from the terms; a definition of what the question asks about adds 1, so it wins.
    double coverage = (distinct / static_cast<double>(terms.size())) * 0.8 + (pairs / possiblePairs) * 0.2;
    // Legal texts define their terms in quotes ("Standard Version" refers to ..., "Contributor"
    // means ...): for a "what is X?" question, the window that defines X is the answer.
    if (subject.isEmpty())
        return coverage;
    static const QRegularExpression definition(QStringLiteral(
        "[\"\u201C]([^\"\u201C\u201D]{2,60})[\"\u201D]\\s+(means|refers|shall mean|is defined|is a|is any)"));
    auto it = definition.globalMatch(text.mid(span.start, span.length));
    while (it.hasNext()) {
        if (normalizeForMatching(it.next().captured(1)) == subject) {
            coverage += 1.0;
            break;
        }
    }
    return coverage;
}

// What a "what is X?" question asks to have defined: X, normalised ("combined work" for
// "What is a Combined Work under the LGPL?"); "" for other questions.
QString definitionSubject(const QString &question)
{
    static const QRegularExpression whatIs(
        QStringLiteral("^\\s*what\\s+(?:is|are|does)\\s+(?:an?\\s+|the\\s+)?[\"\u201C]?(.+?)[\"\u201D]?"
                       "(?:\\s+(?:under|of|in|for|according|as|by|mean)\\b.*)?\\s*\\??\\s*$"),
        QRegularExpression::CaseInsensitiveOption);
    const auto m = whatIs.match(question);
    return m.hasMatch() ? normalizeForMatching(m.captured(1)) : QString();
}

} // namespace

std::vector<QueryTerm> Retriever::queryTerms(const QString &question)
{
    std::vector<QueryTerm> terms;
    QSet<QString> seen;
    for (const QString &w : wordsOf(question)) {
        if (w.size() < 2 || stopWords().contains(w) || seen.contains(w))
            continue;
        seen.insert(w);
        QueryTerm term { w, stemOf(w), false };
        term.prefix = w.size() >= 4 && !w.front().isDigit();
        terms.push_back(term);
    }
    return terms;
}

bool Retriever::matches(const QueryTerm &term, const QString &word)
{
    return term.prefix ? word.startsWith(term.stem) : word == term.word;
}

QString Retriever::buildQuery(const QString &question)
{
    // Within what one search may take (store::SearchBudget): every term first, as far as the
    // budget goes (a long pasted question keeps its first words), then adjacent pairs while it lasts.
    const auto terms = queryTerms(question);
    QStringList parts;
    int nTerms = 0;
    qsizetype nBytes = 0;
    const auto add = [&](const QString &part, int partTerms) {
        const qsizetype partBytes = part.toUtf8().size() + (parts.isEmpty() ? 0 : 4); // " OR "
        if (nTerms + partTerms > store::SearchBudget::kMaxTerms || nBytes + partBytes > store::SearchBudget::kMaxBytes)
            return false;
        parts << part;
        nTerms += partTerms;
        nBytes += partBytes;
        return true;
    };
    for (const QueryTerm &t : terms)
        if (!add(t.prefix ? QStringLiteral("\"%1\"*").arg(t.stem) : QStringLiteral("\"%1\"").arg(t.word), 1))
            break;
    for (std::size_t i = 0; i + 1 < terms.size(); ++i)
        if (!add(QStringLiteral("\"%1 %2\"").arg(terms[i].word, terms[i + 1].word), 2))
            break;
    return parts.join(QStringLiteral(" OR "));
}

std::vector<Passage> Retriever::retrieve(const QString &question, const RetrievalOptions &options)
{
    const auto terms = queryTerms(question);
    const QString subject = definitionSubject(question);
    const QString query = buildQuery(question);
    if (query.isEmpty())
        return {};
    store::SearchService search(m_store);
    store::SearchOptions searchOptions;
    searchOptions.collection = options.collection;
    // Filtering by document happens after ranking, so ask for more pages when filtering.
    searchOptions.limit = options.documentIds.empty() ? options.candidates : options.candidates * 8;
    const auto hits = search.search(query, searchOptions);
    nw::log::get("app")->debug("retrieve: query {} -> {} candidate pages", query.toStdString(), hits.size());

    std::vector<Passage> passages;
    const QHash<std::int64_t, QString> titles
        = hits.empty() ? QHash<std::int64_t, QString> {} : distinctTitles(m_store.documents());
    for (const store::SearchHit &hit : hits) {
        if (!options.documentIds.empty()
            && std::find(options.documentIds.begin(), options.documentIds.end(), hit.documentId)
                == options.documentIds.end())
            continue;
        if (static_cast<int>(passages.size()) >= options.candidates)
            break;
        const auto document = m_store.findDocument(hit.documentId);
        const auto page = m_store.findPage(hit.documentId, hit.pageNumber);
        if (!document || !page)
            continue;

        // The best window of up to quoteSentences adjacent sentences.
        const auto sentences = sentenceSpans(page->text);
        TextSpan best;
        double bestCoverage = -1;
        for (std::size_t i = 0; i < sentences.size(); ++i) {
            for (int k = 1; k <= options.quoteSentences && i + static_cast<std::size_t>(k) <= sentences.size(); ++k) {
                const TextSpan window { sentences[i].start,
                    sentences[i + static_cast<std::size_t>(k) - 1].end() - sentences[i].start };
                // A longer window must earn its length: a small penalty per extra sentence.
                const double c = coverageOf(terms, subject, page->text, window) - 0.05 * (k - 1);
                if (c > bestCoverage) {
                    bestCoverage = c;
                    best = window;
                }
            }
        }
        if (bestCoverage < 0)
            continue;

        Passage p;
        p.text = page->text;
        p.bm25 = hit.score;
        p.coverage = std::max(0.0, bestCoverage);
        Citation &c = p.citation;
        c.documentId = document->id;
        c.sha256 = document->sha256;
        c.title = titles.value(document->id, hit.title); // two "GNU Lesser General Public License"s stay apart
        c.path = document->path;
        c.page = page->number;
        c.pageLabel = page->label;
        c.start = best.start;
        c.length = best.length;
        c.quote = page->text.mid(best.start, best.length);
        placeCitation(c, *document, *page);
        // The heading may be on an earlier page: look back until one is found.
        c.section = sectionHeadingBefore(page->text, best.start);
        for (int n = page->number - 1; c.section.isEmpty() && n >= 1 && n >= page->number - 3; --n)
            if (const auto previous = m_store.findPage(document->id, n))
                c.section = sectionHeadingBefore(previous->text, static_cast<int>(previous->text.size()));
        if (page->number > 1)
            if (const auto previous = m_store.findPage(document->id, page->number - 1))
                p.before = previous->text.right(options.contextChars);
        if (page->number < document->pageCount)
            if (const auto next = m_store.findPage(document->id, page->number + 1))
                p.after = next->text.left(options.contextChars);
        passages.push_back(std::move(p));
    }
    if (passages.empty())
        return passages;

    // BM25 finds pages about the question; the sentence coverage says whether one place on the
    // page answers it. Scores are scaled to the best BM25 so the two weigh alike.
    const double topBm25 = std::max_element(passages.begin(), passages.end(), [](const Passage &a, const Passage &b) {
        return a.bm25 < b.bm25;
    })->bm25;
    for (Passage &p : passages)
        p.score = (topBm25 > 0 ? p.bm25 / topBm25 : 0) * 0.5 + p.coverage * 0.5;
    std::stable_sort(
        passages.begin(), passages.end(), [](const Passage &a, const Passage &b) { return a.score > b.score; });
    if (static_cast<int>(passages.size()) > options.limit)
        passages.resize(static_cast<std::size_t>(std::max(0, options.limit)));
    // Word boxes only for the passages returned: the library keeps them on demand (extracted
    // from the PDF on first use, then cached), and text documents have none.
    for (Passage &p : passages) {
        Citation &c = p.citation;
        try {
            c.boxes = boxesForSpan(ingest::pageWordBoxes(m_store, c.documentId, c.page), { c.start, c.length });
        } catch (const Error &e) {
            nw::log::get("app")->warn(
                "retrieve: no word boxes for {} page {}: {}", c.path.toStdString(), c.page, e.what());
        }
    }
    return passages;
}

} // namespace nw::app
