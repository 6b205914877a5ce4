// Where command output lands, with every write, flush and close checked: standard output, or the
// file given with --output. A lost export is an error that exits non-zero, never a silent 0.
#pragma once

#include <QByteArray>
#include <QString>
#include <QTextStream>

namespace nw::app {

// Writes `bytes` to `path`. A new path or a regular file (through a symlink too) is written
// through a temporary file in the same folder and renamed over it (QSaveFile), so a reader never
// sees half an export. A FIFO or a character device (/dev/null, /dev/stdout on a pipe, a
// terminal, the pipe of a shell's >(...)) is written in place, as a shell's `>` would: renaming
// a regular file over it would replace the pipe or device by that file (as root, /dev/null
// itself). Anything else (a folder, a block device, a socket) is refused. Throws nw::Error, one
// line naming the path and the reason.
void writeOutputFile(const QString &path, const QByteArray &bytes);

// Flushes `out` (the commands' QTextStream on standard output) through to the file descriptor
// and checks every step: the stream's writes, stdio's buffer, and a close of a duplicate of the
// descriptor (where NFS reports a write it could not make). Returns "" or the reason the output
// was lost ("No space left on device").
QString finishStandardOutput(QTextStream &out);

} // namespace nw::app
