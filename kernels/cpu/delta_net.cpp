// Gated DeltaNet: the recurrence and the chunked (WY) form, one value head per task. The state of
// a head is S [headDim (k), headDim (v)], rows over the key dim; every heavy step of the chunked
// form is a row-major product C += αAB (the `gemm` below, AVX2 where the CPU has it).
#include "kernels/cpu/delta_net.h"

#include "common/assert.h"
#include "common/error.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define NW_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace nw::cpu {
namespace {

// ---- dense helpers ----

// C[M, N] += alpha · A[M, K] · B[K, N]; row-major, leading dimensions in floats.
void gemmScalar(int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    for (int i = 0; i < M; ++i) {
        float *c = C + std::size_t(i) * std::size_t(ldc);
        for (int k = 0; k < K; ++k) {
            const float a = alpha * A[std::size_t(i) * std::size_t(lda) + std::size_t(k)];
            if (a == 0.f)
                continue;
            const float *b = B + std::size_t(k) * std::size_t(ldb);
            for (int j = 0; j < N; ++j)
                c[j] += a * b[j];
        }
    }
}

// sk = Sᵀk and sq = Sᵀq: sk += k[i] S[i, :], sq += q[i] S[i, :] over the rows of S.
void projectScalar(const float *S, const float *k, const float *q, float *sk, float *sq, int d)
{
    std::fill_n(sk, d, 0.f);
    std::fill_n(sq, d, 0.f);
    for (int i = 0; i < d; ++i) {
        const float *row = S + std::size_t(i) * std::size_t(d);
        for (int j = 0; j < d; ++j) {
            sk[j] += k[i] * row[j];
            sq[j] += q[i] * row[j];
        }
    }
}

// S[i, :] = decay · S[i, :] + k[i] · u over the rows of S.
void updateScalar(float *S, float decay, const float *k, const float *u, int d)
{
    for (int i = 0; i < d; ++i) {
        float *row = S + std::size_t(i) * std::size_t(d);
        for (int j = 0; j < d; ++j)
            row[j] = decay * row[j] + k[i] * u[j];
    }
}

#if defined(__x86_64__)
// A 4 × 16 register tile (8 accumulators) over the K loop; narrower and shorter edges below it.
NW_AVX2 void gemmAvx2(
    int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    const auto at = [&](int i, int k) { return alpha * A[std::size_t(i) * std::size_t(lda) + std::size_t(k)]; };
    int i = 0;
    for (; i + 4 <= M; i += 4) {
        float *c0 = C + std::size_t(i) * std::size_t(ldc), *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;
        int j = 0;
        for (; j + 16 <= N; j += 16) {
            __m256 r00 = _mm256_loadu_ps(c0 + j), r01 = _mm256_loadu_ps(c0 + j + 8);
            __m256 r10 = _mm256_loadu_ps(c1 + j), r11 = _mm256_loadu_ps(c1 + j + 8);
            __m256 r20 = _mm256_loadu_ps(c2 + j), r21 = _mm256_loadu_ps(c2 + j + 8);
            __m256 r30 = _mm256_loadu_ps(c3 + j), r31 = _mm256_loadu_ps(c3 + j + 8);
            for (int k = 0; k < K; ++k) {
                const float *b = B + std::size_t(k) * std::size_t(ldb) + j;
                const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
                __m256 a = _mm256_set1_ps(at(i, k));
                r00 = _mm256_fmadd_ps(a, b0, r00);
                r01 = _mm256_fmadd_ps(a, b1, r01);
                a = _mm256_set1_ps(at(i + 1, k));
                r10 = _mm256_fmadd_ps(a, b0, r10);
                r11 = _mm256_fmadd_ps(a, b1, r11);
                a = _mm256_set1_ps(at(i + 2, k));
                r20 = _mm256_fmadd_ps(a, b0, r20);
                r21 = _mm256_fmadd_ps(a, b1, r21);
                a = _mm256_set1_ps(at(i + 3, k));
                r30 = _mm256_fmadd_ps(a, b0, r30);
                r31 = _mm256_fmadd_ps(a, b1, r31);
            }
            _mm256_storeu_ps(c0 + j, r00);
            _mm256_storeu_ps(c0 + j + 8, r01);
            _mm256_storeu_ps(c1 + j, r10);
            _mm256_storeu_ps(c1 + j + 8, r11);
            _mm256_storeu_ps(c2 + j, r20);
            _mm256_storeu_ps(c2 + j + 8, r21);
            _mm256_storeu_ps(c3 + j, r30);
            _mm256_storeu_ps(c3 + j + 8, r31);
        }
        for (; j + 8 <= N; j += 8) {
            __m256 r0 = _mm256_loadu_ps(c0 + j), r1 = _mm256_loadu_ps(c1 + j);
            __m256 r2 = _mm256_loadu_ps(c2 + j), r3 = _mm256_loadu_ps(c3 + j);
            for (int k = 0; k < K; ++k) {
                const __m256 b = _mm256_loadu_ps(B + std::size_t(k) * std::size_t(ldb) + j);
                r0 = _mm256_fmadd_ps(_mm256_set1_ps(at(i, k)), b, r0);
                r1 = _mm256_fmadd_ps(_mm256_set1_ps(at(i + 1, k)), b, r1);
                r2 = _mm256_fmadd_ps(_mm256_set1_ps(at(i + 2, k)), b, r2);
                r3 = _mm256_fmadd_ps(_mm256_set1_ps(at(i + 3, k)), b, r3);
            }
            _mm256_storeu_ps(c0 + j, r0);
            _mm256_storeu_ps(c1 + j, r1);
            _mm256_storeu_ps(c2 + j, r2);
            _mm256_storeu_ps(c3 + j, r3);
        }
        if (j < N)
            for (int r = 0; r < 4; ++r)
                gemmScalar(1, N - j, K, alpha, A + std::size_t(i + r) * std::size_t(lda), lda, B + j, ldb,
                    C + std::size_t(i + r) * std::size_t(ldc) + j, ldc);
    }
    for (; i < M; ++i) {
        float *c = C + std::size_t(i) * std::size_t(ldc);
        int j = 0;
        for (; j + 8 <= N; j += 8) {
            __m256 r = _mm256_loadu_ps(c + j);
            for (int k = 0; k < K; ++k)
                r = _mm256_fmadd_ps(
                    _mm256_set1_ps(at(i, k)), _mm256_loadu_ps(B + std::size_t(k) * std::size_t(ldb) + j), r);
            _mm256_storeu_ps(c + j, r);
        }
        if (j < N)
            gemmScalar(1, N - j, K, alpha, A + std::size_t(i) * std::size_t(lda), lda, B + j, ldb, c + j, ldc);
    }
}

NW_AVX2 void projectAvx2(const float *S, const float *k, const float *q, float *sk, float *sq, int d)
{
    if (d % 8 != 0) {
        projectScalar(S, k, q, sk, sq, d);
        return;
    }
    for (int j0 = 0; j0 < d; j0 += 32) {
        const int w = std::min(32, d - j0); // 8, 16, 24 or 32 columns
        __m256 ak[4] = {}, aq[4] = {};
        for (int i = 0; i < d; ++i) {
            const float *row = S + std::size_t(i) * std::size_t(d) + j0;
            const __m256 ki = _mm256_set1_ps(k[i]), qi = _mm256_set1_ps(q[i]);
            for (int v = 0; v < w / 8; ++v) {
                const __m256 s = _mm256_loadu_ps(row + 8 * v);
                ak[v] = _mm256_fmadd_ps(ki, s, ak[v]);
                aq[v] = _mm256_fmadd_ps(qi, s, aq[v]);
            }
        }
        for (int v = 0; v < w / 8; ++v) {
            _mm256_storeu_ps(sk + j0 + 8 * v, ak[v]);
            _mm256_storeu_ps(sq + j0 + 8 * v, aq[v]);
        }
    }
}

NW_AVX2 void updateAvx2(float *S, float decay, const float *k, const float *u, int d)
{
    if (d % 8 != 0) {
        updateScalar(S, decay, k, u, d);
        return;
    }
    const __m256 dv = _mm256_set1_ps(decay);
    for (int i = 0; i < d; ++i) {
        float *row = S + std::size_t(i) * std::size_t(d);
        const __m256 ki = _mm256_set1_ps(k[i]);
        for (int j = 0; j < d; j += 8)
            _mm256_storeu_ps(
                row + j, _mm256_fmadd_ps(ki, _mm256_loadu_ps(u + j), _mm256_mul_ps(dv, _mm256_loadu_ps(row + j))));
    }
}
#endif

struct Kernels {
    void (*gemm)(int, int, int, float, const float *, int, const float *, int, float *, int) = gemmScalar;
    void (*project)(const float *, const float *, const float *, float *, float *, int) = projectScalar;
    void (*update)(float *, float, const float *, const float *, int) = updateScalar;
};

const Kernels &kernels()
{
    static const Kernels k = [] {
        Kernels out;
#if defined(__x86_64__)
        if (cpuFeatures().avx2 && cpuFeatures().fma) {
            out.gemm = gemmAvx2;
            out.project = projectAvx2;
            out.update = updateAvx2;
        }
#endif
        return out;
    }();
    return k;
}

// ---- per-token inputs ----

// out = x / max(|x|, eps) · scale (ggml_l2_norm, the sum in double as ggml's).
void l2Normalize(const float *x, float *out, int d, float eps, float scale)
{
    double sum = 0.0;
    for (int i = 0; i < d; ++i)
        sum += double(x[i]) * x[i];
    const float inv = scale / std::max(std::sqrt(float(sum)), eps);
    for (int i = 0; i < d; ++i)
        out[i] = x[i] * inv;
}

float softplus(float x)
{
    return x > 20.f ? x : std::log(1.f + std::exp(x)); // ggml's op_softplus
}

float sigmoid(float x)
{
    return 1.f / (1.f + std::exp(-x));
}

// The inputs of token t for value head h: q (normalised and scaled by 1/sqrt(d)), k (normalised),
// v, the log decay g and the write strength β.
struct TokenInputs {
    const DeltaNetArgs &a;
    int h;
    int kh; // the key/query head of value head h

