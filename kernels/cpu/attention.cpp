// Paged causal attention with an online softmax (Milakov & Gimelshein 2018; FlashAttention's
// rescaling): scores are computed a chunk of cache tokens at a time, the running max m and sum l
// rescale the accumulated output when m grows. Threads split over (query token, head). A sliding
// window only moves where each query's range starts; sink tokens (StreamingLLM) are seen before
// it, as one sequence of seen tokens; sink logits (gpt-oss) join the final normalisation.
#include "kernels/cpu/attention.h"

#include "common/assert.h"
#include "common/error.h"
#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/dot_products.h"
#include "kernels/cpu/hadamard.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/turbo_quant.h"
#include "kernels/float16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define NW_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

namespace nw::cpu {
namespace {

constexpr int kChunk = 64; // cache tokens scored per rescaling step
constexpr int kMaxHeadsPerTask = 16; // query heads sharing one pass over the K/V rows

// acc[i] = acc[i] * c + p * v[i] for v in f32 or f16.
void axpyScalar(float *acc, float c, float p, const std::byte *v, bool f16, int n)
{
    if (f16) {
        const auto *h = reinterpret_cast<const f16_t *>(v);
        for (int i = 0; i < n; ++i)
            acc[i] = acc[i] * c + p * fp16ToFloat(h[i]);
    } else {
        const auto *f = reinterpret_cast<const float *>(v);
        for (int i = 0; i < n; ++i)
            acc[i] = acc[i] * c + p * f[i];
    }
}

#if defined(__x86_64__)
NW_AVX2 void axpyAvx2(float *acc, float c, float p, const std::byte *v, bool f16, int n)
{
    const __m256 vc = _mm256_set1_ps(c), vp = _mm256_set1_ps(p);
    int i = 0;
    if (f16) {
        const auto *h = reinterpret_cast<const f16_t *>(v);
        for (; i + 8 <= n; i += 8) {
            const __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h + i)));
            _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(vp, x, _mm256_mul_ps(vc, _mm256_loadu_ps(acc + i))));
        }
    } else {
        const auto *f = reinterpret_cast<const float *>(v);
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(
                acc + i, _mm256_fmadd_ps(vp, _mm256_loadu_ps(f + i), _mm256_mul_ps(vc, _mm256_loadu_ps(acc + i))));
    }
    // The tail stays in this function: a tail call into axpyScalar (legacy-SSE code) let GCC drop
    // the vzeroupper, and every SSE instruction after it then ran with the upper YMM halves dirty —
    // about 500 cycles per (query, cached token) pair in long prefills instead of ~100.
    if (f16) {
        const auto *h = reinterpret_cast<const f16_t *>(v);
        for (; i < n; ++i)
            acc[i] = acc[i] * c + p * fp16ToFloat(h[i]);
    } else {
        const auto *f = reinterpret_cast<const float *>(v);
        for (; i < n; ++i)
            acc[i] = acc[i] * c + p * f[i];
    }
}
#endif

using AxpyFn = void (*)(float *, float, float, const std::byte *, bool, int);

AxpyFn pickAxpy()
{
#if defined(__x86_64__)
    const CpuFeatures &f = cpuFeatures();
    if (f.avx2 && f.fma && f.f16c)
        return axpyAvx2;
#endif
    return axpyScalar;
}

bool isQuantizedKv(TensorType type)
{
    return type == TensorType::Q8_0 || type == TensorType::Q4_0;
}

// Bytes of the first `elements` elements of a row (whole blocks for the quantized rows).
std::size_t prefixBytes(TensorType type, std::size_t elements)
{
    return elements == 0 ? 0 : rowBytes(type, elements);
}

// Bytes of one head of `dim` elements: TurboQuant's norm and codes (bits > 0), or `type`'s.
std::size_t headBytes(TensorType type, int bits, int dim)
{
    return bits > 0 ? turboHeadBytes(bits, dim) : prefixBytes(type, std::size_t(dim));
}

// A Hadamard block `block` can rotate heads of headDim (0: not rotated).
bool isRotationOf(int block, int headDim)
{
    return block == 0 || (block > 0 && (block & (block - 1)) == 0 && headDim % block == 0);
}

} // namespace

