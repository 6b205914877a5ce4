// Office documents made on the spot: a zip writer of its own (stored or deflated members, and
// the flag of an encrypted one), and minimal .docx and .odt packages around the XML a test gives,
// so the tests depend on no office suite and no zip library of the product's.
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>
#include <QtEndian>

#include <array>
#include <cstdint>

namespace nw::test {

inline std::uint32_t crc32(const QByteArray &data)
{
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t {};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t crc = 0xffffffffu;
    for (char ch : data)
        crc = table[(crc ^ static_cast<unsigned char>(ch)) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

struct ZipMember {
    QString name;
    QByteArray data;
    bool deflate = true;
    bool encrypted = false; // sets the "encrypted" flag (the data is not really encrypted)
};

inline void putLe16(QByteArray &out, std::uint16_t v)
{
    char b[2];
    qToLittleEndian(v, b);
    out.append(b, 2);
}
inline void putLe32(QByteArray &out, std::uint32_t v)
{
    char b[4];
    qToLittleEndian(v, b);
    out.append(b, 4);
}

// A zip archive (PKWARE APPNOTE 4.3): local headers with the data, the central directory, the
// end record. Deflated data is zlib's stream without its header and checksum (qCompress).
inline QByteArray makeZip(const QList<ZipMember> &members)
{
    QByteArray zip;
    QByteArray central;
    for (const ZipMember &m : members) {
        const QByteArray name = m.name.toUtf8();
        QByteArray data = m.data;
        if (m.deflate) {
            const QByteArray z = qCompress(m.data, 9); // 4-byte size, 2-byte zlib header, deflate, 4-byte Adler-32
            data = z.mid(6, z.size() - 10);
        }
        const std::uint32_t crc = crc32(m.data);
        const std::uint16_t flags = m.encrypted ? 1 : 0;
        const std::uint16_t method = m.deflate ? 8 : 0;
        const auto offset = static_cast<std::uint32_t>(zip.size());
        putLe32(zip, 0x04034b50);
        putLe16(zip, 20);
        putLe16(zip, flags);
        putLe16(zip, method);
        putLe16(zip, 0); // time
        putLe16(zip, 0x21); // date: 1980-01-01
        putLe32(zip, crc);
        putLe32(zip, static_cast<std::uint32_t>(data.size()));
        putLe32(zip, static_cast<std::uint32_t>(m.data.size()));
        putLe16(zip, static_cast<std::uint16_t>(name.size()));
        putLe16(zip, 0);
        zip += name;
        zip += data;

        putLe32(central, 0x02014b50);
        putLe16(central, 20);
        putLe16(central, 20);
        putLe16(central, flags);
        putLe16(central, method);
        putLe16(central, 0);
        putLe16(central, 0x21);
        putLe32(central, crc);
        putLe32(central, static_cast<std::uint32_t>(data.size()));
        putLe32(central, static_cast<std::uint32_t>(m.data.size()));
        putLe16(central, static_cast<std::uint16_t>(name.size()));
        putLe16(central, 0); // extra
        putLe16(central, 0); // comment
        putLe16(central, 0); // disk
        putLe16(central, 0); // internal attributes
        putLe32(central, 0); // external attributes
        putLe32(central, offset);
        central += name;
    }
    const auto centralOffset = static_cast<std::uint32_t>(zip.size());
    zip += central;
    putLe32(zip, 0x06054b50);
    putLe16(zip, 0);
    putLe16(zip, 0);
    putLe16(zip, static_cast<std::uint16_t>(members.size()));
    putLe16(zip, static_cast<std::uint16_t>(members.size()));
    putLe32(zip, static_cast<std::uint32_t>(central.size()));
    putLe32(zip, centralOffset);
    putLe16(zip, 0);
    return zip;
}

// WordprocessingML around `body` (the children of <w:body>), with footnotes and core properties.
inline QByteArray makeDocx(
    const QString &body, const QString &footnotes = {}, const QString &title = {}, QList<ZipMember> extra = {})
{
    const QString ns = QStringLiteral("xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" "
                                      "xmlns:mc=\"http://schemas.openxmlformats.org/markup-compatibility/2006\"");
    QList<ZipMember> members = {
        { QStringLiteral("[Content_Types].xml"),
            "<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
            "<Override PartName=\"/word/document.xml\" ContentType=\"application/"
            "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>" },
        { QStringLiteral("word/document.xml"),
            QStringLiteral("<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document %1><w:body>%2</w:body></w:document>")
                .arg(ns, body)
                .toUtf8() },
    };
    if (!footnotes.isEmpty())
        members << ZipMember { QStringLiteral("word/footnotes.xml"),
            QStringLiteral("<?xml version=\"1.0\"?><w:footnotes %1>%2</w:footnotes>").arg(ns, footnotes).toUtf8() };
    if (!title.isEmpty())
        members << ZipMember { QStringLiteral("docProps/core.xml"),
            QStringLiteral("<?xml version=\"1.0\"?><cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/"
                           "package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
                           "xmlns:dcterms=\"http://purl.org/dc/terms/\"><dc:title>%1</dc:title><dc:creator>Ada "
                           "Lovelace</dc:creator><dcterms:created>2021-03-04T05:06:07Z</dcterms:created>"
                           "</cp:coreProperties>")
                .arg(title)
                .toUtf8() };
    members << extra;
    return makeZip(members);
}

inline QString docxParagraph(const QString &text, const QString &properties = {})
{
    return QStringLiteral("<w:p>%1<w:r><w:t xml:space=\"preserve\">%2</w:t></w:r></w:p>")
        .arg(properties.isEmpty() ? QString() : QStringLiteral("<w:pPr>%1</w:pPr>").arg(properties), text);
}

// OpenDocument text around `text` (the children of <office:text>), with `styles` as automatic styles.
inline QByteArray makeOdt(
    const QString &text, const QString &styles = {}, const QString &manifestExtra = {}, const QString &title = {})
{
    const QString ns = QStringLiteral(
        "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
        "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" "
        "xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" "
        "xmlns:style=\"urn:oasis:names:tc:opendocument:xmlns:style:1.0\" "
        "xmlns:fo=\"urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0\" "
        "xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:meta=\"urn:oasis:names:tc:opendocument:xmlns:meta:1.0\" "
        "xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\"");
    QList<ZipMember> members = {
        { QStringLiteral("mimetype"), "application/vnd.oasis.opendocument.text", false },
        { QStringLiteral("META-INF/manifest.xml"),
            QStringLiteral(
                "<?xml version=\"1.0\"?><manifest:manifest %1><manifest:file-entry manifest:full-path=\"content.xml\" "
                "manifest:media-type=\"text/xml\">%2</manifest:file-entry></manifest:manifest>")
                .arg(ns, manifestExtra)
                .toUtf8() },
        { QStringLiteral("content.xml"),
            QStringLiteral(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content %1><office:automatic-styles>%2"
                "</office:automatic-styles><office:body><office:text>%3</office:text></office:body>"
                "</office:document-content>")
                .arg(ns, styles, text)
                .toUtf8() },
    };
    if (!title.isEmpty())
        members << ZipMember { QStringLiteral("meta.xml"),
            QStringLiteral("<?xml version=\"1.0\"?><office:document-meta %1><office:meta><dc:title>%2</dc:title>"
                           "<meta:initial-creator>Grace Hopper</meta:initial-creator></office:meta>"
                           "</office:document-meta>")
                .arg(ns, title)
                .toUtf8() };
    return makeZip(members);
}

} // namespace nw::test
