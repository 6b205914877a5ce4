// `needlework tokenize`: shows how a model's tokenizer splits a text — ids and pieces — reading
// only the vocabulary from the GGUF file, so prompts and chat templates can be checked quickly.
#include "app/commands/commands.h"

#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/tokenizer.h"
#include "engine/unicode.h"

#include <nlohmann/json.hpp>

#include <QFile>

#include <fmt/format.h>

namespace nw::app {
namespace {

// A piece as text a terminal or JSON can carry: byte tokens may hold part of a UTF-8 sequence,
// those bytes (and control characters) are written as \xNN / \n / \t.
std::string displayPiece(std::string_view piece)
{
    std::string out;
    for (std::size_t offset = 0; offset < piece.size();) {
        const unicode::Decoded d = unicode::decodeUtf8(piece, offset);
        const bool malformed = d.cp == 0xFFFD && d.bytes == 1;
        if (malformed || d.cp < 0x20 || d.cp == 0x7F) {
            if (d.cp == '\n')
                out += "\\n";
            else if (d.cp == '\t')
                out += "\\t";
            else if (d.cp == '\r')
                out += "\\r";
            else
                out += fmt::format("\\x{:02X}", static_cast<unsigned char>(piece[offset]));
        } else if (d.cp == '\\') {
            out += "\\\\";
        } else {
            out.append(piece.substr(offset, d.bytes));
        }
        offset += d.bytes;
    }
    return out;
}

int runTokenize(const QCommandLineParser &parser, CommandIo &io)
{
    const QString modelPath = parser.value(QStringLiteral("model"));
    if (modelPath.isEmpty()) {
        io.err << "needlework tokenize: --model M.gguf is required (see 'needlework tokenize --help')\n";
        return ExitUsage;
    }
    // Standard input is read as bytes, not decoded: the tokenizer sees exactly what was given,
    // invalid UTF-8 included (SentencePiece vocabularies keep such bytes as byte tokens, as
    // llama.cpp does; byte-level BPE replaces them with U+FFFD, as llama.cpp does too).
    std::string utf8 = parser.positionalArguments().join(QLatin1Char(' ')).toStdString();
    if (utf8 == "-") {
        QFile in;
        if (!in.open(stdin, QIODevice::ReadOnly))
            fail("cannot read the text from standard input");
        utf8 = in.readAll().toStdString();
    } else if (parser.positionalArguments().isEmpty()) {
        io.err << "needlework tokenize: no TEXT given (see 'needlework tokenize --help')\n";
        return ExitUsage;
    }

    const auto file = GgufFile::open(modelPath.toStdString());
    const auto tokenizer = Tokenizer::fromGguf(*file);
    const std::vector<std::int32_t> ids = tokenizer->encode(utf8, !parser.isSet(QStringLiteral("no-bos")),
                                                            parser.isSet(QStringLiteral("parse-special")));

    if (parser.isSet(QStringLiteral("json"))) {
        nlohmann::json pieces = nlohmann::json::array();
        for (const std::int32_t id : ids)
            pieces.push_back(displayPiece(tokenizer->tokenPiece(id, true)));
        const nlohmann::json result = {{"ids", ids}, {"pieces", pieces}};
        io.out << QString::fromStdString(result.dump()) << '\n';
        return ExitOk;
    }
    const int width = static_cast<int>(std::to_string(std::max(tokenizer->nVocab() - 1, 0)).size());
    for (const std::int32_t id : ids)
        io.out << QString::number(id).rightJustified(width) << "  '"
               << QString::fromStdString(displayPiece(tokenizer->tokenPiece(id, true))) << "'\n";
    io.out << ids.size() << (ids.size() == 1 ? " token\n" : " tokens\n");
    return ExitOk;
}

} // namespace

Command tokenizeCommand()
{
    return {
        .name = QStringLiteral("tokenize"),
        .summary = QStringLiteral("Show the token ids and pieces a model's tokenizer makes of a text."),
        .usage = QStringLiteral("--model M.gguf TEXT [--json] [--no-bos] [--parse-special]"),
        .description = QStringLiteral(
            "Tokenizes TEXT (or standard input when TEXT is '-') with the vocabulary of a GGUF model "
            "(SentencePiece-style or byte-level BPE, from tokenizer.ggml.* metadata; no weights are "
            "read) and prints each id with its piece. Pieces show bytes that are not whole UTF-8 "
            "characters as \\xNN."),
        .configure =
            [](QCommandLineParser &parser) {
                parser.addOption({QStringLiteral("model"), QStringLiteral("The GGUF model whose vocabulary to use."),
                                  QStringLiteral("M.gguf")});
                parser.addOption({QStringLiteral("no-bos"),
                                  QStringLiteral("Do not add the BOS/EOS tokens the vocabulary asks for.")});
                parser.addOption({QStringLiteral("parse-special"),
                                  QStringLiteral("Turn control tokens written in the text (<|eot_id|>) into their ids.")});
                addJsonOption(parser);
                parser.addPositionalArgument(QStringLiteral("TEXT"), QStringLiteral("The text to tokenize ('-': standard input)."));
            },
        .run = runTokenize,
    };
}

} // namespace nw::app
