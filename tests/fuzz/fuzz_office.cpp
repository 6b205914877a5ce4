// Fuzz entry point for the .docx and .odt readers: the zip container (libzip behind ZipArchive,
// with its limits) and the XML inside it. Byte 0 picks what the rest is: 0, the file itself (read
// as .docx and as .odt); 1, the XML parts of a .docx; 2, those of an .odt. XML parts are split at
// byte 0x01 and zipped with correct checksums (tests/ingest/office_fixtures.h), so mutations reach
// the XML reader instead of stopping at a CRC. Every input gives a document or nw::Error;
// paragraphs hold no blank line and pages are numbered in order (fuzz_ingest.h).
#include "common/error.h"
#include "ingest/document_reader.h"
#include "ingest/office_document.h"
#include "tests/fuzz/fuzz_ingest.h"
#include "tests/ingest/office_fixtures.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr const char *kDocxParts[] = { "word/document.xml", "word/footnotes.xml", "docProps/core.xml" };
constexpr const char *kOdtParts[] = { "content.xml", "styles.xml", "meta.xml" };

QByteArray zipParts(const QByteArray &xml, bool odt)
{
    QList<nw::test::ZipMember> members;
    if (odt)
        members << nw::test::ZipMember { QStringLiteral("mimetype"), "application/vnd.oasis.opendocument.text", false };
    const QList<QByteArray> parts = xml.split('\x01');
    for (qsizetype i = 0; i < parts.size() && i < 3; ++i)
        members << nw::test::ZipMember { QString::fromLatin1(odt ? kOdtParts[i] : kDocxParts[i]), parts[i],
            i % 2 == 1 };
    return nw::test::makeZip(members);
}

void read(nw::ingest::FileFormat format, const QByteArray &bytes)
{
    const nw::ingest::ReadOptions options = nw::fuzz::cheapReadOptions();
    try {
        const nw::ingest::OfficeText text = format == nw::ingest::FileFormat::Docx
            ? nw::ingest::readDocx(bytes, options.zip)
            : nw::ingest::readOdt(bytes, options.zip);
        nw::fuzz::checkParagraphs(text.paragraphs, "office reader");
        nw::fuzz::checkDocument(
            nw::ingest::readDocument(format, bytes, QStringLiteral("f"), QStringLiteral("0"), options),
            "readDocument(office)");
    } catch (const nw::Error &) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const QByteArray rest(reinterpret_cast<const char *>(data) + 1, static_cast<qsizetype>(size - 1));
    switch (data[0] % 3) {
    case 0:
        read(nw::ingest::FileFormat::Docx, rest);
        read(nw::ingest::FileFormat::Odt, rest);
        break;
    case 1:
        read(nw::ingest::FileFormat::Docx, zipParts(rest, false));
        break;
    default:
        read(nw::ingest::FileFormat::Odt, zipParts(rest, true));
    }
    return 0;
}

// Seeds: whole files (mode 0) and their XML parts (modes 1 and 2) with paragraphs, headings, lists,
// tables, footnotes, page breaks, tracked changes and metadata.
std::vector<std::vector<std::uint8_t>> nwFuzzSeeds()
{
    const QString docxBody
        = nw::test::docxParagraph(QStringLiteral("Title"), QStringLiteral("<w:pStyle w:val=\"Heading1\"/>"))
        + nw::test::docxParagraph(
            QStringLiteral("A list item"), QStringLiteral("<w:numPr><w:ilvl w:val=\"0\"/></w:numPr>"))
        + QStringLiteral("<w:p><w:r><w:t>before</w:t></w:r><w:r><w:br w:type=\"page\"/></w:r><w:r><w:t>after</w:t>"
                         "</w:r><w:r><w:footnoteReference w:id=\"1\"/></w:r></w:p>"
                         "<w:p><w:del><w:r><w:delText>gone</w:delText></w:r></w:del><w:ins><w:r><w:t>new</w:t></w:r>"
                         "</w:ins><w:r><w:lastRenderedPageBreak/><w:tab/><w:t>x</w:t></w:r></w:p>"
                         "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>cell a</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>cell "
                         "b</w:t></w:r></w:p></w:tc></w:tr></w:tbl>");
    const QString footnotes
        = QStringLiteral("<w:footnote w:id=\"1\"><w:p><w:r><w:t>The note.</w:t></w:r></w:p></w:footnote>");
    const QString odtText = QStringLiteral(
        "<text:h text:outline-level=\"1\">Heading</text:h><text:p text:style-name=\"P1\">First<text:s text:c=\"3\"/>"
        "para<text:tab/>graph<text:line-break/>line</text:p><text:list><text:list-item><text:p>item</text:p>"
        "</text:list-item></text:list><table:table><table:table-row><table:table-cell><text:p>c1</text:p>"
        "</table:table-cell><table:table-cell><text:p>c2</text:p></table:table-cell></table:table-row></table:table>"
        "<text:p>note<text:note text:note-class=\"footnote\"><text:note-citation>1</text:note-citation><text:note-body>"
        "<text:p>body</text:p></text:note-body></text:note></text:p><text:soft-page-break/><text:p>next page</text:p>");
    const QString odtStyles
        = QStringLiteral("<style:style style:name=\"P1\" style:family=\"paragraph\"><style:paragraph-properties "
                         "fo:break-before=\"page\"/>"
                         "</style:style>");
    std::vector<std::vector<std::uint8_t>> seeds;
    const auto add = [&seeds](char mode, const QByteArray &bytes) {
        std::vector<std::uint8_t> seed { static_cast<std::uint8_t>(mode) };
        seed.insert(seed.end(), bytes.begin(), bytes.end());
        seeds.push_back(std::move(seed));
    };
    const QByteArray docx = nw::test::makeDocx(docxBody, footnotes, QStringLiteral("A title"));
    const QByteArray odt = nw::test::makeOdt(odtText, odtStyles, {}, QStringLiteral("A title"));
    add(0, docx);
    add(0, odt);
    add(0,
        nw::test::makeZip({ { QStringLiteral("word/document.xml"), "<w:document/>", true, true } })); // encrypted flag
    add(0, docx.left(docx.size() / 2)); // truncated
    // The parts alone, joined by 0x01 (zipParts() splits them again).
    const auto partsOf = [](const QByteArray &zip, bool odtParts) {
        nw::ingest::ZipArchive archive(zip, QStringLiteral("seed"));
        QByteArray joined;
        for (int i = 0; i < 3; ++i) {
            if (i)
                joined += '\x01';
            joined += archive.read(QString::fromLatin1(odtParts ? kOdtParts[i] : kDocxParts[i])).value_or(QByteArray());
        }
        return joined;
    };
    add(1, partsOf(docx, false));
    add(2, partsOf(odt, true));
    add(1,
        "<?xml version=\"1.0\"?><!DOCTYPE w [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><w:document "
        "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body><w:p><w:r><w:t>&e;</w:t>"
        "</w:r></w:p></w:body></w:document>");
    return seeds;
}