void checkKvView(const KvLayerView &kv, const char *op)
{
    for (const TensorType type : { kv.type, kv.valueType() })
        if (type != TensorType::F32 && type != TensorType::F16 && !isQuantizedKv(type) && type != TensorType::I8)
            fail("{}: KV cache rows of type {} are not supported by the CPU backend (F32, F16, Q8_0, Q4_0 or "
                 "TurboQuant's I8)",
                op, tensorTypeName(type));
    // TurboQuant rows: I8 exactly when bits are given; whole bytes of codes per head; their own
    // rotation (kernels/cpu/turbo_quant.h), so no Hadamard block; never a shared row.
    const auto turboSide = [&](const char *side, TensorType type, int bits, int headDim, int rotation) {
        if ((type == TensorType::I8) != (bits > 0) || (bits > 0 && (bits < kTurboMinBits || bits > kTurboMaxBits)))
            fail("{}: {} rows of type {} with {} TurboQuant bits (I8 rows take 2, 3 or 4 bits, others 0)", op, side,
                tensorTypeName(type), bits);
        if (bits > 0 && (headDim % 8 != 0 || rotation != 0))
            fail("{}: TurboQuant {} heads need a dim that is a multiple of 8 and no Hadamard block (dim {}, block {})",
                op, side, headDim, rotation);
    };
    turboSide("K", kv.type, kv.kBits, kv.kHeadDim, kv.kRotation);
    turboSide("V", kv.valueType(), kv.vBits, kv.vHeadDim, kv.vRotation);
    if (kv.vBlocks == kv.kBlocks && (kv.kBits > 0 || kv.vBits > 0))
        fail("{}: TurboQuant rows cannot be a shared K/V row", op);
    if (kv.blockSize <= 0 || kv.blockTable == nullptr || kv.kBlocks == nullptr)
        fail("{}: KV view without blocks (block size {})", op, kv.blockSize);
    if (kv.nKvHeads <= 0 || kv.kHeadDim <= 0 || kv.vHeadDim <= 0)
        fail("{}: KV view with {} heads of K dim {} and V dim {}", op, kv.nKvHeads, kv.kHeadDim, kv.vHeadDim);
    // Quantized rows are addressed per head, so each head must be whole blocks of 32.
    if ((isQuantizedKv(kv.type) && kv.kHeadDim % int(kQk) != 0)
        || (isQuantizedKv(kv.valueType()) && kv.vHeadDim % int(kQk) != 0))
        fail("{}: {}/{} KV rows need head dims that are multiples of {} (K {}, V {})", op, tensorTypeName(kv.type),
            tensorTypeName(kv.valueType()), kQk, kv.kHeadDim, kv.vHeadDim);
    if (!isRotationOf(kv.kRotation, kv.kHeadDim) || !isRotationOf(kv.vRotation, kv.vHeadDim))
        fail("{}: Hadamard blocks K {} / V {} do not divide the head dims K {} / V {}", op, kv.kRotation, kv.vRotation,
            kv.kHeadDim, kv.vHeadDim);
    // A shared row (MLA) is one row: V is read as K was stored.
    if (kv.vBlocks == kv.kBlocks && (kv.valueType() != kv.type || kv.vRotation != kv.kRotation))
        fail("{}: a shared K/V row has one type and one rotation (K {} / {}, V {} / {})", op, tensorTypeName(kv.type),
            kv.kRotation, tensorTypeName(kv.valueType()), kv.vRotation);
    if (kv.kRowStride < std::size_t(kv.nKvHeads) * headBytes(kv.type, kv.kBits, kv.kHeadDim)
        || kv.kBlockStride < kv.kRowStride * std::size_t(kv.blockSize))
        fail("{}: K strides (row {}, block {}) do not hold {} heads of {}", op, kv.kRowStride, kv.kBlockStride,
            kv.nKvHeads, kv.kHeadDim);
    if (kv.vBlocks != nullptr && kv.vBlocks != kv.kBlocks
        && (kv.vRowStride < std::size_t(kv.nKvHeads) * headBytes(kv.valueType(), kv.vBits, kv.vHeadDim)
            || kv.vBlockStride < kv.vRowStride * std::size_t(kv.blockSize)))
        fail("{}: V strides (row {}, block {}) do not hold {} heads of {}", op, kv.vRowStride, kv.vBlockStride,
            kv.nKvHeads, kv.vHeadDim);
}

