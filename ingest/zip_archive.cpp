// libzip lives here and nowhere else: the one file that includes its header.
#include "ingest/zip_archive.h"

#include <zip.h>

#include <algorithm>

namespace nw::ingest {

QString libzipVersion()
{
    return QString::fromLatin1(zip_libzip_version());
}

namespace {

QString zipError(int code)
{
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const QString text = QString::fromUtf8(zip_error_strerror(&error));
    zip_error_fini(&error);
    return text;
}

// A zip's local header signature at the start, and no end-of-central-directory record
// ("PK\5\6") in the last 64 KiB + 22 bytes where it must be: the end of the file is missing.
bool endIsMissing(const QByteArray &bytes)
{
    return bytes.startsWith("PK\x03\x04") && !bytes.right(65557).contains("PK\x05\x06");
}

} // namespace

struct ZipArchive::Impl {
    QByteArray bytes;
    QString what;
    ZipLimits limits;
    zip_t *zip = nullptr;
    std::int64_t unpacked = 0; // read from this archive so far
};

ZipArchive::ZipArchive(QByteArray bytes, const QString &what, ZipLimits limits)
    : m_impl(std::make_unique<Impl>())
{
    m_impl->bytes = std::move(bytes);
    m_impl->what = what;
    m_impl->limits = limits;
    zip_error_t error;
    zip_error_init(&error);
    // The buffer belongs to Impl, which outlives the archive (freep = 0: libzip does not free it).
    zip_source_t *source = zip_source_buffer_create(
        m_impl->bytes.constData(), static_cast<zip_uint64_t>(m_impl->bytes.size()), 0, &error);
    if (source)
        m_impl->zip = zip_open_from_source(source, ZIP_RDONLY, &error);
    const int code = zip_error_code_zip(&error);
    zip_error_fini(&error);
    if (m_impl->zip)
        return;
    if (source)
        zip_source_free(source);
    if (endIsMissing(m_impl->bytes))
        throw IngestFailure(IngestProblem::Truncated,
            QStringLiteral("%1 is truncated (its zip directory, at the end, is missing); "
                           "the download or copy was probably cut short")
                .arg(m_impl->what));
    if (code == ZIP_ER_NOZIP)
        throw IngestFailure(
            IngestProblem::Corrupt, QStringLiteral("%1 is damaged: it is not a zip archive").arg(m_impl->what));
    throw IngestFailure(
        IngestProblem::Corrupt, QStringLiteral("%1 is damaged (zip: %2)").arg(m_impl->what, zipError(code)));
}

ZipArchive::~ZipArchive()
{
    if (m_impl->zip)
        zip_discard(m_impl->zip);
}

bool ZipArchive::contains(const QString &name) const
{
    return zip_name_locate(m_impl->zip, name.toUtf8().constData(), 0) >= 0;
}

std::optional<QByteArray> ZipArchive::read(const QString &name)
{
    const zip_int64_t index = zip_name_locate(m_impl->zip, name.toUtf8().constData(), 0);
    if (index < 0)
        return std::nullopt;
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(m_impl->zip, static_cast<zip_uint64_t>(index), 0, &stat) != 0)
        throw IngestFailure(IngestProblem::Corrupt,
            QStringLiteral("%1 is damaged: its member %2 cannot be read").arg(m_impl->what, name));
    if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) && stat.encryption_method != ZIP_EM_NONE)
        throw IngestFailure(IngestProblem::Encrypted,
            QStringLiteral("%1 is encrypted and needs a password to open; save an "
                           "unprotected copy and ingest that")
                .arg(m_impl->what));
    const std::int64_t compressed = (stat.valid & ZIP_STAT_COMP_SIZE) ? static_cast<std::int64_t>(stat.comp_size) : 0;
    const ZipLimits &limits = m_impl->limits;
    auto tooLarge = [&](const QString &why) {
        return IngestFailure(IngestProblem::TooLarge,
            QStringLiteral("%1 expands too far (%2); a zip bomb is refused").arg(m_impl->what, why));
    };
    // The sizes the archive states may lie: they are checked, and then so is what really comes out.
    if ((stat.valid & ZIP_STAT_SIZE)
        && m_impl->unpacked + static_cast<std::int64_t>(stat.size) > limits.maxUnpackedBytes)
        throw tooLarge(
            QStringLiteral("%1 says it holds %2; the limit is %3")
                .arg(name, bytesText(static_cast<std::int64_t>(stat.size)), bytesText(limits.maxUnpackedBytes)));
    zip_file_t *file = zip_fopen_index(m_impl->zip, static_cast<zip_uint64_t>(index), 0);
    if (!file) {
        const int code = zip_error_code_zip(zip_get_error(m_impl->zip));
        if (code == ZIP_ER_NOPASSWD || code == ZIP_ER_WRONGPASSWD || code == ZIP_ER_ENCRNOTSUPP)
            throw IngestFailure(IngestProblem::Encrypted,
                QStringLiteral("%1 is encrypted and needs a password to open").arg(m_impl->what));
        throw IngestFailure(IngestProblem::Corrupt,
            QStringLiteral("%1 is damaged: its member %2 cannot be opened (zip: %3)")
                .arg(m_impl->what, name, zipError(code)));
    }
    const std::unique_ptr<zip_file_t, int (*)(zip_file_t *)> closer(file, &zip_fclose);
    QByteArray out;
    out.reserve(static_cast<qsizetype>(
        std::min<std::int64_t>((stat.valid & ZIP_STAT_SIZE) ? static_cast<std::int64_t>(stat.size) : 0, 64 << 20)));
    char buffer[1 << 16];
    for (;;) {
        const zip_int64_t n = zip_fread(file, buffer, sizeof buffer);
        if (n < 0) {
            const int code = zip_error_code_zip(zip_file_get_error(file));
            throw IngestFailure(IngestProblem::Corrupt,
                QStringLiteral("%1 is damaged: its member %2 does not unpack (zip: %3)")
                    .arg(m_impl->what, name, zipError(code)));
        }
        if (n == 0)
            break;
        out.append(buffer, static_cast<qsizetype>(n));
        m_impl->unpacked += n;
        if (m_impl->unpacked > limits.maxUnpackedBytes)
            throw tooLarge(QStringLiteral("more than %1 unpacked").arg(bytesText(limits.maxUnpackedBytes)));
        if (out.size() > limits.ratioFloor
            && static_cast<double>(out.size()) > limits.maxRatio * std::max<std::int64_t>(compressed, 1))
            throw tooLarge(QStringLiteral("its member %1 expands more than %2 times").arg(name).arg(limits.maxRatio));
    }
    return out;
}

} // namespace nw::ingest
