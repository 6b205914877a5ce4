// MLA decode attention kernels (FlashMLA-style split-KV decode, written for this project): each
// CTA owns one (sequence, split of its blocks, group of 16 heads); per 64-token cache block the
// 16 heads form the M dimension of two small GEMMs on tensor cores, S = Q·K^T (K = 576-wide
// rows) and O += P·V (V = first 512 elements of the same rows), with an online softmax between
// them. A combine kernel merges the splits by log-sum-exp. A plain f32 path does the same math
// one head at a time for devices without bf16 tensor cores and as a cross-check in tests.
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/mla_decode.cuh"

#include <cuda_bf16.h>
#include <cuda_pipeline.h>
#include <mma.h>

#include <algorithm>
#include <cmath>

namespace nw::cuda {
namespace {

constexpr int kThreads = 128;   // 4 warps per CTA on both paths
constexpr int kHeadsPerCta = 16; // WMMA's M
constexpr int kMaxSplits = 64;

// Shared-memory row pitches, padded so consecutive rows start in different banks (a 1152-byte
// row is a multiple of 128 bytes, so unpadded WMMA loads would conflict on every row).
constexpr int kRowPitch = kMlaRowDim + 8;   // bf16 elements, K/V block rows and Q rows
constexpr int kOutPitch = kMlaLoraRank + 4; // f32, accumulated output rows
constexpr int kScorePitch = kMlaBlockSize + 4;
constexpr int kProbPitch = kMlaBlockSize + 8;

constexpr std::size_t kBlockBufBytes = std::size_t(kMlaBlockSize) * kRowPitch * 2;
constexpr std::size_t kQBytes = std::size_t(kHeadsPerCta) * kRowPitch * 2;
constexpr std::size_t kOutBytes = std::size_t(kHeadsPerCta) * kOutPitch * 4;
constexpr std::size_t kScoreBytes = std::size_t(kHeadsPerCta) * kScorePitch * 4;
constexpr std::size_t kProbBytes = std::size_t(kHeadsPerCta) * kProbPitch * 2;
constexpr std::size_t kStatBytes = std::size_t(kHeadsPerCta) * 2 * 4;
// WMMA needs 32-byte aligned tile pointers: every region is a multiple of 32 bytes.
static_assert(kBlockBufBytes % 32 == 0 && kQBytes % 32 == 0 && kOutBytes % 32 == 0
              && kScoreBytes % 32 == 0 && kProbBytes % 32 == 0);

std::size_t tensorCoreSmemBytes(int stages)
{
    return kBlockBufBytes * std::size_t(stages) + kQBytes + kOutBytes + kScoreBytes + kProbBytes
           + kStatBytes;
}

struct Workspace {
    float *partialOut; // [batch, nSplits, nHeads, kMlaLoraRank], each split normalised by its sum
    float *partialLse; // [batch, nSplits, nHeads] max + log(sum) of the split's scaled scores
};

Workspace splitWorkspace(void *base, int batch, int nSplits, int nHeads)
{
    auto *out = static_cast<float *>(base);
    const std::size_t outFloats = std::size_t(batch) * nSplits * nHeads * kMlaLoraRank;
    return {out, out + outFloats};
}

// The block range [first, last) of split `split` for a sequence of `nBlocks` blocks.
__device__ inline void splitRange(int nBlocks, int nSplits, int split, int &first, int &last)
{
    const int perSplit = (nBlocks + nSplits - 1) / nSplits;
    first = min(nBlocks, split * perSplit);
    last = min(nBlocks, first + perSplit);
}

__device__ inline float loadQuery(const void *q, MlaQueryType type, std::size_t i)
{
    if (type == MlaQueryType::F32)
        return static_cast<const float *>(q)[i];
    return __bfloat162float(static_cast<const __nv_bfloat16 *>(q)[i]);
}

// ---- tensor-core path --------------------------------------------------------------------

// Stages a block's valid rows with cp.async and zero-fills the rest: unused slots may hold NaN
// (never written, or a freed sequence's data), and 0 * NaN in P·V would poison the output.
__device__ inline void loadBlockAsync(__nv_bfloat16 *dst, const std::uint16_t *cache,
                                      std::int64_t physBlock, int nValid)
{
    constexpr int chunksPerRow = kMlaRowDim * 2 / 16; // 72 chunks of 16 bytes
    const auto *src = reinterpret_cast<const char *>(cache)
                      + std::size_t(physBlock) * kMlaBlockSize * kMlaRowDim * 2;
    for (int c = threadIdx.x; c < kMlaBlockSize * chunksPerRow; c += kThreads) {
        const int row = c / chunksPerRow;
        const int col = c % chunksPerRow;
        char *d = reinterpret_cast<char *>(dst + row * kRowPitch) + col * 16;
        if (row < nValid)
            __pipeline_memcpy_async(d, src + std::size_t(row) * kMlaRowDim * 2 + col * 16, 16);
        else
            *reinterpret_cast<uint4 *>(d) = make_uint4(0, 0, 0, 0);
    }
    __pipeline_commit();
}

__global__ void __launch_bounds__(kThreads)
mlaDecodeTensorCoreKernel(MlaDecodeArgs a, Workspace ws, int nSplits, int stages)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    using namespace nvcuda;
    const int split = blockIdx.x;
    const int head0 = blockIdx.y * kHeadsPerCta;
    const int seq = blockIdx.z;
    const int nHeadsHere = min(kHeadsPerCta, a.nHeads - head0);
    const int warp = threadIdx.x / 32;

