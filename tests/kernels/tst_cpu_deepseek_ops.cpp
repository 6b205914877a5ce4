// The DeepSeek V3.2 / V4 ops of the CPU backend against plain double-precision references:
// sparse attention over two paged sources (a row range and a row list, shared K/V rows, sinks,
// F32 / F16 / Q8_0 / Q4_0 rows), the lightning indexer's scores and top-k, the compressor's softmax
// pooling (with and without the previous block's half), hyper-connection weights (Sinkhorn) and
// stream reads / writes, the clamped SwiGLU, LayerNorm, and sqrt-softplus / hash routing. Every
// cache byte an op must not read is NaN, and block tables are scrambled.
#include "common/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/quantize.h"
#include "kernels/float16.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace {

// A paged store of `rows` rows of `width` elements (one shared K/V row per token), with spare
// NaN blocks and a scrambled table; `values` keeps what each row decodes to.
struct PagedRows {
    nw::TensorType type;
    int width;
    int blockSize = 8;
    std::vector<std::byte> blocks;
    std::vector<std::int32_t> table;
    std::vector<float> values; // [rows, width], as stored (rounded)
    std::size_t rowStride = 0;

    PagedRows(nw::TensorType t, int w, int rows, std::mt19937 &rng)
        : type(t)
        , width(w)
    {
        const int nUsed = (rows + blockSize - 1) / blockSize;
        const int nBlocks = (nUsed + 3) % 5 != 0 ? nUsed + 3 : nUsed + 4; // spare NaN blocks; the map a permutation
        rowStride = nw::rowBytes(type, std::size_t(width)) + 8;
        blocks.assign(rowStride * std::size_t(blockSize) * std::size_t(nBlocks), std::byte { 0xff }); // NaN
        for (int b = 0; b < nUsed; ++b)
            table.push_back((b * 5 + 2) % nBlocks);
        std::normal_distribution<float> value(0.f, 1.f);
        values.resize(std::size_t(rows) * width);
        std::vector<float> row(static_cast<std::size_t>(width));
        for (int r = 0; r < rows; ++r) {
            for (float &x : row)
                x = value(rng);
            std::byte *dst = blocks.data() + std::size_t(table[std::size_t(r / blockSize)]) * rowStride * blockSize
                + std::size_t(r % blockSize) * rowStride;
            if (type == nw::TensorType::F32)
                std::memcpy(dst, row.data(), row.size() * 4);
            else
                nw::quantizeRow(type, row.data(), dst, row.size()); // F16, Q8_0
            nw::dequantizeRow(type, dst, values.data() + std::size_t(r) * width, row.size());
        }
    }

    nw::KvLayerView view(int vDim)
    {
        nw::KvLayerView kv;
        kv.type = type;
        kv.blockSize = blockSize;
        kv.blockTable = table.data();
        kv.kBlocks = blocks.data();
        kv.kBlockStride = rowStride * blockSize;
        kv.kRowStride = rowStride;
        kv.vBlocks = kv.kBlocks;
        kv.vBlockStride = kv.kBlockStride;
        kv.vRowStride = rowStride;
        kv.nKvHeads = 1;
        kv.kHeadDim = width;
        kv.vHeadDim = vDim;
        return kv;
    }
};

std::vector<float> randomVector(std::size_t n, std::mt19937 &rng, float std = 1.f)
{
    std::normal_distribution<float> value(0.f, std);
    std::vector<float> v(n);
    for (float &x : v)
        x = value(rng);
    return v;
}

