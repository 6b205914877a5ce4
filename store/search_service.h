// Full-text search over the library's pages: FTS5 query syntax, BM25 ranking, snippets with
// the matched terms marked, each hit naming its document and page (for citations).
#pragma once

#include "common/error.h"
#include "store/library_store.h"

#include <QString>

#include <chrono>
#include <vector>

namespace nw::store {

// The query itself is malformed, too large or too costly (the user can fix it); other failures
// stay nw::Error.
class QueryError : public Error {
public:
    using Error::Error;
};

// What one search may cost. FTS5's own cost grows with the square of the number of terms (2,000
// ANDed words took 104 s on 94 pages, issue 25), so a query has at most kMaxTerms terms and
// kMaxBytes bytes, refused before it runs; what passes is stopped after `time`. The same budget
// holds wherever a query runs: `needlework search`, the window's search box, ask's retriever.
struct SearchBudget {
    static constexpr int kMaxTerms = 64; // words of the query, inside phrases too; AND, OR, NOT, NEAR are not terms
    static constexpr int kMaxBytes = 4096; // of the query's UTF-8
    static constexpr int kMaxValueBytes = 32
        << 20; // any string a search statement binds, reads or makes (a page's text)
    std::chrono::milliseconds time { 2000 };
};

struct SearchOptions {
    int limit = 20;
    QString collection; // only documents in it, when not empty
    QString markOpen = QStringLiteral("["); // around each matched term in the snippet
    QString markClose = QStringLiteral("]");
    int snippetTokens = 24; // words of context in a snippet (FTS5 allows 1..64)
    // Ranking runs on up to min(cores, 4) threads, one per this many page ids (measured on 100k
    // pages, store/README.md); smaller libraries are ranked on the calling thread alone.
    std::int64_t pagesPerThread = 20'000;
    SearchBudget budget;
};

struct SearchHit {
    std::int64_t documentId = 0;
    QString title; // falls back to the file name when the document has none
    QString path;
    int pageNumber = 0; // 1-based
    QString pageLabel; // as printed, "" when the PDF has none
    QString snippet; // with markOpen/markClose around matches and "…" where text is cut
    double score = 0; // BM25 relevance, higher is better
};

class SearchService {
public:
    explicit SearchService(LibraryStore &store)
        : m_store(store)
    {
    }

    // `query` uses FTS5 syntax: words, "phrases", AND/OR/NOT, NEAR(a b, 10), prefix*, ( ).
    // Email filters may be added anywhere: from:, to: (To or Cc), cc:, subject: (a part of the
    // header, any case; several words in double quotes), after:YYYY-MM-DD and before:YYYY-MM-DD
    // (the Date, UTC). They select messages and their attachments; a query of filters alone lists
    // the messages (their first page), newest first. Throws QueryError with a readable reason when
    // the query is malformed, has more terms or bytes than SearchBudget allows, or runs out of
    // its time.
    std::vector<SearchHit> search(const QString &query, const SearchOptions &options = {});

    // The terms of an FTS5 query as the budget counts them: its words (runs of letters, digits
    // and '_', inside phrases too), less the operators AND, OR, NOT and NEAR outside phrases.
    static int countTerms(const QString &query);

    // Free text (a question, a pasted sentence) as a query that cannot be malformed: each word
    // becomes a quoted term, joined with OR so BM25 ranks pages by how many they contain.
    static QString literalQuery(const QString &text);

private:
    LibraryStore &m_store;
};

} // namespace nw::store
