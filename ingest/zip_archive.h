// Reading members of a zip archive (the container of .docx and .odt files) through libzip, with
// the limits that keep a hostile archive from filling memory: what all members read from one
// archive may expand to, and how far one member may expand beyond its compressed size (a zip
// bomb expands 1,000 to 1,000,000 times). libzip stays behind this header (zip_archive.cpp is the
// one file that includes it).
#pragma once

#include "ingest/ingest_error.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <cstdint>
#include <memory>
#include <optional>

namespace nw::ingest {

struct ZipLimits {
    std::int64_t maxUnpackedBytes = std::int64_t(256) << 20; // all members read from one archive
    double maxRatio = 200; // uncompressed / compressed, for one member ...
    std::int64_t ratioFloor = 1 << 20; // ... once it has expanded past this (small members compress far)
};

class ZipArchive {
public:
    // The archive in `bytes` (kept by the object). `what` names the file in messages ("the Word
    // document"). Throws IngestFailure: Truncated (a zip whose directory at the end is missing),
    // Corrupt (not a zip, or a damaged one).
    ZipArchive(QByteArray bytes, const QString &what, ZipLimits limits = {});
    ~ZipArchive();
    ZipArchive(const ZipArchive &) = delete;
    ZipArchive &operator=(const ZipArchive &) = delete;

    bool contains(const QString &name) const;
    // The member `name` uncompressed; nullopt when there is none. Throws IngestFailure: TooLarge
    // past the limits, Encrypted for an encrypted member, Corrupt when it does not inflate or its
    // checksum is wrong.
    std::optional<QByteArray> read(const QString &name);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

QString libzipVersion();

} // namespace nw::ingest
