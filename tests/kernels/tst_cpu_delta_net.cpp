// The recurrent layers' CPU kernels against plain float64 loops written here from the formulas
// (kernels/backend_args.h): the Gated DeltaNet recurrence and its chunked form, the short causal
// convolution with its carried state, and the sigmoid gates. Rows carry NaN padding past the
// columns a kernel may read, and the chunked form is checked across chunk boundaries, with a
// state carried in, and split over two calls.
#include "kernels/backend.h"
#include "kernels/cpu/delta_net.h"
#include "kernels/cpu/thread_pool.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace {

std::vector<float> randomFloats(std::size_t n, unsigned seed, float mean = 0.f, float std = 1.f)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> value(mean, std);
    std::vector<float> v(n);
    for (float &x : v)
        x = value(rng);
    return v;
}

struct Shape {
    int nTokens, nKHeads, nVHeads, headDim;
};

// Inputs of one DeltaNet call, with NaN in the padding of each qkv row.
struct DeltaNetInputs {
    Shape s;
    std::size_t stride;
    std::vector<float> qkv, alpha, beta, dtBias, decay, state;

    DeltaNetInputs(Shape shape, unsigned seed)
        : s(shape)
    {
        const std::size_t used = std::size_t(2 * s.nKHeads + s.nVHeads) * std::size_t(s.headDim);
        stride = used + 5;
        qkv = randomFloats(std::size_t(s.nTokens) * stride, seed);
        for (int t = 0; t < s.nTokens; ++t)
            std::fill_n(qkv.begin() + std::ptrdiff_t(std::size_t(t) * stride + used), 5, NAN);
        alpha = randomFloats(std::size_t(s.nTokens) * std::size_t(s.nVHeads), seed + 1, 0.f, 2.f);
        beta = randomFloats(std::size_t(s.nTokens) * std::size_t(s.nVHeads), seed + 2, 0.f, 2.f);
        dtBias = randomFloats(std::size_t(s.nVHeads), seed + 3);
        // -exp(A_log) with A_log ~ N(0, 1): decays from mild to strong per token.
        decay = randomFloats(std::size_t(s.nVHeads), seed + 4);
        for (float &a : decay)
            a = -std::exp(a);
        state = randomFloats(
            std::size_t(s.nVHeads) * std::size_t(s.headDim) * std::size_t(s.headDim), seed + 5, 0.f, 0.3f);
    }

    nw::DeltaNetArgs args(std::vector<float> &st, std::vector<float> &out, int first = 0, int count = -1) const
    {
        nw::DeltaNetArgs a;
        a.qkv = qkv.data() + std::size_t(first) * stride;
        a.qkvStride = stride;
        a.alpha = alpha.data() + std::size_t(first) * std::size_t(s.nVHeads);
        a.beta = beta.data() + std::size_t(first) * std::size_t(s.nVHeads);
        a.dtBias = dtBias.data();
        a.decay = decay.data();
        a.state = st.data();
        a.out = out.data() + std::size_t(first) * std::size_t(s.nVHeads) * std::size_t(s.headDim);
        a.nTokens = count < 0 ? s.nTokens - first : count;
        a.nKHeads = s.nKHeads;
        a.nVHeads = s.nVHeads;
        a.headDim = s.headDim;
        a.normEps = 1e-6f;
        return a;
    }
};

