// The plain values the workbench hands its front ends about the library: documents, pages, word
// boxes, search hits, annotations, session turns and ingest progress. They are store/'s and
// ingest/'s own structs, re-exported: the window shows them and never reaches those modules.
#pragma once

#include "ingest/ingestor.h"
#include "store/annotation_store.h"
#include "store/library_store.h"
#include "store/search_service.h"
#include "store/session_store.h"
#include "store/word_boxes.h"

namespace nw::app {

using DocumentInfo = store::DocumentInfo;
using PageRecord = store::PageRecord;
using WordBox = store::WordBox;
using CollectionInfo = store::CollectionInfo;
using IngestErrorRecord = store::IngestErrorRecord;
using LibraryStats = store::LibraryStats;
using SearchOptions = store::SearchOptions;
using SearchHit = store::SearchHit;
using Annotation = store::Annotation;
using AnnotationFilter = store::AnnotationFilter;
using SessionRecord = store::SessionRecord;
using TurnRecord = store::TurnRecord;
using IngestOptions = ingest::IngestOptions;
using IngestProgress = ingest::IngestProgress;
using IngestSummary = ingest::IngestSummary;

} // namespace nw::app
