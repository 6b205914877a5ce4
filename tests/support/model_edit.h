// Model files edited for refusal tests: a GGUF model rewritten with changed metadata or without
// a tensor, and the one-line error loading it gives.
#pragma once

#include "common/error.h"
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "engine/model.h"

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nw::test {

// `file` rewritten: metadata through `edit` (after the copy), without tensor `drop`.
inline std::vector<std::byte> rewrittenModel(
    const GgufFile &file, const std::function<void(GgufWriter &)> &edit, std::string_view drop = {})
{
    GgufWriter w(file.alignment());
    for (const auto &[key, value] : file.metadata())
        w.setValue(key, *file.findValueType(key), value);
    edit(w);
    for (const TensorView &t : file.tensors())
        if (t.name != drop)
            w.addTensor(t.name, t.type, t.shape, { t.data, t.bytes });
    return w.toBytes();
}

// The error loading `bytes` gives (checked to be one line), or "" when the model loads.
inline std::string modelLoadError(const std::vector<std::byte> &bytes)
{
    try {
        loadModel(std::shared_ptr<const GgufFile>(GgufFile::fromMemory(bytes, "t.gguf")), { .threads = 1 });
    } catch (const Error &e) {
        const std::string message = e.what();
        CHECK(message.find('\n') == std::string::npos);
        MESSAGE(message);
        return message;
    }
    return {};
}

} // namespace nw::test
