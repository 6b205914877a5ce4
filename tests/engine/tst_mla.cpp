// MLA attention (engine/mla.h): the absorbed form (DeepSeek-V2 §2.1.3) and the expanded form must
// agree with each other and with a plain double computation written here from the paper's
// equations, over a paged cache in the `mla` layout, for both GGUF layouts of W_UK / W_UV.
#include "engine/kv_cache.h"
#include "engine/mla.h"
#include "kernels/cpu/hadamard.h"

#include <doctest/doctest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace {

constexpr int kHeads = 3, kNope = 8, kRope = 4, kV = 6, kRank = 16;

struct Fixture {
    std::mt19937 rng { 77 };
    std::vector<float> kvB; // [kHeads * (kNope + kV)][kRank]: per head K rows then V rows
    std::vector<float> kB; // [kHeads][kRank][kNope] (split layout: W_UK transposed)
    std::vector<float> vB; // [kHeads][kV][kRank]
    std::vector<float> rows; // [nKv][kRank + kRope] cached latents
    std::vector<float> q; // [nTokens][kHeads][kNope + kRope]

    std::vector<float> random(std::size_t n)
    {
        std::uniform_real_distribution<float> dist(-1.f, 1.f);
        std::vector<float> v(n);
        for (float &x : v)
            x = dist(rng);
        return v;
    }

    Fixture(int nKv, int nTokens)
    {
        kvB = random(std::size_t(kHeads) * (kNope + kV) * kRank);
        kB.resize(std::size_t(kHeads) * kRank * kNope);
        vB.resize(std::size_t(kHeads) * kV * kRank);
        for (int h = 0; h < kHeads; ++h) {
            for (int d = 0; d < kNope; ++d)
                for (int r = 0; r < kRank; ++r)
                    kB[(std::size_t(h) * kRank + r) * kNope + d] = kvB[(std::size_t(h) * (kNope + kV) + d) * kRank + r];
            for (int d = 0; d < kV; ++d)
                for (int r = 0; r < kRank; ++r)
                    vB[(std::size_t(h) * kV + d) * kRank + r]
                        = kvB[(std::size_t(h) * (kNope + kV) + kNope + d) * kRank + r];
        }
        rows = random(std::size_t(nKv) * (kRank + kRope));
        q = random(std::size_t(nTokens) * kHeads * (kNope + kRope));
    }

    // out[t][h][:] by the equations: k_h,s = [W_UK,h c_s, k_rope,s], v_h,s = W_UV,h c_s,
    // softmax over s <= pos_t of scale · q_t,h · k_h,s.
    std::vector<double> reference(const std::vector<std::int32_t> &positions, double scale) const
    {
        const int nTokens = int(positions.size());
        std::vector<double> out(std::size_t(nTokens) * kHeads * kV, 0.0);
        for (int t = 0; t < nTokens; ++t)
            for (int h = 0; h < kHeads; ++h) {
                const float *qh = q.data() + (std::size_t(t) * kHeads + h) * (kNope + kRope);
                const int nKv = positions[std::size_t(t)] + 1;
                std::vector<double> scores(nKv), keys(kNope), values(std::size_t(nKv) * kV);
                for (int s = 0; s < nKv; ++s) {
                    const float *c = rows.data() + std::size_t(s) * (kRank + kRope);
                    double dot = 0;
                    for (int d = 0; d < kNope; ++d) {
                        double k = 0;
                        for (int r = 0; r < kRank; ++r)
                            k += double(kvB[(std::size_t(h) * (kNope + kV) + d) * kRank + r]) * c[r];
                        dot += qh[d] * k;
                    }
                    for (int d = 0; d < kRope; ++d)
                        dot += double(qh[kNope + d]) * c[kRank + d];
                    scores[s] = dot * scale;
                    for (int d = 0; d < kV; ++d) {
                        double v = 0;
                        for (int r = 0; r < kRank; ++r)
                            v += double(kvB[(std::size_t(h) * (kNope + kV) + kNope + d) * kRank + r]) * c[r];
                        values[std::size_t(s) * kV + d] = v;
                    }
                }
                double peak = scores[0], sum = 0;
                for (double s : scores)
                    peak = std::max(peak, s);
                for (double &s : scores)
                    sum += s = std::exp(s - peak);
                for (int s = 0; s < nKv; ++s)
                    for (int d = 0; d < kV; ++d)
                        out[(std::size_t(t) * kHeads + h) * kV + d]
                            += scores[s] / sum * values[std::size_t(s) * kV + d];
            }
        return out;
    }
};

nw::KvLayout mlaLayout(nw::TensorType rowType)
{
    nw::KvLayout layout;
    layout.spec.mode = nw::KvMode::Mla;
    layout.spec.rowType = rowType;
    layout.kType = layout.vType = rowType;
    layout.nKvHeads = 1;
    layout.kHeadDim = kRank + kRope;
    layout.vHeadDim = 0;
    layout.mlaValueDim = kRank;
    return layout;
}

void checkClose(const std::vector<float> &got, const std::vector<double> &want, double tolerance)
{
    REQUIRE(got.size() == want.size());
    double peak = 0;
    for (double w : want)
        peak = std::max(peak, std::abs(w));
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        CHECK(std::abs(double(got[i]) - want[i]) <= tolerance * peak);
    }
}

} // namespace

