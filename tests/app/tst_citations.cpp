// Citation building blocks on hand-written text: sentence spans, word boxes of a span, section
// headings, normalisation, and the quote check that flags quotes found in no source.
#include "app/citations.h"
#include "common/error.h"

#include <QTest>

#include <nlohmann/json.hpp>

using namespace nw::app;

class TestCitations : public QObject {
    Q_OBJECT
private slots:
    void sentences_data();
    void sentences();
    void boxesOfASpan();
    void sectionHeadings_data();
    void sectionHeadings();
    void normalisation();
    void quotes_data();
    void quotes();
    void jsonRoundTrip();
    void partsParagraphsAndOcr();
    void locatingQuotes_data();
    void locatingQuotes();
    void quoteSpansInSources();
    void sentenceTheAnswerDrawsOn();
};

void TestCitations::sentences_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QStringList>("expected");
    QTest::addRow("full stops") << "One two. Three four.  Five" << QStringList { "One two.", "Three four.", "Five" };
    QTest::addRow("section number does not end")
        << "6. Conveying Non-Source Forms.\nYou may convey it."
        << QStringList { "6. Conveying Non-Source Forms.", "You may convey it." };
    QTest::addRow("list marker a.") << "a. the first item; b. the second"
                                    << QStringList { "a. the first item;", "b. the second" };
    QTest::addRow("blank line ends a paragraph") << "Heading\n\nBody text" << QStringList { "Heading", "Body text" };
    QTest::addRow("numbered clause starts anew")
        << "5. Termination\n--------------\n5.1. The rights end"
        << QStringList { "5. Termination", "--------------", "5.1. The rights end" };
    QTest::addRow("quote after stop") << "It is \"final.\" Next one" << QStringList { "It is \"final.\"", "Next one" };
}

void TestCitations::sentences()
{
    QFETCH(QString, text);
    QFETCH(QStringList, expected);
    QStringList got;
    for (const TextSpan &s : sentenceSpans(text))
        got << text.mid(s.start, s.length);
    QCOMPARE(got, expected);
}

void TestCitations::boxesOfASpan()
{
    // "alpha beta gamma": words at 0, 6, 11.
    std::vector<nw::store::WordBox> words
        = { { 0, 5, QRectF(10, 10, 30, 10) }, { 6, 4, QRectF(45, 10, 24, 10) }, { 11, 5, QRectF(74, 10, 30, 10) } };
    const auto boxes = boxesForSpan(words, { 6, 10 }); // "beta gamma"
    QCOMPARE(boxes.size(), std::size_t(2));
    QCOMPARE(boxes[0], QRectF(45, 10, 24, 10));
    QCOMPARE(boxes[1], QRectF(74, 10, 30, 10));
    QCOMPARE(boxesForSpan(words, { 7, 1 }).size(), std::size_t(1)); // inside "beta"
    QVERIFY(boxesForSpan(words, { 5, 1 }).empty()); // the space between
}

void TestCitations::sectionHeadings_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("expected");
    QTest::addRow("GPL style") << "  6. Conveying Non-Source Forms.\n\n  You may convey"
                               << "6. Conveying Non-Source Forms";
    QTest::addRow("Apache inline") << "   3. Grant of Patent License. Subject to the terms"
                                   << "3. Grant of Patent License";
    QTest::addRow("clause is not a heading")
        << "5. Termination\n---\n5.1. The rights granted under this License will terminate"
        << "5. Termination";
    QTest::addRow("sentence-case short line") << "2. Termination for convenience\nThe supplier may"
                                              << "2. Termination for convenience";
    QTest::addRow("the last one above") << "1. Definitions\nx\n2. Scope\ny"
                                        << "2. Scope";
    QTest::addRow("none") << "no headings here"
                          << "";
}

void TestCitations::sectionHeadings()
{
    QFETCH(QString, text);
    QFETCH(QString, expected);
    QCOMPARE(sectionHeadingBefore(text, static_cast<int>(text.size())), expected);
}

void TestCitations::normalisation()
{
    QCOMPARE(normalizeForMatching(QStringLiteral("  The \u201CWork\u201D\n  shall  termi-\n   nate\u2014now ")),
        QStringLiteral("the \"work\" shall terminate-now"));
}

