// Checked views of a model's tensors inside the GGUF mapping (no copies), by the names llama.cpp's
// llama-arch.cpp gives them ("blk.3.attn_q.weight"), and the record of which tensors a graph uses:
// a file that holds tensors no graph reads (a block_count lower than its layers, a stray tensor)
// is refused as llama.cpp's done_getting_tensors refuses it.
#pragma once

#include "kernels/backend_args.h"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

namespace nw {

class GgufFile;
struct TensorView;

class WeightLoader {
public:
    WeightLoader(const GgufFile &file, std::string arch);

    const GgufFile &file() const { return m_file; }

    // "blk.<layer>.<what>.<suffix>".
    static std::string layerName(std::int64_t layer, std::string_view what, std::string_view suffix = "weight");

    // A tensor checked against the expected GGUF shape (shape[0] = row length) and, when `types`
    // is not empty, its type; throws nw::Error "FILE: tensor 'NAME' has shape [..], expected [..]".
    // Marks it used. find() returns null when the file does not hold it.
    const TensorView *find(std::string_view name, std::initializer_list<std::int64_t> shape,
                           std::initializer_list<TensorType> types = {});
    const TensorView &require(std::string_view name, std::initializer_list<std::int64_t> shape,
                              std::initializer_list<TensorType> types = {});

    // A 2-D weight {cols, rows} as the backend's matmul takes it.
    WeightMatrix matrix(std::string_view name, std::int64_t cols, std::int64_t rows);
    WeightMatrix findMatrix(std::string_view name, std::int64_t cols, std::int64_t rows); // data null if absent
    // A 1-D f32 weight (norms, biases, sinks, rope factors); throws when it is not F32.
    const float *vector(std::string_view name, std::int64_t length);
    const float *findVector(std::string_view name, std::int64_t length); // null if absent
    // A 3-D expert tensor {cols, rows, nExperts} as its first expert's matrix [rows, cols]; the
    // next experts follow `expertStride` bytes apart (read in place from the mapping).
    WeightMatrix experts(std::string_view name, std::int64_t cols, std::int64_t rows, std::int64_t nExperts,
                         std::size_t &expertStride);

    // Bytes of the tensors marked used.
    std::uint64_t bytes() const { return m_bytes; }
    std::size_t usedCount() const { return m_used.size(); }

    // Throws nw::Error when the file holds a tensor that was not marked used and that `ignored`
    // (may be empty) does not accept: "FILE: wrong number of tensors; expected N, got M (first
    // unused: 'NAME')", N the file's count and M the graph's, as llama.cpp words it.
    void requireAllUsed(const std::function<bool(std::string_view)> &ignored) const;

private:
    const GgufFile &m_file;
    std::string m_arch;
    std::set<std::string, std::less<>> m_used;
    std::uint64_t m_bytes = 0;
};

} // namespace nw
