// Truncated SVD of the K/V projections (Eigen's BDCSVD) and the factor cache file.
//
// K and V are factorised separately, not jointly as one [W_k; W_v]: keys and values live in
// different subspaces (keys carry RoPE's frequency structure, values do not), so a joint latent
// of width R gives each a worse rank-R fit than its own SVD, and the cache holds R numbers for K
// and R for V either way. The factors are per layer and span all KV heads, so heads share a
// basis (GQA's heads are often close to each other, which a shared basis exploits).
#include "engine/latent_kv.h"

#include "common/error.h"
#include "common/log.h"
#include "kernels/cpu/quantize.h"

#include <Eigen/SVD>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>

namespace nw {
namespace {

constexpr char kMagic[8] = {'N', 'W', 'L', 'A', 'T', 'E', 'N', 'T'};
constexpr std::uint32_t kVersion = 1;

Eigen::MatrixXd dequantized(const WeightMatrix &w)
{
    const std::size_t stride = w.rowStride ? w.rowStride : rowBytes(w.type, static_cast<std::size_t>(w.cols));
    Eigen::MatrixXd m(w.rows, w.cols);
    std::vector<float> row(static_cast<std::size_t>(w.cols));
    for (std::int64_t r = 0; r < w.rows; ++r) {
        dequantizeRow(w.type, w.data + static_cast<std::size_t>(r) * stride, row.data(), row.size());
        for (std::int64_t c = 0; c < w.cols; ++c)
            m(r, c) = row[static_cast<std::size_t>(c)];
    }
    return m;
}

// W [rows, cols] ≈ up [rows, rank] · down [rank, cols].
void factorize(const WeightMatrix &w, std::int64_t rank, std::vector<float> &down, std::vector<float> &up)
{
    const Eigen::MatrixXd m = dequantized(w);
    const Eigen::BDCSVD<Eigen::MatrixXd> svd(m, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const Eigen::VectorXd &s = svd.singularValues();
    const std::int64_t kept = std::min<std::int64_t>(rank, s.size());
    down.assign(static_cast<std::size_t>(rank * w.cols), 0.f);
    up.assign(static_cast<std::size_t>(w.rows * rank), 0.f);
    for (std::int64_t i = 0; i < kept; ++i) {
        for (std::int64_t c = 0; c < w.cols; ++c)
            down[static_cast<std::size_t>(i * w.cols + c)] = static_cast<float>(svd.matrixV()(c, i));
        for (std::int64_t r = 0; r < w.rows; ++r)
            up[static_cast<std::size_t>(r * rank + i)] = static_cast<float>(svd.matrixU()(r, i) * s(i));
    }
}

void hashBytes(std::uint64_t &h, const void *data, std::size_t n)
{
    const auto *p = static_cast<const unsigned char *>(data);
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
}

} // namespace

LatentFactors factorizeKv(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv, std::int64_t rank)
{
    if (wk.empty() || wk.size() != wv.size())
        fail("latent KV: {} key and {} value projections", wk.size(), wv.size());
    LatentFactors f;
    f.rank = rank;
    f.nEmbd = wk[0].cols;
    f.kDim = wk[0].rows;
    f.vDim = wv[0].rows;
    if (rank <= 0 || rank > f.kDim || rank > f.vDim)
        fail("latent rank {} must lie in 1..{} (the model's K width {} and V width {})", rank,
             std::min(f.kDim, f.vDim), f.kDim, f.vDim);
    f.layers.resize(wk.size());
    for (std::size_t l = 0; l < wk.size(); ++l) {
        if (wk[l].cols != f.nEmbd || wv[l].cols != f.nEmbd || wk[l].rows != f.kDim || wv[l].rows != f.vDim)
            fail("latent KV: layer {} has K/V projections of another shape", l);
        factorize(wk[l], rank, f.layers[l].kDown, f.layers[l].kUp);
        factorize(wv[l], rank, f.layers[l].vDown, f.layers[l].vUp);
    }
    return f;
}

std::uint64_t kvWeightsHash(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv)
{
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::span<const WeightMatrix> set : {wk, wv})
        for (const WeightMatrix &w : set) {
            const std::int64_t head[3] = {static_cast<std::int64_t>(w.type), w.rows, w.cols};
            hashBytes(h, head, sizeof head);
            const std::size_t rb = rowBytes(w.type, static_cast<std::size_t>(w.cols));
            const std::size_t stride = w.rowStride ? w.rowStride : rb;
            for (std::int64_t r = 0; r < w.rows; ++r)
                hashBytes(h, w.data + static_cast<std::size_t>(r) * stride, rb);
        }
    return h;
}

std::filesystem::path latentCacheDir()
{
    if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
        return std::filesystem::path(xdg) / "needlework" / "latent";
    if (const char *home = std::getenv("HOME"); home && *home)
        return std::filesystem::path(home) / ".cache" / "needlework" / "latent";
    return std::filesystem::temp_directory_path() / "needlework-latent";
}

LatentFactors readLatentFactors(const std::filesystem::path &path, std::int64_t rank, std::int64_t nLayers,
                                std::int64_t nEmbd, std::int64_t kDim, std::int64_t vDim)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail("cannot open latent factor file {}", path.string());
    char magic[8];
    std::uint32_t version = 0;
    std::int64_t dims[5];
    in.read(magic, sizeof magic);
    in.read(reinterpret_cast<char *>(&version), sizeof version);
    in.read(reinterpret_cast<char *>(dims), sizeof dims);
    if (!in || std::memcmp(magic, kMagic, sizeof magic) != 0 || version != kVersion)
        fail("{} is not a latent factor file (version {})", path.string(), kVersion);
    const std::int64_t want[5] = {rank, nLayers, nEmbd, kDim, vDim};
    if (std::memcmp(dims, want, sizeof dims) != 0)
        fail("{}: factors for rank {} / {} layers / width {}, K {}, V {}; expected {} / {} / {}, {}, {}", path.string(),
             dims[0], dims[1], dims[2], dims[3], dims[4], rank, nLayers, nEmbd, kDim, vDim);
    LatentFactors f;
    f.rank = rank;
    f.nEmbd = nEmbd;
    f.kDim = kDim;
    f.vDim = vDim;
    f.layers.resize(static_cast<std::size_t>(nLayers));
    const auto readArray = [&](std::vector<float> &a, std::int64_t n) {
        a.resize(static_cast<std::size_t>(n));
        in.read(reinterpret_cast<char *>(a.data()), static_cast<std::streamsize>(a.size() * sizeof(float)));
    };
    for (LatentLayerFactors &l : f.layers) {
        readArray(l.kDown, rank * nEmbd);
        readArray(l.kUp, kDim * rank);
        readArray(l.vDown, rank * nEmbd);
        readArray(l.vUp, vDim * rank);
    }
    if (!in || in.peek() != std::char_traits<char>::eof())
        fail("{}: truncated or oversized latent factor file", path.string());
    return f;
}

