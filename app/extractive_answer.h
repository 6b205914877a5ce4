// The answer without a model: the best passages themselves, ranked, each quoted with its
// citation — so `ask` works with no weights at all, and every word of it is in a source.
#pragma once

#include "app/retriever.h"

#include <QString>

#include <vector>

namespace nw::app {

// "[1] GPL-3, p. 5, §6. Conveying Non-Source Forms\n    "You may convey ..."\n\n[2] ..."; a
// sentence saying nothing matched when `passages` is empty.
QString extractiveAnswer(const std::vector<Passage> &passages, int maxPassages = 3);

} // namespace nw::app