    extern __shared__ __align__(128) unsigned char smem[];
    auto *blockBuf = reinterpret_cast<__nv_bfloat16 *>(smem); // [stages][64][kRowPitch]
    unsigned char *p = smem + kBlockBufBytes * stages;
    auto *qS = reinterpret_cast<__nv_bfloat16 *>(p); // [16][kRowPitch]
    p += kQBytes;
    auto *oS = reinterpret_cast<float *>(p); // [16][kOutPitch]
    p += kOutBytes;
    auto *sS = reinterpret_cast<float *>(p); // [16][kScorePitch]
    p += kScoreBytes;
    auto *pS = reinterpret_cast<__nv_bfloat16 *>(p); // [16][kProbPitch]
    p += kProbBytes;
    auto *rowMax = reinterpret_cast<float *>(p); // [16]
    float *rowSum = rowMax + kHeadsPerCta;       // [16]

    const int seqLen = a.seqLens[seq];
    const int nBlocks = (max(seqLen, 0) + kMlaBlockSize - 1) / kMlaBlockSize;
    int first = 0, last = 0;
    splitRange(nBlocks, nSplits, split, first, last);
    const std::int32_t *table = a.blockTable + std::size_t(seq) * a.maxBlocksPerSeq;

    // Queries to bf16 (rows of missing heads are zero); output and statistics start empty.
    for (int i = threadIdx.x; i < kHeadsPerCta * kMlaRowDim; i += kThreads) {
        const int h = i / kMlaRowDim, c = i % kMlaRowDim;
        const float v = h < nHeadsHere
                            ? loadQuery(a.q, a.qType, (std::size_t(seq) * a.nHeads + head0 + h) * kMlaRowDim + c)
                            : 0.f;
        qS[h * kRowPitch + c] = __float2bfloat16(v);
    }
    for (int i = threadIdx.x; i < kHeadsPerCta * kOutPitch; i += kThreads)
        oS[i] = 0.f;
    if (threadIdx.x < kHeadsPerCta) {
        rowMax[threadIdx.x] = -INFINITY;
        rowSum[threadIdx.x] = 0.f;
    }