void TestCitations::quotes_data()
{
    QTest::addColumn<QString>("answer");
    QTest::addColumn<int>("count");
    QTest::addColumn<bool>("supported");
    const QString quoted
        = QStringLiteral("The licence says \u201Cany patent licenses granted to You under this License "
                         "for that Work shall terminate\u201D [1].");
    QTest::addRow("exact, typographic quotes") << quoted << 1 << true;
    QTest::addRow("across a line break") << "It says \"shall terminate as of the date such litigation is filed\"." << 1
                                         << true;
    QTest::addRow("with an ellipsis") << "\"If You institute patent litigation ... shall terminate\"" << 1 << true;
    QTest::addRow("invented") << "It says \"all rights revert to the Licensor immediately\"." << 1 << false;
    QTest::addRow("short quotes are not checked") << "the \"Work\" and \"You\"" << 0 << false;
}

void TestCitations::quotes()
{
    QFETCH(QString, answer);
    QFETCH(int, count);
    QFETCH(bool, supported);
    const QStringList sources = { QStringLiteral("Unrelated text."),
        QStringLiteral("If You institute patent litigation against any entity, then any patent licenses\n"
                       "granted to You under this License for that Work shall terminate\n"
                       "as of the date such litigation is filed.") };
    const auto checks = checkQuotes(answer, sources);
    QCOMPARE(static_cast<int>(checks.size()), count);
    if (count > 0) {
        QCOMPARE(checks.front().supported, supported);
        QCOMPARE(checks.front().sourceIndex, supported ? 1 : -1);
    }
}

void TestCitations::jsonRoundTrip()
{
    Citation c;
    c.documentId = 3;
    c.sha256 = QString(64, QLatin1Char('a'));
    c.title = QStringLiteral("GPL-3");
    c.page = 5;
    c.section = QStringLiteral("6. Conveying Non-Source Forms");
    c.start = 10;
    c.length = 20;
    c.quote = QStringLiteral("You may convey \u201Cit\u201D");
    c.boxes = { QRectF(1.5, 2, 3, 4) };
    const Citation back = citationFromJson(nlohmann::json::parse(citationToJson(c).dump()));
    QCOMPARE(back.sha256, c.sha256);
    QCOMPARE(back.page, 5);
    QCOMPARE(back.quote, c.quote);
    QCOMPARE(back.boxes.size(), std::size_t(1));
    QCOMPARE(back.boxes[0], QRectF(1.5, 2, 3, 4));
    QCOMPARE(citationLabel(c), QStringLiteral("GPL-3, p. 5, §6. Conveying Non-Source Forms"));
    QVERIFY_THROWS_EXCEPTION(nw::Error, citationFromJson(nlohmann::json { { "page", 1 } }));
}

// A citation of an attachment names it; one of a paragraphed document names the paragraph
// (counted by the blank lines before the quote); one of a page recognised with low confidence
// says so. Saved citations keep all three.
void TestCitations::partsParagraphsAndOcr()
{
    nw::store::DocumentInfo document;
    document.part = QStringLiteral("attachment minutes.docx of \u201CBoard\u201D");
    nw::store::PageRecord page;
    page.text = QStringLiteral("First paragraph.\n\nSecond paragraph.\n\nThird, quoted here.");
    page.firstParagraph = 7;
    Citation c;
    c.title = QStringLiteral("Minutes");
    c.page = 2;
    c.start = static_cast<int>(page.text.indexOf(QStringLiteral("Third")));
    c.length = 5;
    placeCitation(c, document, page);
    QCOMPARE(c.paragraph, 9);
    QCOMPARE(c.ocrConfidence, -1.0);
    QCOMPARE(
        citationLabel(c), QStringLiteral("Minutes (attachment minutes.docx of \u201CBoard\u201D), p. 2, \u00B6 9"));

    nw::store::PageRecord scanned;
    scanned.text = QStringLiteral("Recognised words");
    scanned.source = QString::fromLatin1(nw::store::kSourceOcr);
    scanned.ocrConfidence = 61.6;
    Citation s;
    s.title = QStringLiteral("Scan");
    s.page = 3;
    placeCitation(s, nw::store::DocumentInfo {}, scanned);
    QVERIFY(isLowConfidence(s));
    QCOMPARE(citationLabel(s), QStringLiteral("Scan, p. 3 [OCR, 62% confidence]"));
    scanned.ocrConfidence = 93;
    placeCitation(s, nw::store::DocumentInfo {}, scanned);
    QVERIFY(!isLowConfidence(s));
    QCOMPARE(citationLabel(s), QStringLiteral("Scan, p. 3"));
    scanned.source = QString::fromLatin1(nw::store::kSourceText);
    scanned.ocrConfidence = 10; // a text page's confidence means nothing
    placeCitation(s, nw::store::DocumentInfo {}, scanned);
    QCOMPARE(s.ocrConfidence, -1.0);

    const nlohmann::json j = citationToJson(c);
    QCOMPARE(j.at("low_confidence").get<bool>(), false);
    const Citation back = citationFromJson(nlohmann::json::parse(j.dump()));
    QCOMPARE(back.part, c.part);
    QCOMPARE(back.paragraph, 9);
    s.ocrConfidence = 40;
    const nlohmann::json low = citationToJson(s);
    QCOMPARE(low.at("low_confidence").get<bool>(), true);
    QCOMPARE(citationFromJson(nlohmann::json::parse(low.dump())).ocrConfidence, 40.0);
}

