// Word boxes on demand: the boxes of one page, from the word_boxes cache or, when the ingest did
// not store them (the default, see store/README.md), extracted from the PDF now (~9 ms a page
// measured) and cached for next time.
#pragma once

#include "store/library_store.h"

#include <vector>

namespace nw::ingest {

// Throws nw::Error when the page does not exist, or when the document's file is gone or
// changed since it was ingested (then its boxes cannot be known). Text documents have none.
std::vector<store::WordBox> pageWordBoxes(store::LibraryStore &store, std::int64_t documentId, int pageNumber);

} // namespace nw::ingest
