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
// JSON and CSV (as exportAnnotations writes them); throws nw::Error naming the line or field.
std::vector<store::Annotation> parseAnnotations(const QByteArray &data, AnnotationFormat format);

} // namespace nw::app
