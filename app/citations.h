// Citations: where in a document a claim comes from (document, page, character span, the
// words' boxes on the page, the section heading), found by locating the sentences that carry
// the question's terms; and the check that a model's quotes really are in its sources.
#pragma once

#include "store/library_store.h"
#include "store/word_boxes.h"

#include <QRectF>
#include <QString>
#include <QStringList>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace nw::app {

struct Citation {
    std::int64_t documentId = 0;
    QString sha256; // the document's content hash: survives moves and re-ingest
    QString title;
    QString path;
    int page = 0; // 1-based physical page
    QString pageLabel; // as printed, "" when the PDF has none
    QString section; // heading of the section the quote is in ("6. Conveying Non-Source Forms"), or ""
    int start = 0; // first UTF-16 code unit of the quote in the page text
    int length = 0; // UTF-16 code units
    QString quote; // the page text of [start, start + length)
    std::vector<QRectF> boxes; // points, origin at the page's top-left: one per word of the quote
    QString part; // where in its file the document is ("attachment report.pdf of “Q3”"), "" for a whole file
    int paragraph = 0; // the paragraph the quote starts in (office, HTML, email), 0 when the document has none
    double ocrConfidence
        = -1; // the page's text was recognised (OCR), with this mean confidence 0..100; -1: its own text
};

// Below this mean confidence a recognised page is flagged where it is cited: about one word in
// four is then likely misread (clean 300-dpi scans score 90-96).
inline constexpr double kLowOcrConfidence = 75;
inline bool isLowConfidence(const Citation &c)
{
    return c.ocrConfidence >= 0 && c.ocrConfidence < kLowOcrConfidence;
}

// The part, paragraph and OCR confidence of a citation whose document, page and start are set.
void placeCitation(Citation &citation, const store::DocumentInfo &document, const store::PageRecord &page);

nlohmann::json citationToJson(const Citation &citation);
Citation citationFromJson(const nlohmann::json &json); // throws nw::Error on a malformed object
// "GPL-3, p. 7, §6. Conveying Non-Source Forms"; "libtasn1, p. 7 (file page 10)" where the printed
// page label and the page's place in the file differ (app/page_numbers.h); "report.pdf (attachment
// report.pdf of “Q3”), p. 2"; "Minutes, p. 1, ¶ 4"; "Scan, p. 3 [OCR, 62% confidence]" for a page
// recognised with low confidence.
QString citationLabel(const Citation &citation);

struct TextSpan {
    int start = 0;
    int length = 0;
    int end() const { return start + length; }
};

// Sentences of page text: ends at . ; ? ! followed by white space, and at blank lines; list
// markers and section numbers ("6.", "2.1.", "a.") do not end one. Spans exclude the white
// space around them.
std::vector<TextSpan> sentenceSpans(const QString &text);

// The boxes of the words that overlap [span.start, span.end()).
std::vector<QRectF> boxesForSpan(const std::vector<store::WordBox> &words, TextSpan span);

// The nearest section heading at or above `offset` in `text`: a line that starts with a
// number such as "6." or "3.1." followed by a capitalised title, cut at its first full stop.
// "" when there is none.
QString sectionHeadingBefore(const QString &text, int offset);

// Lowercase, typographic quotes and dashes made plain, every run of white space one space, and
// line-end hyphenation joined ("termi-\nnation"): what two copies of one passage share.
QString normalizeForMatching(const QString &text);

// Where `quote` is in `text`, compared as normalizeForMatching does; "..." or "…" inside the
// quote joins pieces that must follow each other. The span runs from the first piece's first
// character to the last piece's last, in `text`'s UTF-16 offsets; nullopt when it is not there.
std::optional<TextSpan> locateQuote(const QString &text, const QString &quote);

// The sentence of `text` sharing the most distinct words of four letters or more with
// `answer` (a cited page without a quote: the place the answer most likely draws on).
// nullopt when no sentence shares a word.
std::optional<TextSpan> sentenceMatching(const QString &text, const QString &answer);

// Passages an answer quotes: text inside "..." or “...” with at least `minWords` words.
QStringList quotedPassages(const QString &answer, int minWords = 4);

struct QuoteCheck {
    QString quote;
    bool supported = false;
    int sourceIndex = -1; // index into the sources that contain it, -1 when unsupported
    TextSpan span; // where in that source's text (see locateQuote)
};

// Each quoted passage of `answer`, looked up (normalised) in `sources`.
std::vector<QuoteCheck> checkQuotes(const QString &answer, const QStringList &sources, int minWords = 4);

} // namespace nw::app
