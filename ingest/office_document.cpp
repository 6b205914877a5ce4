// .docx and .odt text in reading order.
#include "ingest/office_document.h"

#include <QHash>
#include <QSet>
#include <QXmlStreamReader>

#include <functional>
#include <optional>

namespace nw::ingest {

bool isOleCompoundFile(const QByteArray &head)
{
    return head.startsWith(QByteArray::fromHex("d0cf11e0a1b11ae1"));
}

namespace {

const QString kWordDocument = QStringLiteral("the Word document");
const QString kOdfDocument = QStringLiteral("the OpenDocument text");

IngestFailure badXml(const QString &what, const QString &member, const QXmlStreamReader &xml)
{
    return IngestFailure(IngestProblem::Corrupt,
        QStringLiteral("%1 is damaged: %2 does not parse (line %3: %4)")
            .arg(what, member)
            .arg(xml.lineNumber())
            .arg(xml.errorString()));
}

bool isOn(const QXmlStreamReader &xml)
{
    // <w:pageBreakBefore/> is on; w:val="0" / "false" / "off" turns it off.
    const QStringView value = xml.attributes().value(QStringLiteral("w:val"));
    return value.isEmpty() || (value != u"0" && value != u"false" && value != u"off");
}

// Title, author, subject, keywords and creation date from a Dublin Core properties part
// (docProps/core.xml, meta.xml): the elements are looked up by local name.
DocumentMetadata readCoreProperties(const QByteArray &xmlBytes)
{
    DocumentMetadata m;
    QXmlStreamReader xml(xmlBytes);
    while (!xml.atEnd()) {
        if (xml.readNext() != QXmlStreamReader::StartElement)
            continue;
        const QStringView name = xml.name();
        QString *field = nullptr;
        if (name == u"title")
            field = &m.title;
        else if (name == u"creator" || name == u"initial-creator")
            field = &m.author;
        else if (name == u"subject")
            field = &m.subject;
        else if (name == u"keywords" || name == u"keyword")
            field = &m.keywords;
        if (field) {
            const QString text = xml.readElementText(QXmlStreamReader::IncludeChildElements).trimmed();
            if (field->isEmpty() || name == u"creator")
                *field = text;
        } else if (name == u"created" || name == u"creation-date") {
            m.created = QDateTime::fromString(xml.readElementText().trimmed(), Qt::ISODate);
        } else if (name == u"generator" || name == u"application") {
            m.creator = xml.readElementText().trimmed();
        }
    }
    return m; // properties are a nicety: a damaged part leaves what was read
}

// Collects the paragraphs of a document as its XML is read. Text goes into the innermost open
// paragraph; table cells collect theirs and a row becomes one paragraph; a page break starts the
// next paragraph (or the rest of this one) on a new page.
class ParagraphCollector {
public:
    void beginParagraph()
    {
        m_open.push_back({});
        if (m_listItemPending)
            m_open.back().text = QStringLiteral("• ");
        m_listItemPending = false;
    }
    // The next paragraph begins a list item (.odt: <text:list-item> holds paragraphs).
    void beginListItem() { m_listItemPending = true; }
    void setListItem()
    {
        if (!m_open.empty() && !m_open.back().text.startsWith(QStringLiteral("• ")))
            m_open.back().text.prepend(QStringLiteral("• "));
    }
    void text(QStringView s)
    {
        if (!m_open.empty())
            m_open.back().text += s;
        else if (m_cell)
            *m_cell += s;
    }
    void pageBreak()
    {
        m_sawBreak = true;
        if (m_open.empty() || m_inCell > 0 || hasNoText(m_open.back().text)) {
            m_pendingBreak = true;
            return;
        }
        // The paragraph goes on, on the next page: what came before it stays on this one.
        Open rest;
        rest.continues = true;
        rest.footnotes = std::move(m_open.back().footnotes);
        m_open.back().footnotes.clear();
        emitOpen(std::move(m_open.back()));
        m_open.back() = std::move(rest);
        m_pendingBreak = true;
    }
    void footnoteReference(const QString &marker, const QString &footnote)
    {
        text(QStringLiteral("[%1]").arg(marker));
        if (!footnote.isEmpty() && !m_open.empty())
            m_open.back().footnotes << QStringLiteral("[%1] %2").arg(marker, footnote);
    }
    void endParagraph()
    {
        if (m_open.empty())
            return;
        Open p = std::move(m_open.back());
        m_open.pop_back();
        if (m_inCell > 0 && m_cell) { // a paragraph of a table cell: part of the cell's text
            if (!hasNoText(p.text)) {
                if (!m_cell->isEmpty())
                    *m_cell += QLatin1Char(' ');
                *m_cell += p.text.simplified();
            }
            for (const QString &note : p.footnotes)
                m_rowFootnotes << note;
            return;
        }
        emitOpen(std::move(p));
    }
    void breakAfterParagraph() { m_pendingBreak = true, m_sawBreak = true; }

