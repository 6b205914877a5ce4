// Fuzz entry point for the HTML reader (Gumbo): any bytes as an HTML file, read to paragraphs and
// then to pages as the ingest does. Every input gives a document or nw::Error; paragraphs hold no
// blank line and pages are numbered in order (fuzz_ingest.h).
#include "common/error.h"
#include "ingest/document_reader.h"
#include "ingest/html_document.h"
#include "tests/fuzz/fuzz_ingest.h"

#include <QByteArray>
#include <QString>

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const QByteArray bytes(reinterpret_cast<const char *>(data), static_cast<qsizetype>(size));
    try {
        nw::fuzz::checkParagraphs(nw::ingest::htmlToText(bytes).paragraphs, "htmlToText");
        nw::fuzz::checkDocument(nw::ingest::readDocument(nw::ingest::FileFormat::Html, bytes, QStringLiteral("f.html"),
                                    QStringLiteral("0"), nw::fuzz::cheapReadOptions()),
            "readDocument(html)");
    } catch (const nw::Error &) {
    }
    return 0;
}

// Seeds: the constructs the reader treats apart (lists, tables, <pre>, <br>, scripts, entities,
// charsets, a byte order mark, unclosed and misnested tags, deep nesting).
std::vector<std::vector<std::uint8_t>> nwFuzzSeeds()
{
    const std::vector<std::string> pages = {
        "<!DOCTYPE html><html><head><title>Terms</title><meta charset=\"utf-8\"></head><body><h1>Terms</h1>"
        "<p>First clause &amp; second.</p><p>Line<br>break</p></body></html>",
        "<ul><li>one<li>two<ol><li>nested</ol></ul><table><tr><td>a<td>b</tr><tr><th>c</th></tr></table>",
        "<pre>  keep\n\n  these lines\n</pre><script>var x = '<p>';</script><style>p{}</style><p>after",
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"></head>"
        "<body><p>caf\xe9 na\xefve</p></body></html>",
        "\xef\xbb\xbf<p>with a byte order mark</p>",
        std::string("\xff\xfe<\0p\0>\0h\0i\0", 12), // UTF-16 little-endian
        "<p><b><i>misnested</b></i><div>block in <p>paragraph</div><td>stray cell",
        std::string(300, '<') + "div>" + std::string(200, '>'),
        "<table><tr><td><table><tr><td>inner</td></tr></table></td></tr></table>&#x10FFFF;&#0;&nbsp;&bogus;",
        "<p>\n\n\n</p><p> \t </p><p>a\r\n\r\nb</p>",
    };
    std::vector<std::vector<std::uint8_t>> seeds;
    for (const std::string &page : pages)
        seeds.emplace_back(page.begin(), page.end());
    std::string deep;
    for (int i = 0; i < 100; ++i)
        deep += "<div><span>";
    seeds.emplace_back(deep.begin(), deep.end());
    return seeds;
}