// The recurrence in float64, read straight off the formulas: S[i][j] with i over key dims.
void referenceDeltaNet(const DeltaNetInputs &in, std::vector<double> &state, std::vector<double> &out)
{
    const Shape s = in.s;
    const int d = s.headDim;
    out.assign(std::size_t(s.nTokens) * std::size_t(s.nVHeads) * std::size_t(d), 0.0);
    std::vector<double> q(static_cast<std::size_t>(d)), k(static_cast<std::size_t>(d)), u(static_cast<std::size_t>(d));
    for (int h = 0; h < s.nVHeads; ++h) {
        const int kh = h % s.nKHeads;
        double *S = state.data() + std::size_t(h) * std::size_t(d) * std::size_t(d);
        for (int t = 0; t < s.nTokens; ++t) {
            const float *row = in.qkv.data() + std::size_t(t) * in.stride;
            auto normalized = [&](const float *x, std::vector<double> &y) {
                double sum = 0;
                for (int i = 0; i < d; ++i)
                    sum += double(x[i]) * x[i];
                const double norm = std::max(std::sqrt(sum), 1e-6);
                for (int i = 0; i < d; ++i)
                    y[std::size_t(i)] = x[i] / norm;
            };
            normalized(row + kh * d, q);
            normalized(row + (s.nKHeads + kh) * d, k);
            const float *v = row + (2 * s.nKHeads + h) * d;
            const std::size_t th = std::size_t(t) * std::size_t(s.nVHeads) + std::size_t(h);
            const double x = double(in.alpha[th]) + in.dtBias[std::size_t(h)];
            const double g = (x > 20 ? x : std::log1p(std::exp(x))) * in.decay[std::size_t(h)];
            const double beta = 1.0 / (1.0 + std::exp(-double(in.beta[th])));
            for (std::size_t i = 0; i < std::size_t(d) * std::size_t(d); ++i)
                S[i] *= std::exp(g);
            for (int j = 0; j < d; ++j) {
                double sk = 0;
                for (int i = 0; i < d; ++i)
                    sk += S[std::size_t(i) * std::size_t(d) + std::size_t(j)] * k[std::size_t(i)];
                u[std::size_t(j)] = beta * (v[j] - sk);
            }
            for (int i = 0; i < d; ++i)
                for (int j = 0; j < d; ++j)
                    S[std::size_t(i) * std::size_t(d) + std::size_t(j)] += k[std::size_t(i)] * u[std::size_t(j)];
            for (int j = 0; j < d; ++j) {
                double o = 0;
                for (int i = 0; i < d; ++i)
                    o += S[std::size_t(i) * std::size_t(d) + std::size_t(j)] * q[std::size_t(i)];
                out[th * std::size_t(d) + std::size_t(j)] = o / std::sqrt(double(d));
            }
        }
    }
}

// max |a − b| / (1 + |b|).
template <typename A, typename B> double maxRelDiff(const std::vector<A> &a, const std::vector<B> &b)
{
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double diff = std::fabs(double(a[i]) - double(b[i])) / (1 + std::fabs(double(b[i])));
        if (!(diff <= worst)) // NaN counts as the worst
            worst = std::isnan(diff) ? INFINITY : diff;
    }
    return worst;
}

} // namespace

TEST_CASE("gated DeltaNet: the recurrence and the chunked form equal a float64 reference")
{
    // Head dims: 32 (two AVX2 column tiles), 128 (as Qwen3.5), 20 (tails everywhere).
    const Shape shapes[] = { { 150, 2, 4, 32 }, { 70, 1, 2, 128 }, { 45, 3, 3, 20 }, { 1, 2, 4, 32 } };
    for (const Shape &shape : shapes)
        for (int threads : { 1, 3 }) {
            CAPTURE(shape.nTokens);
            CAPTURE(shape.headDim);
            CAPTURE(threads);
            const DeltaNetInputs in(shape, 11);
            std::vector<double> refState(in.state.begin(), in.state.end()), refOut;
            referenceDeltaNet(in, refState, refOut);

            nw::cpu::ThreadPool pool(threads);
            const std::size_t outSize
                = std::size_t(shape.nTokens) * std::size_t(shape.nVHeads) * std::size_t(shape.headDim);
            std::vector<float> stRec = in.state, outRec(outSize, NAN);
            nw::cpu::gatedDeltaNetRecurrent(pool, in.args(stRec, outRec));
            CHECK(maxRelDiff(outRec, refOut) < 5e-6);
            CHECK(maxRelDiff(stRec, refState) < 5e-6);

            for (int chunk : { 64, 7 }) {
                CAPTURE(chunk);
                std::vector<float> st = in.state, out(outSize, NAN);
                nw::cpu::gatedDeltaNetChunked(pool, in.args(st, out), chunk);
                CHECK(maxRelDiff(out, refOut) < 5e-6);
                CHECK(maxRelDiff(st, refState) < 5e-6);
                // The chunked prefill equals the step-by-step recurrence to float tolerance.
                CHECK(maxRelDiff(out, outRec) < 5e-6);
                CHECK(maxRelDiff(st, stRec) < 5e-6);
                if (threads == 1)
                    MESSAGE("tokens " << shape.nTokens << ", head dim " << shape.headDim << ", chunk " << chunk
                                      << ": chunked vs recurrent max rel diff " << maxRelDiff(out, outRec)
                                      << " (outputs), " << maxRelDiff(st, stRec) << " (state); vs float64 "
                                      << maxRelDiff(out, refOut));
            }

            // Two calls (a prefill, then the rest) carry the state as one call does.
            if (shape.nTokens > 1) {
                const int first = shape.nTokens * 2 / 3;
                std::vector<float> st = in.state, out(outSize, NAN);
                nw::cpu::gatedDeltaNetChunked(pool, in.args(st, out, 0, first));
                nw::cpu::gatedDeltaNetRecurrent(pool, in.args(st, out, first));
                CHECK(maxRelDiff(out, refOut) < 5e-6);
                CHECK(maxRelDiff(st, refState) < 5e-6);
            }
        }
}