    // Tables: rows of the outermost table become paragraphs; inner tables join their outer cell.
    void beginTable() { ++m_tableDepth; }
    void endTable() { --m_tableDepth; }
    void beginRow()
    {
        if (m_tableDepth == 1) {
            m_cells.clear();
            m_rowFootnotes.clear();
        }
    }
    void beginCell()
    {
        ++m_inCell;
        if (m_tableDepth == 1) {
            m_cells << QString();
            m_cell = &m_cells.back();
        }
    }
    void endCell()
    {
        --m_inCell;
        if (m_tableDepth == 1)
            m_cell = nullptr;
    }
    void endRow()
    {
        if (m_tableDepth != 1)
            return;
        QStringList cells;
        for (const QString &cell : m_cells)
            cells << cell.trimmed();
        while (!cells.isEmpty() && cells.back().isEmpty())
            cells.removeLast();
        Open row;
        row.text = cells.join(QStringLiteral(" | "));
        row.footnotes = m_rowFootnotes;
        emitOpen(std::move(row));
        m_cells.clear();
        m_rowFootnotes.clear();
    }

    void appendNotes(const QStringList &notes)
    {
        for (const QString &note : notes)
            m_paragraphs.push_back({ note, false, false });
    }
    bool sawBreak() const { return m_sawBreak; }
    std::vector<Paragraph> take()
    {
        while (!m_open.empty())
            endParagraph();
        return std::move(m_paragraphs);
    }

private:
    struct Open {
        QString text;
        QStringList footnotes;
        bool continues = false;
    };
    static bool hasNoText(const QString &text) { return text.trimmed().isEmpty() || text == QStringLiteral("• "); }
    void emitOpen(Open p)
    {
        if (hasNoText(p.text) && p.footnotes.isEmpty())
            return;
        m_paragraphs.push_back({ p.text, m_pendingBreak, p.continues });
        m_pendingBreak = false;
        for (const QString &note : p.footnotes)
            m_paragraphs.push_back({ note, false, false });
    }