TEST_CASE("absorbed and expanded MLA attention equal the plain equations")
{
    // 70 cached tokens span two 64-token blocks; the queries are the last 5 (a prefill chunk)
    // and then the last one alone (decode).
    const int nKv = 70;
    // Rows stored Hadamard-rotated (as +q8 / +q4 store them) read back the same: both forms rotate
    // the query or the rebuilt latent, exactly in f32 (f16 would round the rotated values, which
    // the reference does not see).
    for (nw::TensorType rowType : { nw::TensorType::F32, nw::TensorType::F16 })
        for (bool rotated : { false, true }) {
            if (rotated && rowType != nw::TensorType::F32)
                continue;
            CAPTURE(nw::tensorTypeName(rowType));
            CAPTURE(rotated);
            for (int nTokens : { 5, 1 }) {
                CAPTURE(nTokens);
                Fixture f(nKv, nTokens);
                if (rowType == nw::TensorType::F16) // the cache rounds rows: make the reference see the same
                    for (float &x : f.rows)
                        x = float(std::round(x * 1024.f) / 1024.f);
                nw::KvLayout layout = mlaLayout(rowType);
                layout.kRotation = rotated ? nw::hadamardBlock(std::gcd(kRank + kRope, kRank)) : 0;
                nw::KvCache cache(layout, 1, 128, 0);
                cache.reserve(nKv);
                auto backend = nw::makeCpuBackend(2);
                std::vector<std::int32_t> all(nKv);
                for (int t = 0; t < nKv; ++t)
                    all[std::size_t(t)] = t;
                backend->storeKv(cache.layerView(0), f.rows.data(), nullptr, nKv, all.data());
                cache.commit(nKv);

                std::vector<std::int32_t> positions(all.end() - nTokens, all.end());
                const double scale = 0.37;
                const std::vector<double> want = f.reference(positions, scale);

                const auto fromKvB = nw::MlaProjections::fromKvB(
                    nw::denseWeights(nw::TensorType::F32, kHeads * (kNope + kV), kRank, f.kvB.data()), kHeads, kNope,
                    kV);
                const auto fromSplit
                    = nw::MlaProjections::fromSplit(nw::denseWeights(nw::TensorType::F32, kRank, kNope, f.kB.data()),
                        nw::denseWeights(nw::TensorType::F32, kV, kRank, f.vB.data()), kHeads);
                for (const nw::MlaProjections *proj : { &fromKvB, &fromSplit }) {
                    nw::MlaScratch scratch;
                    std::vector<float> absorbed(std::size_t(nTokens) * kHeads * kV, NAN);
                    std::vector<float> expanded(absorbed.size(), NAN);
                    nw::mlaAttentionAbsorbed(*backend, *proj, cache.layerView(0), f.q.data(), nTokens, kRope,
                        positions.data(), float(scale), absorbed.data(), scratch);
                    nw::mlaAttentionExpanded(*backend, *proj, cache.layerView(0), f.q.data(), nTokens, kRope,
                        positions.data(), float(scale), expanded.data(), scratch);
                    checkClose(absorbed, want, 1e-5);
                    checkClose(expanded, want, 1e-5);
                }
            }
        }
}

TEST_CASE("the absorbed query's scores equal the expanded keys' scores")
{
    // q_lat · [c, k_rope] == q · [W_UK c, k_rope] for every head: the identity the absorbed form
    // rests on (W_UK folded into the query).
    Fixture f(4, 2);
    auto backend = nw::makeCpuBackend(1);
    const auto proj = nw::MlaProjections::fromKvB(
        nw::denseWeights(nw::TensorType::F32, kHeads * (kNope + kV), kRank, f.kvB.data()), kHeads, kNope, kV);
    nw::MlaScratch scratch;
    std::vector<float> qLatent(std::size_t(2) * kHeads * (kRank + kRope));
    nw::mlaAbsorbQuery(*backend, proj, f.q.data(), 2, kRope, qLatent.data(), scratch);
    std::vector<float> keys(std::size_t(4) * kHeads * (kNope + kRope)), values(std::size_t(4) * kHeads * kV);
    nw::mlaExpandKeysValues(*backend, proj, f.rows.data(), 4, kRope, keys.data(), values.data(), scratch);
    for (int t = 0; t < 2; ++t)
        for (int s = 0; s < 4; ++s)
            for (int h = 0; h < kHeads; ++h) {
                double absorbed = 0, expanded = 0;
                for (int d = 0; d < kRank + kRope; ++d)
                    absorbed += double(qLatent[(std::size_t(t) * kHeads + h) * (kRank + kRope) + d])
                        * f.rows[std::size_t(s) * (kRank + kRope) + d];
                for (int d = 0; d < kNope + kRope; ++d)
                    expanded += double(f.q[(std::size_t(t) * kHeads + h) * (kNope + kRope) + d])
                        * keys[(std::size_t(s) * kHeads + h) * (kNope + kRope) + d];
                CHECK(absorbed == doctest::Approx(expanded).epsilon(1e-5));
            }
}