TEST_CASE("the backend's gatedDeltaNet picks the recurrence for one token and chunks for more")
{
    auto be = nw::makeCpuBackend(2);
    for (int n : { 1, 100 }) {
        const DeltaNetInputs in({ n, 2, 4, 32 }, 5);
        std::vector<double> refState(in.state.begin(), in.state.end()), refOut;
        referenceDeltaNet(in, refState, refOut);
        std::vector<float> st = in.state, out(std::size_t(n) * 4 * 32, NAN);
        be->gatedDeltaNet(in.args(st, out));
        CHECK(maxRelDiff(out, refOut) < 5e-6);
        CHECK(maxRelDiff(st, refState) < 5e-6);
    }
}

TEST_CASE("shortConv equals the convolution over [state; x] and carries the state across calls")
{
    auto be = nw::makeCpuBackend(3);
    const int channels = 200, kernel = 4;
    const auto weight = randomFloats(std::size_t(channels) * kernel, 1);
    const auto x = randomFloats(std::size_t(40) * channels, 2);
    const auto state0 = randomFloats(std::size_t(kernel - 1) * channels, 3);
    for (bool silu : { false, true })
        for (int split : { 40, 2, 17 }) { // one call; a first call shorter than kernel - 1; two calls
            CAPTURE(silu);
            CAPTURE(split);
            std::vector<float> state = state0, y(x.size(), NAN);
            auto run = [&](int first, int count) {
                nw::ShortConvArgs a;
                a.x = x.data() + std::size_t(first) * channels;
                a.state = state.data();
                a.weight = weight.data();
                a.y = y.data() + std::size_t(first) * channels;
                a.nTokens = count;
                a.channels = channels;
                a.kernel = kernel;
                a.silu = silu;
                be->shortConv(a);
            };
            run(0, split);
            if (split < 40)
                run(split, 40 - split);
            int bad = 0;
            for (int t = 0; t < 40; ++t)
                for (int c = 0; c < channels; ++c) {
                    double sum = 0;
                    for (int i = 0; i < kernel; ++i) {
                        const int r = t + i; // row of [state0; x]
                        const double in = r < kernel - 1 ? state0[std::size_t(r) * channels + std::size_t(c)]
                                                         : x[std::size_t(r - (kernel - 1)) * channels + std::size_t(c)];
                        sum += in * weight[std::size_t(c) * kernel + std::size_t(i)];
                    }
                    if (silu)
                        sum = sum / (1 + std::exp(-sum));
                    bad += !(
                        std::fabs(y[std::size_t(t) * channels + std::size_t(c)] - sum) <= 1e-5 * (1 + std::fabs(sum)));
                }
            CHECK(bad == 0);
            // The state is the last kernel - 1 rows of x.
            CHECK(std::equal(state.begin(), state.end(), x.end() - std::ptrdiff_t((kernel - 1) * channels)));
        }
}

TEST_CASE("sigmoidMul gates elementwise and per row")
{
    auto be = nw::makeCpuBackend(2);
    for (int rows : { 3, 400 }) {
        const int cols = 96;
        const auto y0 = randomFloats(std::size_t(rows) * cols, 1), gate = randomFloats(std::size_t(rows) * cols, 2);
        std::vector<float> y = y0;
        be->sigmoidMul(y.data(), gate.data(), rows, cols, cols);
        int bad = 0;
        for (std::size_t i = 0; i < y.size(); ++i)
            bad += !(std::fabs(y[i] - y0[i] / (1 + std::exp(-double(gate[i])))) <= 1e-6 * (1 + std::fabs(y0[i])));
        y = y0;
        be->sigmoidMul(y.data(), gate.data(), rows, cols, 1); // gate r is gate[r]
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c) {
                const std::size_t i = std::size_t(r) * cols + std::size_t(c);
                bad += !(std::fabs(y[i] - y0[i] / (1 + std::exp(-double(gate[std::size_t(r)]))))
                    <= 1e-6 * (1 + std::fabs(y0[i])));
            }
        CHECK(bad == 0);
    }
}
