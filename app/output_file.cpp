// Checked output: regular files through QSaveFile, pipes and devices in place, stdout to the end.
#include "app/output_file.h"

#include "common/error.h"

#include <QFile>
#include <QFileDevice>
#include <QFileInfo>
#include <QSaveFile>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nw::app {
namespace {

[[noreturn]] void cannotWrite(const QString &path, const QString &reason)
{
    fail("cannot write {}: {}", path.toStdString(), reason.toStdString());
}

void saveThroughTemporary(const QString &path, const QByteArray &bytes)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
        cannotWrite(path, file.errorString());
}

// No O_CREAT: this never makes a regular file where there was none; no O_TRUNC: a FIFO or a
// device has nothing to truncate. Returns false when the path became a regular file since it
// was looked at (then the caller saves through a temporary file after all).
bool writeInPlace(const QString &path, const QByteArray &bytes)
{
    const int fd = ::open(QFile::encodeName(path).constData(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        cannotWrite(path, QString::fromLocal8Bit(std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        ::close(fd);
        return false;
    }
    for (qsizetype done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.constData() + done, static_cast<std::size_t>(bytes.size() - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const int error = n < 0 ? errno : EIO;
            ::close(fd);
            cannotWrite(path, QString::fromLocal8Bit(std::strerror(error)));
        }
        done += n;
    }
    if (::close(fd) != 0 && errno != EINTR)
        cannotWrite(path, QString::fromLocal8Bit(std::strerror(errno)));
    return true;
}

} // namespace

void writeOutputFile(const QString &path, const QByteArray &bytes)
{
    struct stat st {};
    if (::stat(QFile::encodeName(path).constData(), &st) != 0) {
        if (errno != ENOENT)
            cannotWrite(path, QString::fromLocal8Bit(std::strerror(errno)));
        saveThroughTemporary(path, bytes); // a new file
        return;
    }
    if (S_ISREG(st.st_mode)) {
        // Through a symlink, the file it names is replaced and the link kept.
        saveThroughTemporary(QFileInfo(path).canonicalFilePath(), bytes);
        return;
    }
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        if (!writeInPlace(path, bytes))
            saveThroughTemporary(QFileInfo(path).canonicalFilePath(), bytes);
        return;
    }
    cannotWrite(path, S_ISDIR(st.st_mode) ? QStringLiteral("it is a folder")
                                          : QStringLiteral("it is not a regular file, a FIFO or a character device"));
}

QString finishStandardOutput(QTextStream &out)
{
    out.flush();
    auto *file = qobject_cast<QFileDevice *>(out.device());
    if (out.status() != QTextStream::Ok)
        return file && file->error() != QFileDevice::NoError ? file->errorString() : QStringLiteral("the write failed");
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
        return QString::fromLocal8Bit(std::strerror(errno != 0 ? errno : EIO));
    // A close reports what NFS and some FUSE filesystems could not write; the descriptor itself
    // stays open for the exit's own (unchecked) close.
    const int duplicate = ::dup(STDOUT_FILENO);
    if (duplicate >= 0 && ::close(duplicate) != 0 && errno != EINTR)
        return QString::fromLocal8Bit(std::strerror(errno));
    return {};
}

} // namespace nw::app
