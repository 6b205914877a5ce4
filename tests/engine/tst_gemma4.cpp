// Gemma 4 metadata the engine refuses rather than computes with: found by the engine-instrumented
// fuzz_model campaign (a per-layer input width near 2^62 times the layer count overflowed).
#include "engine/gguf_file.h"
#include "engine/gguf_writer.h"
#include "tests/support/model_edit.h"
#include "tests/support/test_data.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

using namespace nw;

TEST_CASE("gemma4 refuses a per-layer input width out of range, in one line")
{
    const auto file = GgufFile::open(test::sourceDir() / "tests/data/models/gemma4-e2b-q8_0.gguf");
    CHECK(test::modelLoadError(test::rewrittenModel(*file, [](GgufWriter &) {})).empty()); // as written, it loads
    for (const std::int64_t width : { std::int64_t(-4702317632429251872), std::int64_t(-1), std::int64_t(1) << 17,
             std::numeric_limits<std::int64_t>::max() }) {
        CAPTURE(width);
        const std::string message = test::modelLoadError(test::rewrittenModel(
            *file, [width](GgufWriter &w) { w.setInt64("gemma4.embedding_length_per_layer_input", width); }));
        CHECK(message.find("embedding_length_per_layer_input") != std::string::npos);
    }
}