void sparseCase(nw::TensorType type, int threads, bool sinks)
{
    CAPTURE(nw::tensorTypeName(type));
    CAPTURE(threads);
    CAPTURE(sinks);
    std::mt19937 rng(42);
    const int nHeads = 6, dim = 64, vDim = 32, nTokens = 5, windowRows = 150, entries = 40, maxRows = 12;
    PagedRows window(type, dim, windowRows, rng), compressed(type, dim, entries, rng);
    const std::vector<float> q = randomVector(std::size_t(nTokens) * nHeads * dim, rng, 0.3f);
    const std::vector<float> sink = randomVector(nHeads, rng);
    // Query t reads window rows [first, end) (one more than a 64-row chunk for t = 0) and a list
    // of compressed entries with unused slots.
    std::vector<std::int32_t> first(nTokens), end(nTokens), rows(std::size_t(nTokens) * maxRows, -1);
    for (int t = 0; t < nTokens; ++t) {
        first[t] = t * 20;
        end[t] = t == 0 ? 70 + 1 : t * 20 + 30 + t;
        for (int i = 0; i < maxRows - t; ++i)
            rows[std::size_t(t) * maxRows + i] = (i * 7 + t * 3) % entries;
    }
    end[nTokens - 1] = first[nTokens - 1]; // an empty range
    nw::SparseAttentionArgs a;
    a.q = q.data();
    std::vector<float> out(std::size_t(nTokens) * nHeads * vDim, std::numeric_limits<float>::quiet_NaN());
    a.out = out.data();
    a.nTokens = nTokens;
    a.nHeads = nHeads;
    a.scale = 0.125f;
    a.sinks = sinks ? sink.data() : nullptr;
    a.sources[0].kv = window.view(vDim);
    a.sources[0].first = first.data();
    a.sources[0].end = end.data();
    a.sources[1].kv = compressed.view(vDim);
    a.sources[1].rows = rows.data();
    a.sources[1].maxRows = maxRows;
    a.nSources = 2;
    auto backend = nw::makeCpuBackend(threads);
    backend->sparseAttention(a);

    double worst = 0;
    for (int t = 0; t < nTokens; ++t)
        for (int h = 0; h < nHeads; ++h) {
            std::vector<const float *> rowsSeen;
            for (int j = first[t]; j < end[t]; ++j)
                rowsSeen.push_back(window.values.data() + std::size_t(j) * dim);
            for (int i = 0; i < maxRows; ++i)
                if (const int r = rows[std::size_t(t) * maxRows + i]; r >= 0)
                    rowsSeen.push_back(compressed.values.data() + std::size_t(r) * dim);
            const float *qh = q.data() + (std::size_t(t) * nHeads + h) * dim;
            std::vector<double> score;
            // Rows score against the query in ggml's form for their type: rounded to f16 for F16
            // rows, to Q8_0 for quantized ones.
            std::vector<float> qUsed(qh, qh + dim);
            if (type == nw::TensorType::F16)
                for (float &x : qUsed)
                    x = nw::fp16ToFloat(nw::floatToFp16(x));
            const bool quantized = type == nw::TensorType::Q8_0 || type == nw::TensorType::Q4_0;
            if (quantized) {
                std::vector<std::byte> qq(nw::rowBytes(nw::TensorType::Q8_0, dim));
                nw::quantizeRow(nw::TensorType::Q8_0, qh, qq.data(), std::size_t(dim));
                nw::dequantizeRow(nw::TensorType::Q8_0, qq.data(), qUsed.data(), std::size_t(dim));
            }
            double peak = sinks ? sink[std::size_t(h)] : -INFINITY;
            for (const float *k : rowsSeen) {
                double s = 0;
                for (int i = 0; i < dim; ++i)
                    s += double(qUsed[std::size_t(i)]) * k[i];
                score.push_back(0.125 * s);
                peak = std::max(peak, score.back());
            }
            double sum = sinks ? std::exp(sink[std::size_t(h)] - peak) : 0.0;
            std::vector<double> ref(std::size_t(vDim), 0.0);
            for (std::size_t j = 0; j < rowsSeen.size(); ++j) {
                const double p = std::exp(score[j] - peak);
                sum += p;
                for (int i = 0; i < vDim; ++i)
                    ref[std::size_t(i)] += p * rowsSeen[j][i];
            }
            for (int i = 0; i < vDim; ++i) {
                const double expect = sum > 0 ? ref[std::size_t(i)] / sum : 0.0;
                const double got = out[(std::size_t(t) * nHeads + h) * vDim + std::size_t(i)];
                REQUIRE(std::isfinite(got));
                worst = std::max(worst, std::fabs(got - expect));
            }
        }
    // Quantized rows score the query as Q8_0 activations (the kernel's own quantizer; the
    // reference rounds it with the weights' one): the scores differ by that rounding.
    CHECK(worst < (type == nw::TensorType::Q8_0 || type == nw::TensorType::Q4_0 ? 5e-3 : 2e-5));
}

} // namespace

