// Formats ranked passages as a quoted, cited answer.
#include "app/extractive_answer.h"

#include <QFileInfo>

#include <algorithm>

namespace nw::app {

QString extractiveAnswer(const std::vector<Passage> &passages, int maxPassages)
{
    if (passages.empty())
        return QStringLiteral("No passage in the selected documents matches the question.");
    QString out;
    const int n = std::min(maxPassages, static_cast<int>(passages.size()));
    for (int i = 0; i < n; ++i) {
        const Citation &c = passages[static_cast<std::size_t>(i)].citation;
        if (i > 0)
            out += QStringLiteral("\n\n");
        out += QStringLiteral("[%1] %2\n    \u201C%3\u201D").arg(i + 1).arg(citationLabel(c), c.quote.simplified());
    }
    return out;
}

} // namespace nw::app
