// Annotations in and out of the library: JSON (lossless, for import), CSV (spreadsheets) and
// Markdown (reading); an import matches documents by content hash, so annotations made on one
// machine land on the same pages of the same files anywhere.
#pragma once

#include "store/annotation_store.h"

#include <QByteArray>
#include <QString>

#include <vector>

namespace nw::app {

enum class AnnotationFormat { Json, Csv, Markdown };
AnnotationFormat parseAnnotationFormat(const QString &name); // json|csv|md; throws nw::Error

QByteArray exportAnnotations(const std::vector<store::Annotation> &annotations, AnnotationFormat format);
// JSON and CSV (as exportAnnotations writes them), strictly: a field of the wrong type (page 1.5,
// tags "x"), an unknown JSON field, or a CSV field over 1 MiB throws nw::Error naming the record
// (or line) and the field; values in messages have their control characters escaped. The store
// checks the rest (store::AnnotationLimits, dates) when importing.
std::vector<store::Annotation> parseAnnotations(const QByteArray &data, AnnotationFormat format);

} // namespace nw::app