TEST_CASE("sparseAttention reads exactly the listed rows of both sources")
{
    for (const nw::TensorType type :
        { nw::TensorType::F32, nw::TensorType::F16, nw::TensorType::Q8_0, nw::TensorType::Q4_0 })
        for (const int threads : { 1, 3 })
            for (const bool sinks : { false, true })
                sparseCase(type, threads, sinks);
}

TEST_CASE("sparseAttention refuses sources that do not fit together")
{
    std::mt19937 rng(1);
    PagedRows a(nw::TensorType::F32, 32, 10, rng), b(nw::TensorType::F32, 64, 10, rng);
    std::vector<std::int32_t> first(1, 0), end(1, 5);
    std::vector<float> q(32), out(32);
    nw::SparseAttentionArgs args;
    args.q = q.data();
    args.out = out.data();
    args.nTokens = 1;
    args.nHeads = 1;
    args.sources[0] = { a.view(32), first.data(), end.data() };
    args.sources[1] = { b.view(64), first.data(), end.data() };
    args.nSources = 2;
    auto backend = nw::makeCpuBackend(1);
    CHECK_THROWS_AS(backend->sparseAttention(args), nw::Error);
}

TEST_CASE("lightningIndexer keeps the top-k keys by Σ w relu(q·k)")
{
    std::mt19937 rng(7);
    const int nHeads = 4, dim = 32, nKeys = 90, topK = 16, nTokens = 4;
    for (const nw::TensorType type :
        { nw::TensorType::F32, nw::TensorType::F16, nw::TensorType::Q8_0, nw::TensorType::Q4_0 }) {
        CAPTURE(nw::tensorTypeName(type));
        PagedRows keys(type, dim, nKeys, rng);
        const std::vector<float> q = randomVector(std::size_t(nTokens) * nHeads * dim, rng);
        // The query as ggml meets these keys: rounded to f16 for f16 keys, Q8_0 for quantized ones.
        std::vector<float> qMet = q;
        if (type != nw::TensorType::F32) {
            const nw::TensorType met = type == nw::TensorType::F16 ? type : nw::TensorType::Q8_0;
            std::vector<std::byte> packed(nw::rowBytes(met, std::size_t(dim)));
            for (std::size_t h = 0; h < qMet.size(); h += std::size_t(dim)) {
                nw::quantizeRow(met, q.data() + h, packed.data(), std::size_t(dim));
                nw::dequantizeRow(met, packed.data(), qMet.data() + h, std::size_t(dim));
            }
        }
        const std::vector<float> w = randomVector(std::size_t(nTokens) * nHeads, rng);
        const std::vector<std::int32_t> end = { nKeys, 60, topK - 5, 0 };
        std::vector<std::int32_t> selected(std::size_t(nTokens) * topK, 12345);
        nw::LightningIndexerArgs a;
        a.q = q.data();
        a.weights = w.data();
        a.keys = keys.view(dim);
        a.keys.vBlocks = nullptr; // keys have no V part
        a.end = end.data();
        a.nTokens = nTokens;
        a.nHeads = nHeads;
        a.topK = topK;
        a.selected = selected.data();
        auto backend = nw::makeCpuBackend(2);
        backend->lightningIndexer(a);
        for (int t = 0; t < nTokens; ++t) {
            std::vector<std::pair<double, int>> ref;
            for (int j = 0; j < end[std::size_t(t)]; ++j) {
                double s = 0;
                for (int h = 0; h < nHeads; ++h) {
                    double dot = 0;
                    for (int i = 0; i < dim; ++i)
                        dot += double(qMet[(std::size_t(t) * nHeads + h) * dim + i])
                            * keys.values[std::size_t(j) * dim + i];
                    s += w[std::size_t(t) * nHeads + h] * std::max(0.0, dot);
                }
                ref.emplace_back(-s, j);
            }
            std::sort(ref.begin(), ref.end());
            const int k = std::min<int>(topK, int(ref.size()));
            for (int i = 0; i < topK; ++i) {
                const std::int32_t got = selected[std::size_t(t) * topK + i];
                if (i >= k) {
                    CHECK(got == -1);
                    continue;
                }
                // The same key, or one whose score ties it to float rounding.
                const double gotScore
                    = -std::find_if(ref.begin(), ref.end(), [&](auto &p) { return p.second == got; })->first;
                CHECK(std::fabs(gotScore + ref[std::size_t(i)].first) < 1e-4 * (1 + std::fabs(gotScore)));
            }
        }
    }
}

