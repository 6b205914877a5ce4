// `needlework library`: what the library holds (documents, pages, collections, ingest errors),
// and `needlework library remove ID...` to take documents out.
#include "app/commands/commands.h"

#include "common/error.h"
#include "store/library_store.h"

#include <nlohmann/json.hpp>

#include <QFileInfo>
#include <QLocale>

#include <cmath>
#include <functional>
#include <map>
#include <set>

namespace nw::app {
namespace {

nlohmann::json documentJson(const store::DocumentInfo &d)
{
    nlohmann::json collections = nlohmann::json::array();
    for (const QString &c : d.collections)
        collections.push_back(c.toStdString());
    nlohmann::json j = { { "id", d.id }, { "title", d.title.toStdString() }, { "path", d.path.toStdString() },
        { "kind", d.kind.toStdString() }, { "sha256", d.sha256.toStdString() }, { "pages", d.pageCount },
        { "bytes", d.bytes }, { "author", d.author.toStdString() }, { "created", d.created.toStdString() },
        { "added", d.added.toStdString() }, { "status", d.status.toStdString() }, { "collections", collections },
        // How the text was obtained: pages recognised by OCR and their mean confidence (0..100).
        { "ocr_pages", d.ocrPages },
        { "ocr_confidence",
            d.ocrConfidence >= 0 ? nlohmann::json(std::round(d.ocrConfidence * 10) / 10) : nlohmann::json() } };
    if (!d.part.isEmpty()) {
        j["part"] = d.part.toStdString();
        j["file_sha256"] = d.fileSha256.toStdString();
    }
    if (d.parentId != 0)
        j["parent_id"] = d.parentId;
    if (d.message)
        j["email"] = { { "from", d.message->from.toStdString() }, { "to", d.message->to.toStdString() },
            { "cc", d.message->cc.toStdString() }, { "date", d.message->date.toStdString() },
            { "subject", d.message->subject.toStdString() }, { "message_id", d.message->messageId.toStdString() },
            { "in_reply_to", d.message->inReplyTo.toStdString() }, { "thread", d.message->threadId.toStdString() } };
    return j;
}

// "OCR 12 of 40 pages, 91%", "" when no page was recognised.
QString ocrNote(const store::DocumentInfo &d)
{
    if (d.ocrPages == 0)
        return {};
    return QStringLiteral("OCR %1 of %2 pages, %3%").arg(d.ocrPages).arg(d.pageCount).arg(std::lround(d.ocrConfidence));
}

// The order documents are listed in: by id, except that the messages of a thread follow the
// first of them (oldest first), and attachments follow their message, indented.
std::vector<std::pair<const store::DocumentInfo *, int>> listingOrder(const std::vector<store::DocumentInfo> &documents)
{
    std::map<std::int64_t, std::vector<const store::DocumentInfo *>> children;
    std::map<QString, std::vector<const store::DocumentInfo *>> threads;
    std::set<std::int64_t> present;
    for (const store::DocumentInfo &d : documents)
        present.insert(d.id);
    for (const store::DocumentInfo &d : documents) {
        if (d.parentId != 0 && present.count(d.parentId))
            children[d.parentId].push_back(&d);
        else if (d.message && !d.message->threadId.isEmpty())
            threads[d.message->threadId].push_back(&d);
    }
    for (auto &[id, thread] : threads)
        std::stable_sort(thread.begin(), thread.end(), [](const store::DocumentInfo *a, const store::DocumentInfo *b) {
            return a->message->date < b->message->date;
        });
    std::vector<std::pair<const store::DocumentInfo *, int>> order;
    std::set<QString> listedThreads;
    std::function<void(const store::DocumentInfo *, int)> add = [&](const store::DocumentInfo *d, int depth) {
        order.emplace_back(d, depth);
        for (const store::DocumentInfo *child : children[d->id])
            add(child, depth + 1);
    };
    for (const store::DocumentInfo &d : documents) {
        if (d.parentId != 0 && present.count(d.parentId))
            continue;
        if (d.message && !d.message->threadId.isEmpty()) {
            if (!listedThreads.insert(d.message->threadId).second)
                continue;
            for (const store::DocumentInfo *m : threads[d.message->threadId])
                add(m, 0);
            continue;
        }
        add(&d, 0);
    }
    return order;
}

int listLibrary(store::LibraryStore &library, const QString &collection, bool json, CommandIo &io)
{
    const std::vector<store::DocumentInfo> documents = library.documents(collection);
    const std::vector<store::IngestErrorRecord> errors = library.ingestErrors();
    if (json) {
        nlohmann::json docs = nlohmann::json::array();
        for (const store::DocumentInfo &d : documents)
            docs.push_back(documentJson(d));
        nlohmann::json errs = nlohmann::json::array();
        for (const store::IngestErrorRecord &e : errors)
            errs.push_back({ { "path", e.path.toStdString() }, { "problem", e.kind.toStdString() },
                { "reason", e.reason.toStdString() }, { "at", e.at.toStdString() } });
        nlohmann::json cols = nlohmann::json::array();
        for (const store::CollectionInfo &c : library.collections())
            cols.push_back({ { "name", c.name.toStdString() }, { "documents", c.documentCount } });
        const store::LibraryStats stats = library.stats();
        io.out << QString::fromStdString(nlohmann::json { { "database", library.path().toStdString() },
            { "documents", docs }, { "pages", stats.pages }, { "collections", cols },
            { "errors", errs } }.dump(2))
               << '\n';
        return ExitOk;
    }
    const QLocale c = QLocale::c();
    std::int64_t pages = 0;
    io.out << QStringLiteral("%1  %2  %3  %4\n")
                  .arg(QStringLiteral("ID"), 5)
                  .arg(QStringLiteral("PAGES"), 6)
                  .arg(QStringLiteral("STATUS"), -7)
                  .arg(QStringLiteral("TITLE / PATH"));
    for (const auto &[d, depth] : listingOrder(documents)) {
        pages += d->pageCount;
        const QString indent(2 * depth, QLatin1Char(' '));
        QString title = indent + d->title;
        if (!d->collections.isEmpty())
            title += QStringLiteral("  {") + d->collections.join(QStringLiteral(", ")) + QLatin1Char('}');
        io.out << QStringLiteral("%1  %2  %3  %4\n")
                      .arg(d->id, 5)
                      .arg(c.toString(d->pageCount), 6)
                      .arg(d->status, -7)
                      .arg(title);
        const QString margin = QString(24, QLatin1Char(' ')) + indent;
        if (d->message)
            io.out << margin << d->message->date.left(10) << "  " << d->message->from << '\n';
        if (const QString note = ocrNote(*d); !note.isEmpty())
            io.out << margin << note << '\n';
        io.out << margin << d->path << (d->part.isEmpty() ? QString() : QStringLiteral(" › ") + d->part) << '\n';
    }
    io.out << documents.size() << " documents, " << c.toString(static_cast<qlonglong>(pages)) << " pages";
    if (!collection.isEmpty())
        io.out << " in collection " << collection;
    io.out << '\n';
    if (!errors.empty()) {
        io.out << "\n" << errors.size() << " files or parts could not be ingested:\n";
        for (const store::IngestErrorRecord &e : errors)
            io.out << "  " << e.path << ": " << e.reason << '\n';
    }
    return ExitOk;
}

} // namespace

Command libraryCommand()
{
    return {
        .name = QStringLiteral("library"),
        .summary = QStringLiteral("List the library's documents and ingest errors; 'library remove ID' removes one."),
        .usage = QStringLiteral("[remove ID...] [--db FILE] [--collection NAME] [--json]"),
        .description
        = QStringLiteral("Without arguments, lists every document (id, pages, status, title, path, collections; for an "
                         "email its date and sender, for a scan how many pages were recognised by OCR and with what "
                         "mean confidence) and the files that could not be ingested, with the reason. The messages "
                         "of a thread are listed together, and attachments under their message. 'remove ID...' deletes "
                         "documents with "
                         "their pages and index entries.\n\nExit status: 0 on success, 1 when an ID is not in the "
                         "library or the library or output cannot be read or written, 2 for a usage error."),
        .configure =
            [](QCommandLineParser &parser) {
                addDatabaseOption(parser);
                parser.addOption({ QStringLiteral("collection"), QStringLiteral("Only documents in this collection."),
                    QStringLiteral("NAME") });
                addJsonOption(parser);
                parser.addPositionalArgument(QStringLiteral("remove"), QStringLiteral("Remove documents by id."),
                    QStringLiteral("[remove ID...]"));
            },
        .run =
            [](const QCommandLineParser &parser, CommandIo &io) {
                const QStringList args = parser.positionalArguments();
                const bool json = parser.isSet(QStringLiteral("json"));
                if (!args.isEmpty() && args.first() != QLatin1String("remove")) {
                    io.err << "needlework library: unknown action '" << args.first()
                           << "' (use 'remove ID...', see 'needlework library --help')\n";
                    return static_cast<int>(ExitUsage);
                }
                std::vector<std::int64_t> ids;
                for (const QString &arg : args.mid(1)) {
                    bool ok = false;
                    const qlonglong id = arg.toLongLong(&ok);
                    if (!ok || id <= 0) {
                        io.err << "needlework library: remove needs document ids (numbers), not '" << arg << "'\n";
                        return static_cast<int>(ExitUsage);
                    }
                    ids.push_back(id);
                }
                if (!args.isEmpty() && ids.empty()) {
                    io.err << "needlework library: remove needs at least one document id\n";
                    return static_cast<int>(ExitUsage);
                }
                // Listing only reads; removing needs a library that is there (and may upgrade it).
                if (!ids.empty() && !QFileInfo::exists(databasePath(parser)))
                    fail("there is no library at {}", databasePath(parser).toStdString());
                const auto opened = openLibrary(
                    parser, ids.empty() ? store::LibraryAccess::ReadOnly : store::LibraryAccess::ReadWrite);
                store::LibraryStore &library = *opened;
                if (ids.empty())
                    return listLibrary(library, parser.value(QStringLiteral("collection")), json, io);

                int exit = ExitOk;
                nlohmann::json removed = nlohmann::json::array();
                for (std::int64_t id : ids) {
                    const std::optional<store::DocumentInfo> d = library.findDocument(id);
                    if (!d || !library.removeDocument(id)) {
                        io.err << "needlework library: no document with id " << id << " (see 'needlework library')\n";
                        exit = ExitFailed;
                        continue;
                    }
                    removed.push_back(id);
                    if (!json)
                        io.out << "Removed " << id << ": " << d->title << " (" << d->pageCount << " pages)\n";
                }
                if (json)
                    io.out << QString::fromStdString(nlohmann::json { { "removed", removed } }.dump(2)) << '\n';
                return exit;
            },
    };
}

} // namespace nw::app
