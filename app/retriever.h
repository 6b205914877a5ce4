// Retrieval for questions: BM25 over page-sized passages (SQLite FTS5 through the library's
// SearchService), with a query built from the question, then the best sentences of each page
// located and cited (document, page, span, word boxes, section) — the input of both the
// extractive answer and the model's prompt.
#pragma once

#include "app/citations.h"
#include "store/library_store.h"

#include <QString>
#include <QStringList>

#include <cstdint>
#include <vector>

namespace nw::app {

struct RetrievalOptions {
    int limit = 5;                         // passages returned
    int candidates = 40;                   // pages BM25 ranks before the sentence-level rerank
    QString collection;                    // only documents in it, when not empty
    std::vector<std::int64_t> documentIds; // only these documents, when not empty
    int contextChars = 400;                // neighbouring context taken from the pages around
    int quoteSentences = 2;                // at most this many adjacent sentences in a quote
};

// One page-sized passage with where it is cited from.
struct Passage {
    Citation citation;   // the best sentences of the page
    QString text;        // the whole page
    QString before;      // the end of the previous page ("" on the first page)
    QString after;       // the start of the next page
    double bm25 = 0;     // FTS5 BM25 of the page (higher is better)
    double coverage = 0; // share of the question's terms in the cited sentences, 0..1
    double score = 0;    // what the passages are ranked by
};

// The terms of a question: words lowercased, stop words dropped, each with the stem used for
// prefix matching ("termination" -> "terminat").
struct QueryTerm {
    QString word;
    QString stem;     // prefix to match; == word for short words
    bool prefix = false;
};

class Retriever {
public:
    explicit Retriever(store::LibraryStore &store) : m_store(store) {}

    // Best passages first. Empty when nothing matches (or the question has only stop words).
    std::vector<Passage> retrieve(const QString &question, const RetrievalOptions &options = {});

    static std::vector<QueryTerm> queryTerms(const QString &question);
    // The FTS5 query: every term (stem* where useful) and every pair of adjacent terms as a
    // phrase, joined with OR, so BM25 rewards pages that hold more of them and hold them together;
    // cut to the terms and bytes a search may have (store::SearchBudget), terms before pairs.
    static QString buildQuery(const QString &question);
    // Whether `word` (lowercase) matches `term`.
    static bool matches(const QueryTerm &term, const QString &word);

private:
    store::LibraryStore &m_store;
};

} // namespace nw::app