TEST_CASE("softmaxPool pools each block per dimension, with and without the previous block")
{
    std::mt19937 rng(3);
    const int ratio = 4, dim = 24, nRows = 20, nBlocks = 3;
    for (const bool overlap : { false, true }) {
        CAPTURE(overlap);
        const int coff = overlap ? 2 : 1;
        const std::vector<float> rows = randomVector(std::size_t(nRows) * 2 * coff * dim, rng);
        std::vector<std::int32_t> prev(std::size_t(nBlocks) * ratio), cur(std::size_t(nBlocks) * ratio);
        for (int b = 0; b < nBlocks; ++b)
            for (int j = 0; j < ratio; ++j) {
                cur[std::size_t(b) * ratio + j] = (b * 5 + j * 3 + 1) % nRows;
                prev[std::size_t(b) * ratio + j] = b == 0 ? -1 : (b * 7 + j) % nRows;
            }
        nw::SoftmaxPoolArgs a;
        a.rows = rows.data();
        a.prev = overlap ? prev.data() : nullptr;
        a.cur = cur.data();
        a.nBlocks = nBlocks;
        a.ratio = ratio;
        a.dim = dim;
        std::vector<float> out(std::size_t(nBlocks) * dim);
        a.out = out.data();
        auto backend = nw::makeCpuBackend(2);
        backend->softmaxPool(a);
        const std::size_t width = std::size_t(2 * coff * dim);
        for (int b = 0; b < nBlocks; ++b)
            for (int i = 0; i < dim; ++i) {
                std::vector<std::pair<double, double>> terms; // (score, kv)
                for (int j = 0; j < ratio; ++j) {
                    if (overlap && prev[std::size_t(b) * ratio + j] >= 0) {
                        const float *r = rows.data() + std::size_t(prev[std::size_t(b) * ratio + j]) * width;
                        terms.emplace_back(r[coff * dim + i], r[i]);
                    }
                    const float *r = rows.data() + std::size_t(cur[std::size_t(b) * ratio + j]) * width;
                    const int col = overlap ? dim + i : i;
                    terms.emplace_back(r[coff * dim + col], r[col]);
                }
                double peak = -INFINITY, sum = 0, acc = 0;
                for (auto &[s, v] : terms)
                    peak = std::max(peak, s);
                for (auto &[s, v] : terms) {
                    sum += std::exp(s - peak);
                    acc += std::exp(s - peak) * v;
                }
                CHECK(out[std::size_t(b) * dim + i] == doctest::Approx(acc / sum).epsilon(1e-5));
            }
    }
}