void TestCitations::locatingQuotes_data()
{
    // The page text as a PDF gives it: line breaks, a hyphenated line end, typographic quotes.
    QTest::addColumn<QString>("quote");
    QTest::addColumn<QString>("expected"); // the exact page text of the span, "" for not found
    QTest::addRow("plain, across a line break") << "patent licenses granted to You"
                                                << "patent licenses\ngranted to You";
    QTest::addRow("case and spacing") << "SHALL   TERMINATE as of"
                                      << "shall terminate\nas of";
    QTest::addRow("hyphenated at the line end") << "the termination of the Work"
                                                << "the termi-\n   nation of the Work";
    QTest::addRow("typographic quotes in the page") << "the \"Licensor\" means"
                                                    << "the \u201CLicensor\u201D means";
    QTest::addRow("ellipsis joins pieces in order")
        << "If You institute ... shall terminate"
        << "If You institute patent litigation against any entity, then any patent licenses\ngranted to You under this "
           "License for that Work shall terminate";
    QTest::addRow("pieces out of order") << "shall terminate ... If You institute"
                                         << "";
    QTest::addRow("absent") << "the licensee may sublicense"
                            << "";
}

void TestCitations::locatingQuotes()
{
    QFETCH(QString, quote);
    QFETCH(QString, expected);
    const QString page = QStringLiteral(
        "If You institute patent litigation against any entity, then any patent licenses\n"
        "granted to You under this License for that Work shall terminate\nas of the date. Upon the termi-\n"
        "   nation of the Work, the \u201CLicensor\u201D means the owner.");
    const auto span = locateQuote(page, quote);
    if (expected.isEmpty()) {
        QVERIFY(!span);
        return;
    }
    QVERIFY(span);
    QCOMPARE(page.mid(span->start, span->length), expected);
}

void TestCitations::quoteSpansInSources()
{
    const QStringList sources { QStringLiteral("Nothing here."),
        QStringLiteral("Intro. You may convey a covered work in object code form.") };
    const auto checks = checkQuotes(QStringLiteral("It says \u201Cyou may convey a covered work\u201D [2]."), sources);
    QCOMPARE(checks.size(), std::size_t(1));
    QVERIFY(checks[0].supported);
    QCOMPARE(checks[0].sourceIndex, 1);
    QCOMPARE(
        sources[1].mid(checks[0].span.start, checks[0].span.length), QStringLiteral("You may convey a covered work"));
}

void TestCitations::sentenceTheAnswerDrawsOn()
{
    const QString page
        = QStringLiteral("This License applies to any program. The licensee may terminate on ninety days notice. "
                         "Warranties are disclaimed.");
    const auto span
        = sentenceMatching(page, QStringLiteral("Either party can terminate with ninety days of notice [1]."));
    QVERIFY(span);
    QCOMPARE(page.mid(span->start, span->length), QStringLiteral("The licensee may terminate on ninety days notice."));
    QVERIFY(!sentenceMatching(page, QStringLiteral("Yes [1].")));
}

QTEST_GUILESS_MAIN(TestCitations)
#include "tst_citations.moc"