    if (first < last) {
        const auto validRows = [&](int b) { return min(kMlaBlockSize, seqLen - b * kMlaBlockSize); };
        loadBlockAsync(blockBuf, a.cache, table[first], validRows(first));
        for (int b = first; b < last; ++b) {
            const int stage = stages == 2 ? (b - first) & 1 : 0;
            __nv_bfloat16 *kv = blockBuf + std::size_t(stage) * kMlaBlockSize * kRowPitch;
            if (stages == 2 && b + 1 < last) {
                loadBlockAsync(blockBuf + std::size_t(stage ^ 1) * kMlaBlockSize * kRowPitch,
                               a.cache, table[b + 1], validRows(b + 1));
                __pipeline_wait_prior(1);
            } else {
                if (stages == 1 && b > first) // one buffer: load this block only now
                    loadBlockAsync(kv, a.cache, table[b], validRows(b));
                __pipeline_wait_prior(0);
            }
            __syncthreads();

            // S[16 heads, 64 tokens] = Q · K^T: warp w computes tokens [16w, 16w + 16).
            {
                wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
                wmma::fill_fragment(acc, 0.f);
                for (int k = 0; k < kMlaRowDim; k += 16) {
                    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> qa;
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> kb;
                    wmma::load_matrix_sync(qa, qS + k, kRowPitch);
                    wmma::load_matrix_sync(kb, kv + warp * 16 * kRowPitch + k, kRowPitch);
                    wmma::mma_sync(acc, qa, kb, acc);
                }
                wmma::store_matrix_sync(sS + warp * 16, acc, kScorePitch, wmma::mem_row_major);
            }
            __syncthreads();

            // Online softmax: 8 threads per head row, 8 tokens each. Masked tokens get p = 0.
            {
                const int r = threadIdx.x / 8, part = threadIdx.x % 8;
                const int nValid = validRows(b);
                float s[8];
                float localMax = -INFINITY;
                for (int j = 0; j < 8; ++j) {
                    const int col = part * 8 + j;
                    s[j] = col < nValid ? sS[r * kScorePitch + col] * a.scale : -INFINITY;
                    localMax = fmaxf(localMax, s[j]);
                }
                for (int off = 4; off > 0; off /= 2)
                    localMax = fmaxf(localMax, __shfl_xor_sync(0xffffffffu, localMax, off));
                const float oldMax = rowMax[r];
                const float newMax = fmaxf(oldMax, localMax); // finite: the block has a valid row
                const float corr = __expf(oldMax - newMax);   // 0 on the first block
                float localSum = 0.f;
                for (int j = 0; j < 8; ++j) {
                    const __nv_bfloat16 pb = __float2bfloat16(__expf(s[j] - newMax));
                    pS[r * kProbPitch + part * 8 + j] = pb;
                    localSum += __bfloat162float(pb); // the sum of exactly what P·V weighs
                }
                for (int off = 4; off > 0; off /= 2)
                    localSum += __shfl_xor_sync(0xffffffffu, localSum, off);
                for (int c = part * (kMlaLoraRank / 8); c < (part + 1) * (kMlaLoraRank / 8); ++c)
                    oS[r * kOutPitch + c] *= corr;
                __syncwarp();
                if (part == 0) {
                    rowMax[r] = newMax;
                    rowSum[r] = rowSum[r] * corr + localSum;
                }
            }
            __syncthreads();

            // O[16, 512] += P[16, 64] · V[64, 512]: warp w owns output columns [128w, 128w + 128).
            for (int t = 0; t < 8; ++t) {
                const int col = warp * 128 + t * 16;
                wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
                wmma::load_matrix_sync(acc, oS + col, kOutPitch, wmma::mem_row_major);
                for (int k = 0; k < kMlaBlockSize; k += 16) {
                    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> pa;
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> vb;
                    wmma::load_matrix_sync(pa, pS + k, kProbPitch);
                    wmma::load_matrix_sync(vb, kv + k * kRowPitch + col, kRowPitch);
                    wmma::mma_sync(acc, pa, vb, acc);
                }
                wmma::store_matrix_sync(oS + col, acc, kOutPitch, wmma::mem_row_major);
            }
            __syncthreads(); // the next iteration reloads this buffer and rewrites S and P
        }
    }