TEST_CASE("hyper-connections: Sinkhorn weights, stream reads and writes")
{
    std::mt19937 rng(11);
    const int hc = 4, nTokens = 3, dim = 10, mixWidth = (2 + hc) * hc, iters = 20;
    const float eps = 1e-6f;
    const std::vector<float> mixes = randomVector(std::size_t(nTokens) * mixWidth, rng, 2.f);
    const std::vector<float> scale = { 0.7f, 1.3f, 0.9f };
    const std::vector<float> base = randomVector(std::size_t(mixWidth), rng, 0.5f);
    std::vector<float> pre(std::size_t(nTokens) * hc), post(pre.size()), comb(std::size_t(nTokens) * hc * hc);
    nw::HyperMixArgs a;
    a.mixes = mixes.data();
    a.mixStride = mixWidth;
    a.nTokens = nTokens;
    a.nStreams = hc;
    a.scale = scale.data();
    a.base = base.data();
    a.eps = eps;
    a.sinkhornIters = iters;
    a.pre = pre.data();
    a.post = post.data();
    a.comb = comb.data();
    auto backend = nw::makeCpuBackend(2);
    backend->hyperMix(a);
    const auto sigmoid = [](double x) { return 1 / (1 + std::exp(-x)); };
    for (int t = 0; t < nTokens; ++t) {
        const float *m = mixes.data() + std::size_t(t) * mixWidth;
        for (int i = 0; i < hc; ++i) {
            CHECK(pre[std::size_t(t) * hc + i] == doctest::Approx(sigmoid(m[i] * 0.7 + base[std::size_t(i)]) + eps));
            CHECK(post[std::size_t(t) * hc + i]
                == doctest::Approx(2 * sigmoid(m[hc + i] * 1.3 + base[std::size_t(hc + i)])));
        }
        // The reference Sinkhorn in double: c[src][dst].
        double c[hc][hc];
        for (int s = 0; s < hc; ++s) {
            double peak = -INFINITY, sum = 0;
            for (int d = 0; d < hc; ++d)
                peak = std::max(peak, double(m[2 * hc + s * hc + d]) * 0.9 + base[std::size_t(2 * hc + s * hc + d)]);
            for (int d = 0; d < hc; ++d)
                sum += c[s][d]
                    = std::exp(double(m[2 * hc + s * hc + d]) * 0.9 + base[std::size_t(2 * hc + s * hc + d)] - peak);
            for (int d = 0; d < hc; ++d)
                c[s][d] = c[s][d] / sum + eps;
        }
        for (int it = 0; it < iters; ++it) {
            if (it > 0)
                for (int s = 0; s < hc; ++s) {
                    double sum = eps;
                    for (int d = 0; d < hc; ++d)
                        sum += c[s][d];
                    for (int d = 0; d < hc; ++d)
                        c[s][d] /= sum;
                }
            for (int d = 0; d < hc; ++d) {
                double sum = eps;
                for (int s = 0; s < hc; ++s)
                    sum += c[s][d];
                for (int s = 0; s < hc; ++s)
                    c[s][d] /= sum;
            }
        }
        for (int s = 0; s < hc; ++s)
            for (int d = 0; d < hc; ++d)
                CHECK(comb[(std::size_t(t) * hc + s) * hc + d] == doctest::Approx(c[s][d]).epsilon(1e-5));
    }

    const std::vector<float> x = randomVector(std::size_t(nTokens) * hc * dim, rng);
    const std::vector<float> y = randomVector(std::size_t(nTokens) * dim, rng);
    std::vector<float> collapsed(std::size_t(nTokens) * dim), expanded(x.size());
    backend->hyperCollapse(x.data(), pre.data(), nTokens, hc, dim, collapsed.data());
    backend->hyperExpand(y.data(), x.data(), post.data(), comb.data(), nTokens, hc, dim, expanded.data());
    for (int t = 0; t < nTokens; ++t)
        for (int i = 0; i < dim; ++i) {
            double sum = 0;
            for (int s = 0; s < hc; ++s)
                sum += double(pre[std::size_t(t) * hc + s]) * x[(std::size_t(t) * hc + s) * dim + i];
            CHECK(collapsed[std::size_t(t) * dim + i] == doctest::Approx(sum).epsilon(1e-5));
            for (int d = 0; d < hc; ++d) {
                double out = double(post[std::size_t(t) * hc + d]) * y[std::size_t(t) * dim + i];
                for (int s = 0; s < hc; ++s)
                    out += double(comb[(std::size_t(t) * hc + s) * hc + d]) * x[(std::size_t(t) * hc + s) * dim + i];
                CHECK(expanded[(std::size_t(t) * hc + d) * dim + i] == doctest::Approx(out).epsilon(1e-5));
            }
        }
}