void attention(ThreadPool &pool, const AttentionArgs &a)
{
    const KvLayerView &kv = a.kv;
    checkKvView(kv, "attention");
    if (a.nTokens <= 0)
        return;
    if (a.nHeads <= 0 || a.nHeads % kv.nKvHeads != 0)
        fail("attention: {} query heads cannot share {} KV heads", a.nHeads, kv.nKvHeads);
    if (kv.vBlocks == nullptr)
        fail("attention: KV view has no V rows (for MLA point vBlocks at kBlocks)");
    const bool sharedRow = kv.vBlocks == kv.kBlocks;
    if (sharedRow && kv.vHeadDim > kv.kHeadDim)
        fail("attention: shared K/V rows need vHeadDim {} <= kHeadDim {}", kv.vHeadDim, kv.kHeadDim);
    NW_ASSERT(a.q && a.out && a.queryPositions);
    for (int t = 0; t < a.nTokens; ++t)
        if (a.queryPositions[t] < 0)
            fail("attention: query {} has position {}", t, a.queryPositions[t]);
    if (a.window < 0 || a.sinkTokens < 0 || (a.sinkTokens > 0 && a.window == 0))
        fail("attention: sliding window {} with {} sink tokens", a.window, a.sinkTokens);

    // TurboQuant K heads are decoded once per row into the rotated domain, then scored with
    // the f32 dot against queries rotated alike; V heads are decoded the same way and summed
    // in the rotated domain (kernels/cpu/turbo_quant.h).
    const bool kTurbo = kv.kBits > 0, vTurbo = kv.vBits > 0;
    const DotKernel &dot = dotKernel(kTurbo ? TensorType::F32 : kv.type);
    static const AxpyFn axpy = pickAxpy();
    const TensorType vType = kv.valueType();
    const bool vF16 = vType == TensorType::F16;
    const bool quantized = isQuantizedKv(kv.type);
    const bool vQuantized = isQuantizedKv(vType);
    const bool vDecoded = vQuantized || vTurbo; // V rows turned into f32 before the sum
    const bool qRotates = kv.kRotation > 0 || kTurbo;
    const int group = a.nHeads / kv.nKvHeads;
    const std::size_t kHeadBytes = headBytes(kv.type, kv.kBits, kv.kHeadDim);
    const std::size_t vHeadBytes = headBytes(vType, kv.vBits, kv.vHeadDim);
    // The weighted sum of rotated values, rotated back.
    const auto rotateBack = [&](float *out) {
        if (vTurbo)
            turboRotateBack(out, std::size_t(kv.vHeadDim));
        else if (kv.vRotation > 0)
            hadamardRotate(out, std::size_t(kv.vHeadDim), kv.vRotation);
    };

    const auto kRow = [&](std::int64_t j, int kvHead) {
        return kv.kBlocks + std::size_t(kv.blockTable[j / kv.blockSize]) * kv.kBlockStride
            + std::size_t(j % kv.blockSize) * kv.kRowStride + std::size_t(kvHead) * kHeadBytes;
    };
    // MLA: V is the first vHeadDim elements of the K row itself.
    const auto vRow = [&](std::int64_t j, int kvHead) {
        if (sharedRow)
            return kRow(j, kvHead);
        return kv.vBlocks + std::size_t(kv.blockTable[j / kv.blockSize]) * kv.vBlockStride
            + std::size_t(j % kv.blockSize) * kv.vRowStride + std::size_t(kvHead) * vHeadBytes;
    };

    // Heads that share a KV head are processed together, so each K/V row is read from memory
    // once per group of heads instead of once per head (MLA and latent decode: all heads share
    // one row). When there are fewer (token, KV head) streams than threads want, as in decode,
    // the cached sequence is split into slices whose partial results are merged afterwards
    // (flash-decoding): every row is still read, and for quantized rows dequantized, once.
    // Splitting the heads instead would make each thread re-read and re-dequantize every row.
    const std::int64_t streams = std::int64_t(a.nTokens) * kv.nKvHeads;
    const std::int64_t wanted = 2 * std::int64_t(pool.size());
    const int headsPerTask = std::min(group, kMaxHeadsPerTask);
    const int tasksPerGroup = (group + headsPerTask - 1) / headsPerTask;
    // Query t sees cache tokens [first(t), positions[t]]: all of them, or its sliding window,
    // and before the window the sink tokens [0, sinksSeen(t)) that it does not already cover.
    // Its i-th seen token is position i for i < sinksSeen(t), else first(t) + i - sinksSeen(t).
    const auto firstSeen = [&](std::int64_t t) -> std::int64_t {
        const std::int64_t end = std::int64_t(a.queryPositions[t]) + 1;
        return a.window > 0 ? std::max<std::int64_t>(0, end - a.window) : 0;
    };
    const auto sinksSeen = [&](std::int64_t t) { return std::min<std::int64_t>(a.sinkTokens, firstSeen(t)); };
    const auto nSeen
        = [&](std::int64_t t) { return sinksSeen(t) + std::int64_t(a.queryPositions[t]) + 1 - firstSeen(t); };
    std::int64_t maxCtx = 0; // the most cache tokens one query sees; slices split that range
    for (int t = 0; t < a.nTokens; ++t)
        maxCtx = std::max<std::int64_t>(maxCtx, nSeen(t));
    const std::int64_t maxSlices = (maxCtx + kChunk - 1) / kChunk;
    const std::int64_t slices
        = std::clamp<std::int64_t>((wanted + streams * tasksPerGroup - 1) / (streams * tasksPerGroup), 1, maxSlices);
    const std::int64_t sliceLength = ((maxCtx + slices - 1) / slices + kChunk - 1) / kChunk * kChunk;
    const std::int64_t nTasks = streams * tasksPerGroup * slices;
    const std::size_t vDim = static_cast<std::size_t>(kv.vHeadDim);
    // Sliced: per task and head, the unnormalised accumulator, its running max and sum.
    std::vector<float> partialAcc(slices > 1 ? std::size_t(nTasks) * std::size_t(headsPerTask) * vDim : 0);
    std::vector<float> partialMax(slices > 1 ? std::size_t(nTasks) * std::size_t(headsPerTask) : 0);
    std::vector<double> partialSum(partialMax.size());

    pool.parallelFor(nTasks, 1, [&](std::int64_t task0, std::int64_t task1) {
        std::vector<float> acc(vDim * std::size_t(headsPerTask));
        std::vector<float> scores(std::size_t(kChunk) * std::size_t(headsPerTask));
        // Quantized K rows are scored as llama.cpp does with a quantized cache: the query head is
        // quantized once to the row type's activation format (Q8_0) and the integer dot product
        // runs on the blocks as stored. V rows are dequantized once per row for all heads.
        // Rotated K rows are scored with the query head rotated the same way (kernels/cpu/hadamard.h).
        const std::size_t qBytes = quantized ? activationRowBytes(dot.activation, kv.kHeadDim) : 0;
        std::vector<std::byte> qQuant(qBytes * std::size_t(headsPerTask));
        std::vector<float> qRotated(qRotates ? std::size_t(kv.kHeadDim) * std::size_t(headsPerTask) : 0);
        std::vector<float> kRowF32(kTurbo ? std::size_t(kv.kHeadDim) : 0);
        std::vector<float> vRowF32(vDecoded ? vDim : 0);
        float runningMax[kMaxHeadsPerTask];
        double runningSum[kMaxHeadsPerTask];
        for (std::int64_t task = task0; task < task1; ++task) {
            const std::int64_t slice = task % slices;
            const std::int64_t headTask = task / slices;
            const std::int64_t stream = headTask / tasksPerGroup;
            const std::int64_t t = stream / kv.nKvHeads;
            const int kvHead = static_cast<int>(stream % kv.nKvHeads);
            const int h0 = kvHead * group + static_cast<int>(headTask % tasksPerGroup) * headsPerTask;
            const int nh = std::min(headsPerTask, (kvHead + 1) * group - h0);
            // [begin, end) index the tokens query t sees (seenAt turns an index into a position).
            const std::int64_t sinkCount = sinksSeen(t), skipped = firstSeen(t) - sinkCount;
            const auto seenAt = [sinkCount, skipped](std::int64_t i) { return i < sinkCount ? i : i + skipped; };
            const std::int64_t begin = slice * sliceLength;
            const std::int64_t end = std::min(nSeen(t), begin + sliceLength);
            std::fill(acc.begin(), acc.end(), 0.f);
            const auto query = [&](int g) {
                return qRotates ? qRotated.data() + std::size_t(g) * std::size_t(kv.kHeadDim)
                                : a.q + (t * a.nHeads + h0 + g) * kv.kHeadDim;
            };
            for (int g = 0; g < nh; ++g) {
                runningMax[g] = -std::numeric_limits<float>::infinity();
                runningSum[g] = 0.0;
                if (qRotates) {
                    float *qr = qRotated.data() + std::size_t(g) * std::size_t(kv.kHeadDim);
                    std::copy_n(a.q + (t * a.nHeads + h0 + g) * kv.kHeadDim, kv.kHeadDim, qr);
                    if (kTurbo)
                        turboRotate(qr, std::size_t(kv.kHeadDim));
                    else
                        hadamardRotate(qr, std::size_t(kv.kHeadDim), kv.kRotation);
                }
                if (quantized && begin < end)
                    dot.quantize(query(g), qQuant.data() + std::size_t(g) * qBytes, kv.kHeadDim);
            }
            for (std::int64_t j0 = begin; j0 < end; j0 += kChunk) {
                const int n = static_cast<int>(std::min<std::int64_t>(kChunk, end - j0));
                for (int jj = 0; jj < n; ++jj) {
                    const std::byte *k = kRow(seenAt(j0 + jj), kvHead);
                    if (kTurbo) {
                        turboDecodeRotated(kv.kBits, k, std::size_t(kv.kHeadDim), kRowF32.data());
                        k = reinterpret_cast<const std::byte *>(kRowF32.data());
                    }
                    for (int g = 0; g < nh; ++g) {
                        const std::byte *q = quantized ? qQuant.data() + std::size_t(g) * qBytes
                                                       : reinterpret_cast<const std::byte *>(query(g));
                        scores[std::size_t(g) * kChunk + std::size_t(jj)] = a.scale * dot.dot(k, q, kv.kHeadDim);
                    }
                }
                float correction[kMaxHeadsPerTask];
                for (int g = 0; g < nh; ++g) {
                    const float *sc = scores.data() + std::size_t(g) * kChunk;
                    const float newMax = std::max(runningMax[g], *std::max_element(sc, sc + n));
                    // exp(-inf) = 0 on the first chunk: the empty accumulator is simply replaced.
                    correction[g] = std::exp(runningMax[g] - newMax);
                    runningSum[g] *= correction[g];
                    runningMax[g] = newMax;
                }
                for (int jj = 0; jj < n; ++jj) {
                    const std::byte *v = vRow(seenAt(j0 + jj), kvHead);
                    if (vTurbo)
                        turboDecodeRotated(kv.vBits, v, vDim, vRowF32.data());
                    else if (vQuantized)
                        dequantizeRow(vType, v, vRowF32.data(), vDim);
                    if (vDecoded)
                        v = reinterpret_cast<const std::byte *>(vRowF32.data());
                    for (int g = 0; g < nh; ++g) {
                        const float p = std::exp(scores[std::size_t(g) * kChunk + std::size_t(jj)] - runningMax[g]);
                        runningSum[g] += p;
                        axpy(acc.data() + std::size_t(g) * vDim, jj == 0 ? correction[g] : 1.f, p, v, vF16 && !vDecoded,
                            kv.vHeadDim);
                    }
                }
            }
            if (slices > 1) {
                for (int g = 0; g < nh; ++g) {
                    const std::size_t at = std::size_t(task) * std::size_t(headsPerTask) + std::size_t(g);
                    partialMax[at] = runningMax[g];
                    partialSum[at] = runningSum[g];
                    std::copy_n(acc.data() + std::size_t(g) * vDim, vDim, partialAcc.data() + at * vDim);
                }
                continue;
            }
            for (int g = 0; g < nh; ++g) {
                // A sink is one more logit in the denominator, with no value (gpt-oss).
                float keep = 1.f;
                double sum = runningSum[g];
                if (a.sinks) {
                    const float sink = a.sinks[h0 + g];
                    const float m = std::max(runningMax[g], sink);
                    keep = std::exp(runningMax[g] - m);
                    sum = sum * keep + std::exp(double(sink) - m);
                }
                const auto scaleOut = static_cast<float>(keep / sum);
                float *out = a.out + (t * a.nHeads + h0 + g) * kv.vHeadDim;
                for (std::size_t i = 0; i < vDim; ++i)
                    out[i] = acc[std::size_t(g) * vDim + i] * scaleOut;
                rotateBack(out);
            }
        }
    });
    if (slices == 1)
        return;
    // Merge the slices of each (stream, head group): rescale every partial to the largest max
    // (an empty slice has max -inf and weight exp(-inf) = 0; the first slice is never empty).
    pool.parallelFor(streams * tasksPerGroup, 1, [&](std::int64_t first, std::int64_t last) {
        for (std::int64_t headTask = first; headTask < last; ++headTask) {
            const std::int64_t stream = headTask / tasksPerGroup;
            const std::int64_t t = stream / kv.nKvHeads;
            const int kvHead = static_cast<int>(stream % kv.nKvHeads);
            const int h0 = kvHead * group + static_cast<int>(headTask % tasksPerGroup) * headsPerTask;
            const int nh = std::min(headsPerTask, (kvHead + 1) * group - h0);
            for (int g = 0; g < nh; ++g) {
                const auto at = [&](std::int64_t slice) {
                    return std::size_t(headTask * slices + slice) * std::size_t(headsPerTask) + std::size_t(g);
                };
                float m = -std::numeric_limits<float>::infinity();
                for (std::int64_t sl = 0; sl < slices; ++sl)
                    m = std::max(m, partialMax[at(sl)]);
                if (a.sinks)
                    m = std::max(m, a.sinks[h0 + g]);
                float *out = a.out + (t * a.nHeads + h0 + g) * kv.vHeadDim;
                std::fill(out, out + vDim, 0.f);
                double sum = a.sinks ? std::exp(double(a.sinks[h0 + g]) - m) : 0.0;
                for (std::int64_t sl = 0; sl < slices; ++sl) {
                    if (partialMax[at(sl)] == -std::numeric_limits<float>::infinity())
                        continue; // an empty slice (past this query's context)
                    const float w = std::exp(partialMax[at(sl)] - m);
                    sum += partialSum[at(sl)] * w;
                    const float *acc = partialAcc.data() + at(sl) * vDim;
                    for (std::size_t i = 0; i < vDim; ++i)
                        out[i] += w * acc[i];
                }
                const auto inv = static_cast<float>(1.0 / sum);
                for (std::size_t i = 0; i < vDim; ++i)
                    out[i] *= inv;
                rotateBack(out);
            }
        }
    });
}