    const std::size_t base = (std::size_t(seq) * nSplits + split) * a.nHeads + head0;
    for (int i = threadIdx.x; i < nHeadsHere * kMlaLoraRank; i += kThreads) {
        const int h = i / kMlaLoraRank, c = i % kMlaLoraRank;
        if (first < last)
            ws.partialOut[(base + h) * kMlaLoraRank + c] = oS[h * kOutPitch + c] / rowSum[h];
    }
    if (threadIdx.x < nHeadsHere)
        ws.partialLse[base + threadIdx.x] =
            first < last ? rowMax[threadIdx.x] + logf(rowSum[threadIdx.x]) : -INFINITY;
#endif
}

// ---- plain path ---------------------------------------------------------------------------

__global__ void __launch_bounds__(kThreads)
mlaDecodePlainKernel(MlaDecodeArgs a, Workspace ws, int nSplits)
{
    const int split = blockIdx.x;
    const int head = blockIdx.y;
    const int seq = blockIdx.z;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __shared__ float q[kMlaRowDim];
    __shared__ float scores[kMlaBlockSize];

    const int seqLen = a.seqLens[seq];
    const int nBlocks = (max(seqLen, 0) + kMlaBlockSize - 1) / kMlaBlockSize;
    int first = 0, last = 0;
    splitRange(nBlocks, nSplits, split, first, last);
    const std::int32_t *table = a.blockTable + std::size_t(seq) * a.maxBlocksPerSeq;
    const auto *cache = reinterpret_cast<const __nv_bfloat16 *>(a.cache);

    for (int c = threadIdx.x; c < kMlaRowDim; c += kThreads)
        q[c] = loadQuery(a.q, a.qType, (std::size_t(seq) * a.nHeads + head) * kMlaRowDim + c);
    __syncthreads();

    constexpr int perThread = kMlaLoraRank / kThreads; // output dims owned by each thread
    float acc[perThread] = {};
    float runningMax = -INFINITY, runningSum = 0.f;
    for (int b = first; b < last; ++b) {
        const __nv_bfloat16 *rows = cache + std::size_t(table[b]) * kMlaBlockSize * kMlaRowDim;
        const int nValid = min(kMlaBlockSize, seqLen - b * kMlaBlockSize);
        for (int j = warp; j < nValid; j += kThreads / 32) {
            float dot = 0.f;
            for (int c = lane; c < kMlaRowDim; c += 32)
                dot += q[c] * __bfloat162float(rows[std::size_t(j) * kMlaRowDim + c]);
            for (int off = 16; off > 0; off /= 2)
                dot += __shfl_xor_sync(0xffffffffu, dot, off);
            if (lane == 0)
                scores[j] = dot * a.scale;
        }
        __syncthreads();
        float blockMax = -INFINITY;
        for (int j = 0; j < nValid; ++j)
            blockMax = fmaxf(blockMax, scores[j]);
        const float newMax = fmaxf(runningMax, blockMax);
        const float corr = expf(runningMax - newMax);
        runningSum *= corr;
        for (int d = 0; d < perThread; ++d)
            acc[d] *= corr;
        // Only valid rows are read: the rest of the block may hold NaN.
        for (int j = 0; j < nValid; ++j) {
            const float pj = expf(scores[j] - newMax);
            runningSum += pj;
            for (int d = 0; d < perThread; ++d)
                acc[d] += pj * __bfloat162float(rows[std::size_t(j) * kMlaRowDim + threadIdx.x + d * kThreads]);
        }
        runningMax = newMax;
        __syncthreads(); // scores are rewritten by the next block
    }

    const std::size_t row = (std::size_t(seq) * nSplits + split) * a.nHeads + head;
    if (first < last)
        for (int d = 0; d < perThread; ++d)
            ws.partialOut[row * kMlaLoraRank + threadIdx.x + d * kThreads] = acc[d] / runningSum;
    if (threadIdx.x == 0)
        ws.partialLse[row] = first < last ? runningMax + logf(runningSum) : -INFINITY;
}

// ---- combine ------------------------------------------------------------------------------

// out = sum_s w_s * O_s / sum_s w_s with w_s = exp(lse_s - max lse). Empty splits (lse = -inf)
// are skipped outright: their partial outputs were never written.
__global__ void __launch_bounds__(kThreads)
mlaCombineKernel(Workspace ws, float *out, int nSplits, int nHeads)
{
    const int head = blockIdx.x;
    const int seq = blockIdx.y;
    const std::size_t first = std::size_t(seq) * nSplits * nHeads + head; // split 0's row
    float maxLse = -INFINITY;
    for (int s = 0; s < nSplits; ++s)
        maxLse = fmaxf(maxLse, ws.partialLse[first + std::size_t(s) * nHeads]);
    float *o = out + (std::size_t(seq) * nHeads + head) * kMlaLoraRank;
    if (maxLse == -INFINITY) { // empty sequence
        for (int c = threadIdx.x; c < kMlaLoraRank; c += kThreads)
            o[c] = 0.f;
        return;
    }
    float total = 0.f;
    for (int s = 0; s < nSplits; ++s) {
        const float lse = ws.partialLse[first + std::size_t(s) * nHeads];
        if (lse != -INFINITY)
            total += expf(lse - maxLse);
    }
    for (int c = threadIdx.x; c < kMlaLoraRank; c += kThreads) {
        float sum = 0.f;
        for (int s = 0; s < nSplits; ++s) {
            const std::size_t row = first + std::size_t(s) * nHeads;
            const float lse = ws.partialLse[row];
            if (lse != -INFINITY)
                sum += expf(lse - maxLse) * ws.partialOut[row * kMlaLoraRank + c];
        }
        o[c] = sum / total;
    }
}

int currentDevice()
{
    int device = 0;
    NW_CUDA_CHECK(cudaGetDevice(&device));
    return device;
}

int deviceAttribute(cudaDeviceAttr attr)
{
    int value = 0;
    NW_CUDA_CHECK(cudaDeviceGetAttribute(&value, attr, currentDevice()));
    return value;
}

void validate(const MlaDecodeArgs &a)
{
    if (a.batch <= 0 || a.nHeads <= 0)
        nw::fail("cuda::mlaDecode: batch {} and nHeads {} must be positive", a.batch, a.nHeads);
    if (a.maxBlocksPerSeq <= 0 || a.nCacheBlocks <= 0)
        nw::fail("cuda::mlaDecode: block table of {} blocks per sequence over {} cache blocks",
                 a.maxBlocksPerSeq, a.nCacheBlocks);
    if (a.q == nullptr || a.cache == nullptr || a.blockTable == nullptr || a.seqLens == nullptr
        || a.out == nullptr)
        nw::fail("cuda::mlaDecode: null pointer among q, cache, blockTable, seqLens, out");
    if (reinterpret_cast<std::uintptr_t>(a.cache) % 16 != 0)
        nw::fail("cuda::mlaDecode: the cache must be 16-byte aligned (cp.async)");
    if (a.qType != MlaQueryType::F32 && a.qType != MlaQueryType::BF16)
        nw::fail("cuda::mlaDecode: queries must be f32 or bf16");
    if (!std::isfinite(a.scale))
        nw::fail("cuda::mlaDecode: softmax scale {} is not finite", a.scale);
    if (a.stages < 0 || a.stages > 2)
        nw::fail("cuda::mlaDecode: {} block buffers requested (0 = automatic, 1 or 2)", a.stages);
    if (a.nSplits < 0 || a.nSplits > kMaxSplits)
        nw::fail("cuda::mlaDecode: {} splits requested (0..{})", a.nSplits, kMaxSplits);
}

} // namespace