TEST_CASE("swigluLimited and layerNorm")
{
    std::mt19937 rng(5);
    const std::size_t n = 100000; // above the parallel threshold
    const std::vector<float> gate = randomVector(n, rng, 6.f), up = randomVector(n, rng, 6.f);
    std::vector<float> y(n);
    auto backend = nw::makeCpuBackend(3);
    backend->swigluLimited(gate.data(), up.data(), y.data(), n, 7.f);
    for (std::size_t i = 0; i < n; i += 97) {
        const double g = std::min(gate[i], 7.f), u = std::clamp(up[i], -7.f, 7.f);
        CHECK(y[i] == doctest::Approx(g / (1 + std::exp(-g)) * u).epsilon(1e-5));
    }
    const int rows = 5, dim = 33;
    const std::vector<float> x = randomVector(std::size_t(rows) * dim, rng, 3.f);
    const std::vector<float> w = randomVector(dim, rng), b = randomVector(dim, rng);
    std::vector<float> out(x.size());
    backend->layerNorm(x.data(), w.data(), b.data(), out.data(), rows, dim, 1e-6f);
    for (int r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (int i = 0; i < dim; ++i)
            mean += x[std::size_t(r) * dim + i] / double(dim);
        for (int i = 0; i < dim; ++i)
            var += std::pow(x[std::size_t(r) * dim + i] - mean, 2) / dim;
        for (int i = 0; i < dim; ++i)
            CHECK(out[std::size_t(r) * dim + i]
                == doctest::Approx((x[std::size_t(r) * dim + i] - mean) / std::sqrt(var + 1e-6) * w[std::size_t(i)]
                    + b[std::size_t(i)])
                       .epsilon(1e-5));
    }
}

TEST_CASE("moeRoute: sqrt-softplus affinities with selection bias, and hash-routed experts")
{
    std::mt19937 rng(9);
    const int nExperts = 8, nUsed = 3, nTokens = 40; // above the parallel threshold
    const std::vector<float> logits = randomVector(std::size_t(nTokens) * nExperts, rng, 3.f);
    const std::vector<float> bias = randomVector(nExperts, rng, 0.5f);
    std::vector<std::int32_t> fixed(std::size_t(nTokens) * nUsed);
    for (std::size_t i = 0; i < fixed.size(); ++i)
        fixed[i] = std::int32_t((i * 5 + 1) % nExperts);
    const auto affinity = [](double x) { return std::sqrt(x > 20 ? x : std::log1p(std::exp(x))); };
    for (const bool hashed : { false, true }) {
        CAPTURE(hashed);
        nw::MoeRouting r;
        r.gating = nw::MoeGating::SqrtSoftplus;
        r.nExperts = nExperts;
        r.nUsed = nUsed;
        r.normalize = true;
        r.scale = 1.5f;
        r.selectionBias = bias.data();
        r.fixedIds = hashed ? fixed.data() : nullptr;
        std::vector<std::int32_t> ids(std::size_t(nTokens) * nUsed);
        std::vector<float> weights(ids.size());
        auto backend = nw::makeCpuBackend(3);
        backend->moeRoute(r, logits.data(), nTokens, ids.data(), weights.data());
        for (int t = 0; t < nTokens; ++t) {
            std::vector<int> expect(nUsed);
            if (hashed) {
                std::copy_n(fixed.begin() + std::ptrdiff_t(t) * nUsed, nUsed, expect.begin());
            } else {
                std::vector<int> order(nExperts);
                std::iota(order.begin(), order.end(), 0);
                std::sort(order.begin(), order.end(), [&](int a, int b) {
                    return affinity(logits[std::size_t(t) * nExperts + a]) + bias[std::size_t(a)]
                        > affinity(logits[std::size_t(t) * nExperts + b]) + bias[std::size_t(b)];
                });
                std::copy_n(order.begin(), nUsed, expect.begin());
            }
            double sum = 0;
            for (int j = 0; j < nUsed; ++j)
                sum += affinity(logits[std::size_t(t) * nExperts + expect[std::size_t(j)]]);
            for (int j = 0; j < nUsed; ++j) {
                CHECK(ids[std::size_t(t) * nUsed + j] == expect[std::size_t(j)]);
                CHECK(weights[std::size_t(t) * nUsed + j]
                    == doctest::Approx(1.5 * affinity(logits[std::size_t(t) * nExperts + expect[std::size_t(j)]]) / sum)
                           .epsilon(1e-5));
            }
        }
    }
}
