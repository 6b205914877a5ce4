// Needle sets: the bundled ones (Qt resource :/needles, see app/CMakeLists.txt) and JSON files.
#include "app/needle_set.h"

#include "common/error.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <nlohmann/json.hpp>

namespace nw::app {

QStringList bundledNeedleSetNames()
{
    QStringList names { QString::fromUtf8(kPassKeySetName.data(), static_cast<qsizetype>(kPassKeySetName.size())) };
    for (const QString &file :
        QDir(QStringLiteral(":/needles")).entryList({ QStringLiteral("*.json") }, QDir::Files, QDir::Name))
        names << QFileInfo(file).completeBaseName();
    return names;
}

NeedleSet loadNeedleSet(const QString &nameOrPath)
{
    if (nameOrPath.toStdString() == kPassKeySetName)
        return {};
    const QString bundled = QStringLiteral(":/needles/%1.json").arg(nameOrPath);
    const bool isBundled = !nameOrPath.contains(QLatin1Char('/')) && QFile::exists(bundled);
    QFile file(isBundled ? bundled : nameOrPath);
    if (!file.open(QIODevice::ReadOnly))
        fail("cannot read the needle set {}: {} (bundled sets: {})", nameOrPath.toStdString(),
            file.errorString().toStdString(), bundledNeedleSetNames().join(QStringLiteral(", ")).toStdString());
    NeedleSet set = parseNeedleSet(file.readAll(), nameOrPath);
    if (set.name.empty())
        set.name = QFileInfo(nameOrPath).completeBaseName().toStdString();
    return set;
}

NeedleSet parseNeedleSet(const QByteArray &json, const QString &source)
{
    const std::string where = source.toStdString();
    const nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        fail("{}: a needle set is a JSON object {{\"name\": ..., \"needles\": [...]}}", where);
    NeedleSet set;
    set.name.clear();
    if (const auto name = doc.find("name"); name != doc.end() && name->is_string())
        set.name = name->get<std::string>();
    const auto needles = doc.find("needles");
    if (needles == doc.end() || !needles->is_array() || needles->empty())
        fail("{}: \"needles\" must be a non-empty array", where);
    for (std::size_t i = 0; i < needles->size(); ++i) {
        const nlohmann::json &entry = (*needles)[i];
        auto field = [&](const char *key) {
            const auto it = entry.is_object() ? entry.find(key) : entry.end();
            if (it == entry.end() || !it->is_string() || it->get<std::string>().empty())
                fail("{}: needle {} has no \"{}\" (each needs \"needle\", \"question\" and \"answer\")", where, i + 1,
                    key);
            return it->get<std::string>();
        };
        set.needles.push_back(
            { .sentence = field("needle"), .question = field("question"), .answer = field("answer") });
    }
    if (set.name == kPassKeySetName)
        fail("{}: \"{}\" is the name of the pass-key needles; give the set another name", where, kPassKeySetName);
    return set;
}

} // namespace nw::app