int mlaDecodeSplits(const MlaDecodeArgs &args)
{
    if (args.nSplits > 0)
        return std::min(args.nSplits, kMaxSplits);
    // Enough CTAs for about two waves over the SMs; a split covers at least one block.
    const int ctasPerSplit = std::max(1, args.batch) * ((std::max(1, args.nHeads) + kHeadsPerCta - 1) / kHeadsPerCta);
    const int sms = deviceAttribute(cudaDevAttrMultiProcessorCount);
    const int wanted = (2 * sms + ctasPerSplit - 1) / ctasPerSplit;
    return std::clamp(wanted, 1, std::min(kMaxSplits, std::max(1, args.maxBlocksPerSeq)));
}

std::size_t mlaDecodeWorkspaceBytes(const MlaDecodeArgs &args)
{
    const std::size_t rows = std::size_t(std::max(0, args.batch)) * mlaDecodeSplits(args)
                             * std::size_t(std::max(0, args.nHeads));
    return rows * (kMlaLoraRank + 1) * sizeof(float);
}

void mlaDecode(const MlaDecodeArgs &args, void *workspace, std::size_t workspaceBytes,
               cudaStream_t stream)
{
    validate(args);
    const int nSplits = mlaDecodeSplits(args);
    const std::size_t needed = mlaDecodeWorkspaceBytes(args);
    if (workspace == nullptr || workspaceBytes < needed)
        nw::fail("cuda::mlaDecode: workspace of {} bytes, {} needed", workspaceBytes, needed);
    if (reinterpret_cast<std::uintptr_t>(workspace) % 16 != 0)
        nw::fail("cuda::mlaDecode: the workspace must be 16-byte aligned");
    const Workspace ws = splitWorkspace(workspace, args.batch, nSplits, args.nHeads);

    MlaPath path = args.path;
    if (path == MlaPath::Auto)
        path = deviceAttribute(cudaDevAttrComputeCapabilityMajor) >= 8 ? MlaPath::TensorCore : MlaPath::Plain;
    if (path == MlaPath::TensorCore) {
        if (deviceAttribute(cudaDevAttrComputeCapabilityMajor) < 8)
            nw::fail("cuda::mlaDecode: the tensor-core path needs sm_80 or newer");
        const auto optin = static_cast<std::size_t>(deviceAttribute(cudaDevAttrMaxSharedMemoryPerBlockOptin));
        // Double buffering (copy block b + 1 while computing block b) when shared memory allows
        // (H100: 227 KiB per block); A100's 163 KiB takes one buffer.
        const int stages = args.stages != 0 ? args.stages : tensorCoreSmemBytes(2) <= optin ? 2 : 1;
        const std::size_t smem = tensorCoreSmemBytes(stages);
        if (smem > optin)
            nw::fail("cuda::mlaDecode: needs {} bytes of shared memory, the device allows {}", smem, optin);
        NW_CUDA_CHECK(cudaFuncSetAttribute(mlaDecodeTensorCoreKernel,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
        const dim3 grid(nSplits, (args.nHeads + kHeadsPerCta - 1) / kHeadsPerCta, args.batch);
        mlaDecodeTensorCoreKernel<<<grid, kThreads, smem, stream>>>(args, ws, nSplits, stages);
        NW_CUDA_CHECK_LAUNCH();
    } else {
        const dim3 grid(nSplits, args.nHeads, args.batch);
        mlaDecodePlainKernel<<<grid, kThreads, 0, stream>>>(args, ws, nSplits);
        NW_CUDA_CHECK_LAUNCH();
    }
    mlaCombineKernel<<<dim3(args.nHeads, args.batch), kThreads, 0, stream>>>(ws, args.out, nSplits, args.nHeads);
    NW_CUDA_CHECK_LAUNCH();
}

} // namespace nw::cuda
