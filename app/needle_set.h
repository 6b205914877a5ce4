// Needle sets: what the needle harness plants and asks. The default is the pass-key needles
// ("The pass key for KEY is VALUE.", drawn per trial, app/needle_haystack.h); a set read from a
// JSON file, or bundled and chosen by name, lists fixed needles, each a sentence to plant, the
// question and the expected answer. The bundled `nolima` set follows NoLiMa (Modarressi et al.,
// 2025): no question shares a content word with its needle, so finding the needle takes more
// than matching the question's words, which literal needles let a model do.
#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <string>
#include <string_view>
#include <vector>

namespace nw::app {

struct NeedleText {
    std::string sentence; // planted in the haystack
    std::string question; // asked after it
    std::string answer; // what a correct answer says
};

inline constexpr std::string_view kPassKeySetName = "passkey";

struct NeedleSet {
    std::string name { kPassKeySetName }; // recorded in results.json and shown on the heatmaps
    std::vector<NeedleText> needles; // empty: the pass-key needles

    bool isPassKey() const { return needles.empty(); }
};

// The names `loadNeedleSet` takes without a path: "passkey" and the sets in resources/needles/.
QStringList bundledNeedleSetNames();

// A bundled name gives that set; anything else is read as a JSON file of this form:
//   {"name": "my-set", "needles": [{"needle": "SENTENCE", "question": "QUESTION", "answer": "ANSWER"}, ...]}
// ("name" defaults to the file's base name). Throws nw::Error naming the file, and the entry when
// one lacks a field or has an empty one.
NeedleSet loadNeedleSet(const QString &nameOrPath);
NeedleSet parseNeedleSet(const QByteArray &json, const QString &source);

} // namespace nw::app