void storeKv(
    ThreadPool &pool, const KvLayerView &kv, const float *k, const float *v, int nTokens, const std::int32_t *positions)
{
    checkKvView(kv, "storeKv");
    if (nTokens <= 0)
        return;
    if (v != nullptr && (kv.vBlocks == nullptr || kv.vBlocks == kv.kBlocks))
        fail("storeKv: V rows given but the view has no separate V blocks");
    const std::size_t kWidth = std::size_t(kv.nKvHeads) * std::size_t(kv.kHeadDim);
    const std::size_t vWidth = std::size_t(kv.nKvHeads) * std::size_t(kv.vHeadDim);
    for (int t = 0; t < nTokens; ++t)
        if (positions[t] < 0)
            fail("storeKv: token {} has position {}", t, positions[t]);

    // Rotation blocks divide the head dims (checkKvView), so rotating the whole row in blocks
    // rotates each head.
    // TurboQuant heads are encoded one by one (each its norm and codes).
    const auto write = [&kv](TensorType type, int rotation, int bits, int headDim, const float *src, std::byte *dst,
                           std::size_t n, std::vector<float> &rotated) {
        if (bits > 0) {
            const std::size_t bytes = turboHeadBytes(bits, headDim);
            for (int h = 0; h < kv.nKvHeads; ++h)
                turboEncodeHead(bits, src + std::size_t(h) * std::size_t(headDim), std::size_t(headDim),
                    dst + std::size_t(h) * bytes);
            return;
        }
        if (rotation > 0) {
            rotated.assign(src, src + n);
            hadamardRotate(rotated.data(), n, rotation);
            src = rotated.data();
        }
        if (type == TensorType::F16)
            floatToFp16Row(src, reinterpret_cast<f16_t *>(dst), n);
        else if (type == TensorType::F32)
            std::memcpy(dst, src, n * sizeof(float));
        else // heads are whole blocks (checkKvView), so one call quantizes each head's groups
            quantizeRow(type, src, dst, n);
    };
    const auto range = [&](std::int64_t t0, std::int64_t t1) {
        std::vector<float> rotated;
        for (std::int64_t t = t0; t < t1; ++t) {
            const std::int64_t pos = positions[t];
            const std::size_t block = std::size_t(kv.blockTable[pos / kv.blockSize]);
            const std::size_t row = std::size_t(pos % kv.blockSize);
            write(kv.type, kv.kRotation, kv.kBits, kv.kHeadDim, k + t * std::int64_t(kWidth),
                kv.kBlocks + block * kv.kBlockStride + row * kv.kRowStride, kWidth, rotated);
            if (v)
                write(kv.valueType(), kv.vRotation, kv.vBits, kv.vHeadDim, v + t * std::int64_t(vWidth),
                    kv.vBlocks + block * kv.vBlockStride + row * kv.vRowStride, vWidth, rotated);
        }
    };
    if (nTokens < 16)
        range(0, nTokens);
    else
        pool.parallelFor(nTokens, 4, range);
}

} // namespace nw::cpu