void writeLatentFactors(const LatentFactors &f, const std::filesystem::path &path)
{
    std::filesystem::create_directories(path.parent_path());
    const std::filesystem::path tmp = path.string() + ".tmp" + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        const std::int64_t dims[5] = {f.rank, static_cast<std::int64_t>(f.layers.size()), f.nEmbd, f.kDim, f.vDim};
        out.write(kMagic, sizeof kMagic);
        out.write(reinterpret_cast<const char *>(&kVersion), sizeof kVersion);
        out.write(reinterpret_cast<const char *>(dims), sizeof dims);
        for (const LatentLayerFactors &l : f.layers)
            for (const std::vector<float> *a : {&l.kDown, &l.kUp, &l.vDown, &l.vUp})
                out.write(reinterpret_cast<const char *>(a->data()), static_cast<std::streamsize>(a->size() * sizeof(float)));
        out.flush();
        if (!out)
            fail("cannot write latent factor file {}", tmp.string());
    }
    std::filesystem::rename(tmp, path);
}

LatentFactors loadOrFactorizeKv(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv,
                                std::int64_t rank, const std::filesystem::path &dir, bool *loadedFromCache)
{
    if (wk.empty())
        fail("latent KV: a model without layers");
    const std::uint64_t hash = kvWeightsHash(wk, wv);
    const std::filesystem::path path = dir / fmt::format("{:016x}-r{}.nwlat", hash, rank);
    auto log = log::get("engine");
    if (std::filesystem::exists(path)) {
        try {
            LatentFactors f = readLatentFactors(path, rank, static_cast<std::int64_t>(wk.size()), wk[0].cols,
                                                wk[0].rows, wv[0].rows);
            if (loadedFromCache)
                *loadedFromCache = true;
            log->debug("latent:{} factors read from {}", rank, path.string());
            return f;
        } catch (const Error &e) {
            log->warn("recomputing latent factors: {}", e.what());
        }
    }
    log->info("latent:{}: SVD of {} layers' K/V projections (once; cached in {})", rank, wk.size(), dir.string());
    LatentFactors f = factorizeKv(wk, wv, rank);
    try {
        writeLatentFactors(f, path);
    } catch (const std::exception &e) {
        log->warn("latent factors not cached: {}", e.what());
    }
    if (loadedFromCache)
        *loadedFromCache = false;
    return f;
}

} // namespace nw