    const float *row(int t) const { return a.qkv + std::size_t(t) * a.qkvStride; }
    void q(int t, float *out) const
    {
        l2Normalize(row(t) + std::size_t(kh) * std::size_t(a.headDim), out, a.headDim, a.normEps,
            1.f / std::sqrt(float(a.headDim)));
    }
    void k(int t, float *out) const
    {
        l2Normalize(row(t) + std::size_t(a.nKHeads + kh) * std::size_t(a.headDim), out, a.headDim, a.normEps, 1.f);
    }
    const float *v(int t) const { return row(t) + std::size_t(2 * a.nKHeads + h) * std::size_t(a.headDim); }
    float g(int t) const
    {
        const std::size_t i = std::size_t(t) * std::size_t(a.nVHeads) + std::size_t(h);
        return softplus(a.alpha[i] + a.dtBias[h]) * a.decay[h];
    }
    float beta(int t) const { return sigmoid(a.beta[std::size_t(t) * std::size_t(a.nVHeads) + std::size_t(h)]); }
    float *out(int t) const
    {
        return a.out + (std::size_t(t) * std::size_t(a.nVHeads) + std::size_t(h)) * std::size_t(a.headDim);
    }
};

void checkArgs(const DeltaNetArgs &a)
{
    NW_ASSERT(a.qkv && a.alpha && a.beta && a.dtBias && a.decay && a.state && a.out);
    NW_ASSERT(a.nTokens >= 0 && a.nKHeads > 0 && a.nVHeads > 0 && a.headDim > 0);
    NW_ASSERT(a.nVHeads % a.nKHeads == 0);
    NW_ASSERT(a.qkvStride >= std::size_t(2 * a.nKHeads + a.nVHeads) * std::size_t(a.headDim));
}

// One head, token by token: two passes over S per token.
void recurrentHead(const DeltaNetArgs &a, int h)
{
    const Kernels &kern = kernels();
    const int d = a.headDim;
    const TokenInputs in { a, h, h % a.nKHeads };
    float *S = a.state + std::size_t(h) * std::size_t(d) * std::size_t(d);
    thread_local std::vector<float> buffer;
    buffer.resize(std::size_t(5) * std::size_t(d));
    float *q = buffer.data(), *k = q + d, *sk = k + d, *sq = sk + d, *u = sq + d;
    for (int t = 0; t < a.nTokens; ++t) {
        in.q(t, q);
        in.k(t, k);
        const float decay = std::exp(in.g(t)), beta = in.beta(t);
        const float *v = in.v(t);
        // With S' = decay · S: u = β (v − S'ᵀk), and o = (S' + k uᵀ)ᵀq = S'ᵀq + (k·q) u, so one
        // read of S gives both projections and a second pass writes the update.
        kern.project(S, k, q, sk, sq, d);
        double kq = 0.0;
        for (int i = 0; i < d; ++i)
            kq += double(k[i]) * q[i];
        float *o = in.out(t);
        for (int j = 0; j < d; ++j) {
            u[j] = beta * (v[j] - decay * sk[j]);
            o[j] = decay * sq[j] + float(kq) * u[j];
        }
        kern.update(S, decay, k, u, d);
    }
}

// One head in chunks of C tokens. For a chunk with inputs Q, K, V [c, d], cumulative log decay
// G_i = g_0 + ... + g_i and the state S at its start (Yang et al. 2024 §3.2, as the reference
// implementations of Qwen3-Next write it):
//   L[i, j] = β_i (k_i·k_j) e^{G_i − G_j} for j < i;  T = (I + L)⁻¹ (unit lower triangular)
//   U = T (β ⊙ V);  W = T (β e^G ⊙ K);  V' = U − W S
//   O_i = e^{G_i} q_i S + Σ_{j≤i} (q_i·k_j) e^{G_i − G_j} V'_j
//   S ← e^{G_last} S + Σ_i e^{G_last − G_i} k_iᵀ V'_i
// Only e^{x} with x ≤ 0 are formed, so nothing overflows however strong the decay.
void chunkedHead(const DeltaNetArgs &a, int h, int C)
{
    const Kernels &kern = kernels();
    const int d = a.headDim;
    const TokenInputs in { a, h, h % a.nKHeads };
    float *S = a.state + std::size_t(h) * std::size_t(d) * std::size_t(d);
    const std::size_t cd = std::size_t(C) * std::size_t(d), cc = std::size_t(C) * std::size_t(C);
    thread_local std::vector<float> buffer;
    buffer.resize(7 * cd + 3 * cc + 3 * std::size_t(C));
    float *Q = buffer.data(); // [C, d]
    float *K = Q + cd; // [C, d]
    float *KT = K + cd; // [d, C] Kᵀ, later the decayed keys' transpose
    float *BV = KT + cd; // [C, d] β ⊙ V
    float *BK = BV + cd; // [C, d] β e^G ⊙ K
    float *U = BK + cd; // [C, d] U, then V'
    float *W = U + cd; // [C, d]
    float *KK = W + cd; // [C, C] K Kᵀ, then L
    float *QK = KK + cc; // [C, C] Q Kᵀ, then the decayed causal scores
    float *T = QK + cc; // [C, C]
    float *G = T + cc; // [C]
    float *beta = G + C; // [C]
    float *eG = beta + C; // [C] e^{G_i}
    const int outStride = a.nVHeads * d;

    for (int t0 = 0; t0 < a.nTokens; t0 += C) {
        const int c = std::min(C, a.nTokens - t0);
        float sum = 0.f;
        for (int i = 0; i < c; ++i) {
            in.q(t0 + i, Q + std::size_t(i) * std::size_t(d));
            in.k(t0 + i, K + std::size_t(i) * std::size_t(d));
            sum += in.g(t0 + i);
            G[i] = sum;
            eG[i] = std::exp(sum);
            beta[i] = in.beta(t0 + i);
            const float *v = in.v(t0 + i);
            for (int x = 0; x < d; ++x) {
                BV[std::size_t(i) * std::size_t(d) + std::size_t(x)] = beta[i] * v[x];
                BK[std::size_t(i) * std::size_t(d) + std::size_t(x)]
                    = beta[i] * eG[i] * K[std::size_t(i) * std::size_t(d) + std::size_t(x)];
                KT[std::size_t(x) * std::size_t(c) + std::size_t(i)]
                    = K[std::size_t(i) * std::size_t(d) + std::size_t(x)];
            }
        }
        // Scores within the chunk: K Kᵀ and Q Kᵀ ([c, c], leading dimension c).
        std::fill_n(KK, std::size_t(c) * std::size_t(c), 0.f);
        std::fill_n(QK, std::size_t(c) * std::size_t(c), 0.f);
        kern.gemm(c, c, d, 1.f, K, d, KT, c, KK, c);
        kern.gemm(c, c, d, 1.f, Q, d, KT, c, QK, c);
        for (int i = 0; i < c; ++i)
            for (int j = 0; j < c; ++j) {
                const std::size_t ij = std::size_t(i) * std::size_t(c) + std::size_t(j);
                const float decayIJ = j <= i ? std::exp(G[i] - G[j]) : 0.f;
                KK[ij] = j < i ? beta[i] * KK[ij] * decayIJ : 0.f; // L
                QK[ij] *= decayIJ;
            }
        // T = (I + L)⁻¹ by forward substitution, row i from the rows above it:
        // T[i, j] = −L[i, j] − Σ_{j<m<i} L[i, m] T[m, j].
        std::fill_n(T, std::size_t(c) * std::size_t(c), 0.f);
        for (int i = 0; i < c; ++i) {
            float *ti = T + std::size_t(i) * std::size_t(c);
            const float *li = KK + std::size_t(i) * std::size_t(c);
            for (int j = 0; j < i; ++j)
                ti[j] = -li[j];
            for (int m = 1; m < i; ++m) {
                const float *tm = T + std::size_t(m) * std::size_t(c);
                for (int j = 0; j < m; ++j)
                    ti[j] -= li[m] * tm[j];
            }
            ti[i] = 1.f;
        }
        // U = T BV, W = T BK, then V' = U − W S (in U).
        std::fill_n(U, std::size_t(c) * std::size_t(d), 0.f);
        std::fill_n(W, std::size_t(c) * std::size_t(d), 0.f);
        kern.gemm(c, d, c, 1.f, T, c, BV, d, U, d);
        kern.gemm(c, d, c, 1.f, T, c, BK, d, W, d);
        kern.gemm(c, d, d, -1.f, W, d, S, d, U, d);
        // O = (e^G ⊙ Q) S + scores V', written in place into the output rows.
        float *O = in.out(t0);
        for (int i = 0; i < c; ++i) {
            float *qi = Q + std::size_t(i) * std::size_t(d);
            for (int x = 0; x < d; ++x)
                qi[x] *= eG[i];
            std::fill_n(O + std::size_t(i) * std::size_t(outStride), d, 0.f);
        }
        kern.gemm(c, d, d, 1.f, Q, d, S, d, O, outStride);
        kern.gemm(c, d, c, 1.f, QK, c, U, d, O, outStride);
        // S ← e^{G_last} S + (e^{G_last − G} ⊙ K)ᵀ V'.
        const float last = G[c - 1];
        for (int x = 0; x < d; ++x)
            for (int i = 0; i < c; ++i)
                KT[std::size_t(x) * std::size_t(c) + std::size_t(i)] *= std::exp(last - G[i]);
        const float eLast = std::exp(last);
        for (std::size_t x = 0; x < std::size_t(d) * std::size_t(d); ++x)
            S[x] *= eLast;
        kern.gemm(d, d, c, 1.f, KT, c, U, d, S, d);
    }
}

} // namespace

void gatedDeltaNetRecurrent(ThreadPool &pool, const DeltaNetArgs &a)
{
    checkArgs(a);
    pool.forEachTask(a.nVHeads, [&](std::int64_t h) { recurrentHead(a, int(h)); });
}

void gatedDeltaNetChunked(ThreadPool &pool, const DeltaNetArgs &a, int chunk)
{
    checkArgs(a);
    NW_ASSERT(chunk > 0);
    pool.forEachTask(a.nVHeads, [&](std::int64_t h) { chunkedHead(a, int(h), chunk); });
}

void gatedDeltaNet(ThreadPool &pool, const DeltaNetArgs &a)
{
    if (a.nTokens <= 0)
        return;
    if (a.nTokens == 1)
        gatedDeltaNetRecurrent(pool, a);
    else
        gatedDeltaNetChunked(pool, a);
}

} // namespace nw::cpu