    std::vector<Paragraph> m_paragraphs;
    std::vector<Open> m_open; // a text box's paragraphs open inside their anchor's
    bool m_pendingBreak = false;
    bool m_sawBreak = false;
    bool m_listItemPending = false;
    int m_tableDepth = 0;
    int m_inCell = 0;
    QStringList m_cells;
    QString *m_cell = nullptr;
    QStringList m_rowFootnotes;
};

// --- .docx

// Footnotes (or endnotes) by id: their paragraphs' text, one line.
QHash<QString, QString> readDocxNotes(const QByteArray &xmlBytes, QStringView noteElement, const QString &member)
{
    QHash<QString, QString> notes;
    QXmlStreamReader xml(xmlBytes);
    QString id;
    QString text;
    bool inNote = false;
    bool inText = false;
    while (!xml.atEnd()) {
        const auto token = xml.readNext();
        if (token == QXmlStreamReader::StartElement) {
            if (xml.name() == noteElement) {
                const QStringView type = xml.attributes().value(QStringLiteral("w:type"));
                inNote = type.isEmpty() || type == u"normal";
                id = xml.attributes().value(QStringLiteral("w:id")).toString();
                text.clear();
            } else if (xml.name() == u"t") {
                inText = inNote;
            } else if (inNote && (xml.name() == u"p" || xml.name() == u"tab" || xml.name() == u"br")
                && !text.isEmpty()) {
                text += QLatin1Char(' ');
            }
        } else if (token == QXmlStreamReader::EndElement) {
            if (xml.name() == u"t")
                inText = false;
            else if (xml.name() == noteElement && inNote) {
                notes.insert(id, text.simplified());
                inNote = false;
            }
        } else if (token == QXmlStreamReader::Characters && inText) {
            text += xml.text();
        }
    }
    if (xml.hasError())
        throw badXml(kWordDocument, member, xml);
    return notes;
}

OfficeText readDocxBody(
    const QByteArray &xmlBytes, const QHash<QString, QString> &footnotes, const QHash<QString, QString> &endnotes)
{
    OfficeText out;
    ParagraphCollector collector;
    QXmlStreamReader xml(xmlBytes);
    bool inText = false; // inside <w:t>
    int skipDepth = 0; // inside an element whose text is left out
    int footnoteNumber = 0;
    QStringList endnoteTexts;
    bool sectionEndsHere = false; // <w:sectPr> in the paragraph's properties: a section (page) ends with it
    while (!xml.atEnd()) {
        const auto token = xml.readNext();
        if (token == QXmlStreamReader::StartElement) {
            const QStringView name = xml.name();
            if (skipDepth > 0) {
                ++skipDepth;
                continue;
            }
            // Fallback repeats what Choice holds; comments and deleted text are not the document's.
            if (name == u"Fallback" || name == u"delText" || name == u"instrText" || name == u"commentReference"
                || name == u"footnotePr" || name == u"endnotePr") {
                skipDepth = 1;
                continue;
            }
            if (name == u"p") {
                collector.beginParagraph();
                sectionEndsHere = false;
            } else if (name == u"numPr") {
                collector.setListItem();
            } else if (name == u"pageBreakBefore") {
                if (isOn(xml))
                    collector.pageBreak();
            } else if (name == u"sectPr" && xml.namespaceUri().endsWith(u"main")) {
                // Inside <w:pPr>: this paragraph ends a section; a continuous section shares the page.
                sectionEndsHere = true;
            } else if (name == u"type" && sectionEndsHere
                && xml.attributes().value(QStringLiteral("w:val")) == u"continuous") {
                sectionEndsHere = false;
            } else if (name == u"t") {
                inText = true;
            } else if (name == u"tab") {
                collector.text(u"\t");
            } else if (name == u"br") {
                const QStringView type = xml.attributes().value(QStringLiteral("w:type"));
                if (type == u"page")
                    collector.pageBreak();
                else if (type != u"column")
                    collector.text(u"\n");
            } else if (name == u"cr") {
                collector.text(u"\n");
            } else if (name == u"noBreakHyphen") {
                collector.text(u"-");
            } else if (name == u"lastRenderedPageBreak") {
                collector.pageBreak();
            } else if (name == u"footnoteReference") {
                const QString id = xml.attributes().value(QStringLiteral("w:id")).toString();
                collector.footnoteReference(QString::number(++footnoteNumber), footnotes.value(id));
            } else if (name == u"endnoteReference") {
                const QString id = xml.attributes().value(QStringLiteral("w:id")).toString();
                const QString marker = QStringLiteral("e%1").arg(endnoteTexts.size() + 1);
                collector.text(QStringLiteral("[%1]").arg(marker));
                endnoteTexts << QStringLiteral("[%1] %2").arg(marker, endnotes.value(id));
            } else if (name == u"tbl") {
                collector.beginTable();
            } else if (name == u"tr") {
                collector.beginRow();
            } else if (name == u"tc") {
                collector.beginCell();
            }
        } else if (token == QXmlStreamReader::EndElement) {
            if (skipDepth > 0) {
                --skipDepth;
                continue;
            }
            const QStringView name = xml.name();
            if (name == u"t") {
                inText = false;
            } else if (name == u"p") {
                collector.endParagraph();
                if (sectionEndsHere)
                    collector.breakAfterParagraph();
                sectionEndsHere = false;
            } else if (name == u"tc") {
                collector.endCell();
            } else if (name == u"tr") {
                collector.endRow();
            } else if (name == u"tbl") {
                collector.endTable();
            }
        } else if (token == QXmlStreamReader::Characters && inText && skipDepth == 0) {
            collector.text(xml.text());
        }
    }
    if (xml.hasError())
        throw badXml(kWordDocument, QStringLiteral("word/document.xml"), xml);
    collector.appendNotes(endnoteTexts);
    out.recordedBreaks = collector.sawBreak();
    out.paragraphs = collector.take();
    return out;
}

// --- .odt

struct OdfStyle {
    QString parent;
    std::optional<bool> breakBefore; // fo:break-before="page"
    std::optional<bool> breakAfter;
};

void readOdfStyles(const QByteArray &xmlBytes, QHash<QString, OdfStyle> &styles)
{
    QXmlStreamReader xml(xmlBytes);
    QString current;
    while (!xml.atEnd()) {
        if (xml.readNext() != QXmlStreamReader::StartElement)
            continue;
        if (xml.name() == u"style" && xml.attributes().value(QStringLiteral("style:family")) == u"paragraph") {
            current = xml.attributes().value(QStringLiteral("style:name")).toString();
            styles[current].parent = xml.attributes().value(QStringLiteral("style:parent-style-name")).toString();
        } else if (xml.name() == u"style") {
            current.clear();
        } else if (xml.name() == u"paragraph-properties" && !current.isEmpty()) {
            const QStringView before = xml.attributes().value(QStringLiteral("fo:break-before"));
            const QStringView after = xml.attributes().value(QStringLiteral("fo:break-after"));
            if (!before.isEmpty())
                styles[current].breakBefore = before == u"page";
            if (!after.isEmpty())
                styles[current].breakAfter = after == u"page";
        }
    }
    // Styles are a nicety (page breaks): a damaged styles part leaves what was read.
}

// A style's own setting, else its parent's (a cycle ends the search).
bool styleBreaks(const QHash<QString, OdfStyle> &styles, QString name, bool before)
{
    for (int hops = 0; hops < 32 && !name.isEmpty(); ++hops) {
        const auto it = styles.constFind(name);
        if (it == styles.constEnd())
            return false;
        const std::optional<bool> &value = before ? it->breakBefore : it->breakAfter;
        if (value)
            return *value;
        name = it->parent;
    }
    return false;
}

OfficeText readOdtBody(const QByteArray &xmlBytes, const QHash<QString, OdfStyle> &styles)
{
    OfficeText out;
    ParagraphCollector collector;
    QXmlStreamReader xml(xmlBytes);
    int skipDepth = 0;
    bool inBody = false;
    std::vector<QString> paragraphStyles; // of the open text:p / text:h
    // A note: its citation and body are read apart from the paragraph that holds them.
    int noteDepth = 0;
    QString noteCitation;
    QString noteBody;
    bool inCitation = false;
    while (!xml.atEnd()) {
        const auto token = xml.readNext();
        if (token == QXmlStreamReader::StartElement) {
            const QStringView name = xml.name();
            if (skipDepth > 0) {
                ++skipDepth;
                continue;
            }
            if (name == u"text" && xml.namespaceUri().endsWith(u"office:1.0")) {
                inBody = true;
                continue;
            }
            if (!inBody)
                continue;
            if (name == u"tracked-changes" || name == u"annotation" || name == u"sequence-decls"
                || name == u"variable-decls" || name == u"user-field-decls") {
                skipDepth = 1;
                continue;
            }
            if (noteDepth > 0) {
                ++noteDepth;
                if (name == u"note-citation")
                    inCitation = true;
                else if (name == u"p" || name == u"h" || name == u"line-break" || name == u"tab" || name == u"s")
                    noteBody += QLatin1Char(' ');
                continue;
            }
            if (name == u"note") {
                noteDepth = 1;
                noteCitation.clear();
                noteBody.clear();
                continue;
            }
            if (name == u"p" || name == u"h") {
                const QString style = xml.attributes().value(QStringLiteral("text:style-name")).toString();
                if (styleBreaks(styles, style, true))
                    collector.pageBreak();
                collector.beginParagraph();
                paragraphStyles.push_back(style);
            } else if (name == u"list-item") {
                collector.beginListItem(); // its first paragraph carries the mark
            } else if (name == u"soft-page-break") {
                collector.pageBreak();
            } else if (name == u"s") {
                const int count = std::clamp(xml.attributes().value(QStringLiteral("text:c")).toInt(), 1, 64);
                collector.text(QString(count, QLatin1Char(' ')));
            } else if (name == u"tab") {
                collector.text(u"\t");
            } else if (name == u"line-break") {
                collector.text(u"\n");
            } else if (name == u"table" && xml.namespaceUri().contains(u"table")) {
                collector.beginTable();
            } else if (name == u"table-row") {
                collector.beginRow();
            } else if (name == u"table-cell") {
                collector.beginCell();
            }
        } else if (token == QXmlStreamReader::EndElement) {
            if (skipDepth > 0) {
                --skipDepth;
                continue;
            }
            const QStringView name = xml.name();
            if (noteDepth > 0) {
                if (name == u"note-citation")
                    inCitation = false;
                if (--noteDepth == 0) {
                    const QString marker
                        = noteCitation.trimmed().isEmpty() ? QStringLiteral("*") : noteCitation.trimmed();
                    collector.footnoteReference(marker, noteBody.simplified());
                }
                continue;
            }
            if (name == u"text" && xml.namespaceUri().endsWith(u"office:1.0")) {
                inBody = false;
            } else if (name == u"p" || name == u"h") {
                const QString style = paragraphStyles.empty() ? QString() : paragraphStyles.back();
                if (!paragraphStyles.empty())
                    paragraphStyles.pop_back();
                collector.endParagraph();
                if (styleBreaks(styles, style, false))
                    collector.breakAfterParagraph();
            } else if (name == u"table-cell") {
                collector.endCell();
            } else if (name == u"table-row") {
                collector.endRow();
            } else if (name == u"table" && xml.namespaceUri().contains(u"table")) {
                collector.endTable();
            }
        } else if (token == QXmlStreamReader::Characters && inBody && skipDepth == 0) {
            if (noteDepth > 0)
                (inCitation ? noteCitation : noteBody) += xml.text();
            else
                collector.text(xml.text());
        }
    }
    if (xml.hasError())
        throw badXml(kOdfDocument, QStringLiteral("content.xml"), xml);
    out.recordedBreaks = collector.sawBreak();
    out.paragraphs = collector.take();
    return out;
}

} // namespace

OfficeText readDocx(const QByteArray &bytes, const ZipLimits &limits)
{
    if (isOleCompoundFile(bytes)) {
        // Word encrypts a .docx by wrapping it in an OLE file with an "EncryptedPackage" stream.
        const QByteArray encryptedPackage
            = QByteArray::fromRawData("E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0", 32);
        if (bytes.contains(encryptedPackage))
            throw IngestFailure(IngestProblem::Encrypted,
                QStringLiteral("%1 is encrypted and needs a password to open; save an "
                               "unprotected copy and ingest that")
                    .arg(kWordDocument));
        throw IngestFailure(IngestProblem::Unsupported,
            QStringLiteral("a Word 97-2003 document (.doc), which Needlework does not read: save it as .docx"));
    }
    ZipArchive zip(bytes, kWordDocument, limits);
    const std::optional<QByteArray> document = zip.read(QStringLiteral("word/document.xml"));
    if (!document)
        throw IngestFailure(
            IngestProblem::Corrupt, QStringLiteral("%1 is damaged: it has no word/document.xml").arg(kWordDocument));
    QHash<QString, QString> footnotes;
    if (const auto part = zip.read(QStringLiteral("word/footnotes.xml")))
        footnotes = readDocxNotes(*part, u"footnote", QStringLiteral("word/footnotes.xml"));
    QHash<QString, QString> endnotes;
    if (const auto part = zip.read(QStringLiteral("word/endnotes.xml")))
        endnotes = readDocxNotes(*part, u"endnote", QStringLiteral("word/endnotes.xml"));
    OfficeText text = readDocxBody(*document, footnotes, endnotes);
    if (const auto core = zip.read(QStringLiteral("docProps/core.xml")))
        text.metadata = readCoreProperties(*core);
    if (const auto app = zip.read(QStringLiteral("docProps/app.xml")); app && text.metadata.creator.isEmpty())
        text.metadata.creator = readCoreProperties(*app).creator;
    return text;
}

OfficeText readOdt(const QByteArray &bytes, const ZipLimits &limits)
{
    ZipArchive zip(bytes, kOdfDocument, limits);
    if (const auto manifest = zip.read(QStringLiteral("META-INF/manifest.xml"));
        manifest && manifest->contains("encryption-data"))
        throw IngestFailure(IngestProblem::Encrypted,
            QStringLiteral("%1 is encrypted and needs a password to open; save an "
                           "unprotected copy and ingest that")
                .arg(kOdfDocument));
    const std::optional<QByteArray> content = zip.read(QStringLiteral("content.xml"));
    if (!content)
        throw IngestFailure(
            IngestProblem::Corrupt, QStringLiteral("%1 is damaged: it has no content.xml").arg(kOdfDocument));
    QHash<QString, OdfStyle> styles;
    if (const auto named = zip.read(QStringLiteral("styles.xml")))
        readOdfStyles(*named, styles);
    readOdfStyles(*content, styles); // automatic styles, which name the others as parents
    OfficeText text = readOdtBody(*content, styles);
    if (const auto meta = zip.read(QStringLiteral("meta.xml")))
        text.metadata = readCoreProperties(*meta);
    return text;
}

} // namespace nw::ingest
