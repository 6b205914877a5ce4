// Low-rank factors of the K/V projections (Eigen, double precision), their cache file, and the
// absorbed and expanded forms of latent:R attention.
//
// K and V are factorised separately, not jointly as one [W_k; W_v]: keys and values live in
// different subspaces (keys carry RoPE's frequency structure, values do not), so a joint latent
// of width R gives each a worse rank-R fit than its own factors, and the cache holds R numbers
// for K and R for V either way. The factors are per layer and span all KV heads, so heads share
// a basis (GQA's heads are often close to each other, which a shared basis exploits).
//
// RoPE and the absorbed form. RoPE rotates each pair (x_a, x_b) of a key head by an angle that
// depends on the token's position and the pair's frequency; written as a complex number
// x_a + i·x_b, pair p of every head is multiplied by the same e^{iθ_p·pos}. A plain SVD of W_k
// mixes all pairs into every latent, and no fixed matrix moves a position-dependent rotation
// from the key to its latent, so the old form had to expand and rotate every cached key at every
// step (0.15-0.31× of full's decode speed). Instead the factorisation is done per frequency, in
// complex arithmetic: for pair p, the nKvHeads complex rows M_p = W_k[(g, a)] + i·W_k[(g, b)]
// are factorised as M_p ≈ U_p · (U_pᴴ M_p) with U_p the leading eigenvectors of M_p M_pᴴ (of
// M_p C M_pᴴ when calibrated, C the inputs' covariance). A complex latent z = u_pᴴ M_p x is then
// one real pair of the cache, and since u_p[g]·(e^{iθ}z) = e^{iθ}(u_p[g]·z) the cache can hold
// the latent already rotated by pair p's angle: kUp · rope(c) = rope(kUp · c), exactly. The
// score becomes q̂ · kUp_g ĉ = (kUp_gᵀ q̂) · ĉ — one dot of length R per head and cached token,
// with the query projected once per step. The R/2 complex directions kept are the ones with
// the largest eigenvalues over all frequencies (the best rank under this structure; at full
// rank, R = kDim, every direction is kept and W_k is reproduced). The price against an
// unstructured SVD is that a latent pair cannot mix frequencies, which the perplexity bench
// measures (bench/kv_modes).
#include "engine/latent_kv.h"

#include "common/assert.h"
#include "common/error.h"
#include "common/log.h"
#include "engine/kv_cache.h"
#include "kernels/cpu/hadamard.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/turbo_quant.h"

#include <Eigen/Core>
#include <Eigen/Eigenvalues>
#include <fmt/format.h>

#include <algorithm>
#include <complex>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <string>
#include <unistd.h>

namespace nw {
namespace {

constexpr char kMagic[8] = { 'N', 'W', 'L', 'A', 'T', 'E', 'N', 'T' };
constexpr std::uint32_t kVersion = 2; // 2: per-frequency K factors with kPairs

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

// K: the per-frequency complex factors described at the top of the file. w: [kDim, nEmbd].
// moments: the calibration's Σ k_p k_pᴴ per pair, or null for the weights alone (C = I).
void factorizeKeys(const Eigen::MatrixXd &w, const LatentKeyGeometry &geo, std::int64_t rank,
    const std::vector<std::complex<double>> *moments, LatentLayerFactors &out)
{
    const int nPairs = static_cast<int>(geo.headDimK / 2);
    const auto heads = static_cast<Eigen::Index>(geo.nKvHeads);
    const Eigen::Index cols = w.cols();
    struct Direction {
        double eigenvalue;
        int pair;
        Eigen::VectorXcd u; // [nKvHeads]
    };
    std::vector<Eigen::MatrixXcd> m(static_cast<std::size_t>(nPairs));
    std::vector<Direction> directions;
    for (int p = 0; p < nPairs; ++p) {
        const auto [a, b] = geo.pairDims(p);
        Eigen::MatrixXcd &mp = m[static_cast<std::size_t>(p)];
        mp.resize(heads, cols);
        for (Eigen::Index g = 0; g < heads; ++g)
            for (Eigen::Index c = 0; c < cols; ++c)
                mp(g, c) = { w(g * geo.headDimK + a, c), w(g * geo.headDimK + b, c) };
        Eigen::MatrixXcd gram(heads, heads);
        if (moments)
            gram = Eigen::Map<
                const Eigen::Matrix<std::complex<double>, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                moments->data() + std::size_t(p) * std::size_t(heads * heads), heads, heads);
        else
            gram = mp * mp.adjoint();
        const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> eig(gram);
        for (Eigen::Index k = 0; k < heads; ++k)
            directions.push_back({ eig.eigenvalues()(k), p, eig.eigenvectors().col(k) });
    }
    // Largest first; ties keep the lower pair first so the choice does not depend on sort order.
    std::stable_sort(directions.begin(), directions.end(),
        [](const Direction &x, const Direction &y) { return x.eigenvalue > y.eigenvalue; });
    const auto kDim = static_cast<std::size_t>(geo.kDim());
    const auto r = static_cast<std::size_t>(rank);
    out.kDown.assign(r * static_cast<std::size_t>(cols), 0.f);
    out.kUp.assign(kDim * r, 0.f);
    out.kPairs.assign(r / 2, 0);
    for (std::size_t j = 0; j < r / 2; ++j) {
        const Direction &d = directions[j];
        const auto [a, b] = geo.pairDims(d.pair);
        out.kPairs[j] = d.pair;
        // z = uᴴ M_p x: its real and imaginary parts are latent elements 2j and 2j + 1.
        const Eigen::RowVectorXcd down = d.u.adjoint() * m[static_cast<std::size_t>(d.pair)];
        for (Eigen::Index c = 0; c < cols; ++c) {
            out.kDown[(2 * j) * std::size_t(cols) + std::size_t(c)] = static_cast<float>(down(c).real());
            out.kDown[(2 * j + 1) * std::size_t(cols) + std::size_t(c)] = static_cast<float>(down(c).imag());
        }
        // k_(g,p) += u[g] · z as a real 2×2 block: [Re u, -Im u; Im u, Re u].
        for (Eigen::Index g = 0; g < heads; ++g) {
            const std::complex<double> u = d.u(g);
            const std::size_t rowA = std::size_t(g * geo.headDimK + a), rowB = std::size_t(g * geo.headDimK + b);
            out.kUp[rowA * r + 2 * j] = static_cast<float>(u.real());
            out.kUp[rowA * r + 2 * j + 1] = static_cast<float>(-u.imag());
            out.kUp[rowB * r + 2 * j] = static_cast<float>(u.imag());
            out.kUp[rowB * r + 2 * j + 1] = static_cast<float>(u.real());
        }
    }
}

// V: W_v ≈ U_R (U_Rᵀ W_v) with U_R the leading eigenvectors of W_v W_vᵀ (the left singular
// vectors: the truncated SVD, with the singular values kept in the down-projection so that vUp
// has orthonormal columns and a rounding error in the cached latent is no larger in V).
void factorizeValues(
    const Eigen::MatrixXd &w, std::int64_t rank, const std::vector<double> *moments, LatentLayerFactors &out)
{
    Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(w.rows(), w.rows());
    if (moments)
        gram = Eigen::Map<const Eigen::MatrixXd>(moments->data(), w.rows(), w.rows());
    else
        gram.selfadjointView<Eigen::Lower>().rankUpdate(w);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram); // reads the lower triangle
    const auto r = static_cast<std::size_t>(rank);
    const Eigen::MatrixXd u = eig.eigenvectors().rightCols(rank).rowwise().reverse(); // largest first
    const Eigen::MatrixXd down = u.transpose() * w;
    out.vDown.resize(r * std::size_t(w.cols()));
    out.vUp.resize(std::size_t(w.rows()) * r);
    for (Eigen::Index i = 0; i < down.rows(); ++i)
        for (Eigen::Index c = 0; c < down.cols(); ++c)
            out.vDown[std::size_t(i * down.cols() + c)] = static_cast<float>(down(i, c));
    for (Eigen::Index i = 0; i < u.rows(); ++i)
        for (Eigen::Index c = 0; c < u.cols(); ++c)
            out.vUp[std::size_t(i) * r + std::size_t(c)] = static_cast<float>(u(i, c));
}

void deriveKeyFold(const LatentKeyGeometry &geo, std::int64_t rank, LatentLayerFactors &l)
{
    const auto r = std::size_t(rank), hd = std::size_t(geo.headDimK);
    l.kUpT.resize(std::size_t(geo.nKvHeads) * r * hd);
    for (std::size_t g = 0; g < std::size_t(geo.nKvHeads); ++g)
        for (std::size_t i = 0; i < r; ++i)
            for (std::size_t d = 0; d < hd; ++d)
                l.kUpT[(g * r + i) * hd + d] = l.kUp[(g * hd + d) * r + i];
}

void checkGeometry(const LatentKeyGeometry &geo)
{
    if (geo.nKvHeads <= 0 || geo.headDimK <= 0 || geo.headDimV <= 0 || geo.headDimK % 2 != 0 || geo.ropeDims < 0
        || geo.ropeDims % 2 != 0 || geo.ropeDims > geo.headDimK)
        fail("latent KV: {} KV heads of K dim {} (RoPE on {}) and V dim {}: K heads must be even and hold the "
             "rotated dims",
            geo.nKvHeads, geo.headDimK, geo.ropeDims, geo.headDimV);
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

std::pair<int, int> LatentKeyGeometry::pairDims(int p) const
{
    const int rot = static_cast<int>(ropeDims);
    if (2 * p < rot)
        return neox ? std::pair { p, p + rot / 2 } : std::pair { 2 * p, 2 * p + 1 };
    const int d = rot + 2 * (p - rot / 2);
    return { d, d + 1 };
}

LatentCalibration::LatentCalibration(const LatentKeyGeometry &geometry, std::int64_t nLayers)
    : m_geometry(geometry)
    , m_key(std::size_t(nLayers),
          std::vector<std::complex<double>>(std::size_t(geometry.headDimK / 2 * geometry.nKvHeads * geometry.nKvHeads)))
    , m_value(std::size_t(nLayers), std::vector<double>(std::size_t(geometry.vDim() * geometry.vDim())))
{
    checkGeometry(geometry);
}

void LatentCalibration::add(std::size_t layer, const float *k, const float *v, int nTokens)
{
    NW_ASSERT(layer < m_key.size() && nTokens >= 0);
    const LatentKeyGeometry &geo = m_geometry;
    const auto heads = std::size_t(geo.nKvHeads), hd = std::size_t(geo.headDimK), kDim = std::size_t(geo.kDim());
    const auto vDim = std::size_t(geo.vDim());
    std::vector<std::complex<double>> &km = m_key[layer];
    std::vector<double> &vm = m_value[layer];
    std::vector<std::complex<double>> z(heads);
    for (std::size_t t = 0; t < std::size_t(nTokens); ++t) {
        const float *kt = k + t * kDim;
        for (std::size_t p = 0; p < hd / 2; ++p) {
            const auto [a, b] = geo.pairDims(int(p));
            for (std::size_t g = 0; g < heads; ++g)
                z[g] = { kt[g * hd + std::size_t(a)], kt[g * hd + std::size_t(b)] };
            std::complex<double> *m = km.data() + p * heads * heads;
            for (std::size_t i = 0; i < heads; ++i)
                for (std::size_t j = 0; j < heads; ++j)
                    m[i * heads + j] += z[i] * std::conj(z[j]);
        }
        const float *vt = v + t * vDim;
        for (std::size_t i = 0; i < vDim; ++i)
            for (std::size_t j = 0; j < vDim; ++j)
                vm[i * vDim + j] += double(vt[i]) * vt[j];
    }
    if (layer == 0)
        m_tokens += nTokens;
}

std::uint64_t LatentCalibration::hash() const
{
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const auto &m : m_key)
        hashBytes(h, m.data(), m.size() * sizeof(m[0]));
    for (const auto &m : m_value)
        hashBytes(h, m.data(), m.size() * sizeof(m[0]));
    return h;
}

LatentFactors factorizeKv(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv,
    const LatentKeyGeometry &geometry, std::int64_t rank, const LatentCalibration *calibration)
{
    if (wk.empty() || wk.size() != wv.size())
        fail("latent KV: {} key and {} value projections", wk.size(), wv.size());
    checkGeometry(geometry);
    if (calibration) {
        const LatentKeyGeometry &c = calibration->geometry();
        if (c.nKvHeads != geometry.nKvHeads || c.headDimK != geometry.headDimK || c.headDimV != geometry.headDimV
            || c.ropeDims != geometry.ropeDims || c.neox != geometry.neox || calibration->tokens() == 0)
            fail("latent KV: the calibration was gathered for another head layout or holds no tokens");
    }
    LatentFactors f;
    f.rank = rank;
    f.nEmbd = wk[0].cols;
    f.geometry = geometry;
    const std::int64_t kDim = geometry.kDim(), vDim = geometry.vDim();
    if (rank <= 0 || rank > kDim || rank > vDim || rank % 2 != 0)
        fail("latent rank {} must be even and lie in 2..{} (the model's K width {} and V width {}; K latents are "
             "rotated in pairs)",
            rank, std::min(kDim, vDim), kDim, vDim);
    f.layers.resize(wk.size());
    for (std::size_t l = 0; l < wk.size(); ++l) {
        if (wk[l].cols != f.nEmbd || wv[l].cols != f.nEmbd || wk[l].rows != kDim || wv[l].rows != vDim)
            fail("latent KV: layer {} has K/V projections of another shape", l);
        factorizeKeys(
            dequantized(wk[l]), geometry, rank, calibration ? &calibration->keyMoments(l) : nullptr, f.layers[l]);
        factorizeValues(dequantized(wv[l]), rank, calibration ? &calibration->valueMoments(l) : nullptr, f.layers[l]);
        deriveKeyFold(geometry, rank, f.layers[l]);
    }
    return f;
}

std::uint64_t kvWeightsHash(
    std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv, const LatentKeyGeometry &geometry)
{
    std::uint64_t h = 0xcbf29ce484222325ull;
    const std::int64_t geo[5]
        = { geometry.nKvHeads, geometry.headDimK, geometry.headDimV, geometry.ropeDims, geometry.neox ? 1 : 0 };
    hashBytes(h, geo, sizeof geo);
    for (std::span<const WeightMatrix> set : { wk, wv })
        for (const WeightMatrix &w : set) {
            const std::int64_t head[3] = { static_cast<std::int64_t>(w.type), w.rows, w.cols };
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
    std::int64_t nEmbd, const LatentKeyGeometry &geometry)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail("cannot open latent factor file {}", path.string());
    char magic[8];
    std::uint32_t version = 0;
    std::int64_t dims[8];
    in.read(magic, sizeof magic);
    in.read(reinterpret_cast<char *>(&version), sizeof version);
    in.read(reinterpret_cast<char *>(dims), sizeof dims);
    if (!in || std::memcmp(magic, kMagic, sizeof magic) != 0 || version != kVersion)
        fail("{} is not a latent factor file (version {})", path.string(), kVersion);
    const std::int64_t want[8] = { rank, nLayers, nEmbd, geometry.nKvHeads, geometry.headDimK, geometry.headDimV,
        geometry.ropeDims, geometry.neox ? 1 : 0 };
    if (std::memcmp(dims, want, sizeof dims) != 0)
        fail("{}: factors for rank {} / {} layers / width {} / {} KV heads of K {} V {} (RoPE {}, neox {}); expected "
             "{} / {} / {} / {} of {} {} ({}, {})",
            path.string(), dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6], dims[7], want[0], want[1],
            want[2], want[3], want[4], want[5], want[6], want[7]);
    LatentFactors f;
    f.rank = rank;
    f.nEmbd = nEmbd;
    f.geometry = geometry;
    f.layers.resize(static_cast<std::size_t>(nLayers));
    const auto readArray = [&](auto &a, std::int64_t n) {
        a.resize(static_cast<std::size_t>(n));
        in.read(reinterpret_cast<char *>(a.data()), static_cast<std::streamsize>(a.size() * sizeof(a[0])));
    };
    for (LatentLayerFactors &l : f.layers) {
        readArray(l.kDown, rank * nEmbd);
        readArray(l.kUp, geometry.kDim() * rank);
        readArray(l.kPairs, rank / 2);
        readArray(l.vDown, rank * nEmbd);
        readArray(l.vUp, geometry.vDim() * rank);
        for (std::int32_t p : l.kPairs)
            if (p < 0 || p >= geometry.headDimK / 2)
                fail("{}: latent pair of RoPE pair {} outside a head of {}", path.string(), p, geometry.headDimK);
        deriveKeyFold(geometry, rank, l);
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
        const LatentKeyGeometry &g = f.geometry;
        const std::int64_t dims[8] = { f.rank, static_cast<std::int64_t>(f.layers.size()), f.nEmbd, g.nKvHeads,
            g.headDimK, g.headDimV, g.ropeDims, g.neox ? 1 : 0 };
        out.write(kMagic, sizeof kMagic);
        out.write(reinterpret_cast<const char *>(&kVersion), sizeof kVersion);
        out.write(reinterpret_cast<const char *>(dims), sizeof dims);
        const auto writeArray = [&](const auto &a) {
            out.write(reinterpret_cast<const char *>(a.data()), static_cast<std::streamsize>(a.size() * sizeof(a[0])));
        };
        for (const LatentLayerFactors &l : f.layers) {
            writeArray(l.kDown);
            writeArray(l.kUp);
            writeArray(l.kPairs);
            writeArray(l.vDown);
            writeArray(l.vUp);
        }
        out.flush();
        if (!out)
            fail("cannot write latent factor file {}", tmp.string());
    }
    std::filesystem::rename(tmp, path);
}

LatentFactors loadOrFactorizeKv(std::span<const WeightMatrix> wk, std::span<const WeightMatrix> wv,
    const LatentKeyGeometry &geometry, std::int64_t rank, const std::filesystem::path &dir, bool *loadedFromCache,
    const LatentCalibration *calibration)
{
    if (wk.empty())
        fail("latent KV: a model without layers");
    const std::uint64_t hash = kvWeightsHash(wk, wv, geometry);
    const std::string calibrated = calibration ? fmt::format("-c{:016x}", calibration->hash()) : std::string();
    const std::filesystem::path path = dir / fmt::format("{:016x}-r{}{}.nwlat", hash, rank, calibrated);
    auto log = log::get("engine");
    if (std::filesystem::exists(path)) {
        try {
            LatentFactors f = readLatentFactors(path, rank, static_cast<std::int64_t>(wk.size()), wk[0].cols, geometry);
            if (loadedFromCache)
                *loadedFromCache = true;
            log->debug("latent:{} factors read from {}", rank, path.string());
            return f;
        } catch (const Error &e) {
            log->warn("recomputing latent factors: {}", e.what());
        }
    }
    log->info("latent:{}: factorising {} layers' K/V projections (once; cached in {})", rank, wk.size(), dir.string());
    LatentFactors f = factorizeKv(wk, wv, geometry, rank, calibration);
    try {
        writeLatentFactors(f, path);
    } catch (const std::exception &e) {
        log->warn("latent factors not cached: {}", e.what());
    }
    if (loadedFromCache)
        *loadedFromCache = false;
    return f;
}

void LatentAttention::perGroup(Backend &be, const float *src, int inDim, float *dst, int outDim, int nTokens,
    int nHeads, int nGroups, const float *weights, std::size_t groupStride)
{
    const int group = nHeads / nGroups;
    const auto in = std::size_t(inDim), out = std::size_t(outDim);
    for (int g = 0; g < nGroups; ++g) {
        const WeightMatrix w = denseWeights(TensorType::F32, outDim, inDim, weights + std::size_t(g) * groupStride);
        const std::size_t first = std::size_t(g) * std::size_t(group);
        if (nTokens == 1) { // the group's rows are already contiguous
            be.matmul(w, src + first * in, dst + first * out, group);
            continue;
        }
        const std::size_t rows = std::size_t(nTokens) * std::size_t(group);
        m_in.resize(rows * in);
        m_out.resize(rows * out);
        for (std::size_t t = 0; t < std::size_t(nTokens); ++t)
            std::copy_n(src + (t * std::size_t(nHeads) + first) * in, std::size_t(group) * in,
                m_in.data() + t * std::size_t(group) * in);
        be.matmul(w, m_in.data(), m_out.data(), static_cast<int>(rows));
        for (std::size_t t = 0; t < std::size_t(nTokens); ++t)
            std::copy_n(m_out.data() + t * std::size_t(group) * out, std::size_t(group) * out,
                dst + (t * std::size_t(nHeads) + first) * out);
    }
}

void LatentAttention::run(Backend &be, const LatentFactors &f, std::size_t layer, const RopeParams &rope,
    KvCache &cache, const LatentAttentionArgs &a, LatentForm form)
{
    const LatentKeyGeometry &geo = f.geometry;
    NW_ASSERT(layer < f.layers.size() && a.nTokens > 0 && a.x && a.q && a.out && a.positions);
    NW_ASSERT(a.nHeads > 0 && a.nHeads % geo.nKvHeads == 0);
    NW_ASSERT(cache.layout().spec.mode == KvMode::Latent && cache.layout().kHeadDim == f.rank);
    const LatentLayerFactors &lf = f.layers[layer];
    const int n = a.nTokens;
    const auto r = std::size_t(f.rank), hd = std::size_t(geo.headDimK);

    // New latents: c_k = kDown·x and c_v = vDown·x, then each K latent pair rotated by its RoPE
    // pair's angle at the token's position. The angles come from the model's own rope on a
    // probe whose pairs are (1, 0): the result is (cos, sin) of every pair exactly as the keys
    // and queries are rotated (YaRN, frequency factors and scaling included), with no second
    // copy of RoPE's formulas here.
    m_ck.resize(std::size_t(n) * r);
    m_cv.resize(std::size_t(n) * r);
    be.matmul(denseWeights(TensorType::F32, f.rank, f.nEmbd, lf.kDown.data()), a.x, m_ck.data(), n);
    be.matmul(denseWeights(TensorType::F32, f.rank, f.nEmbd, lf.vDown.data()), a.x, m_cv.data(), n);
    if (a.kLatentBias)
        be.addRow(m_ck.data(), a.kLatentBias, n, int(r));
    if (a.vLatentBias)
        be.addRow(m_cv.data(), a.vLatentBias, n, int(r));
    m_probe.assign(std::size_t(n) * hd, 0.f);
    for (std::size_t t = 0; t < std::size_t(n); ++t)
        for (int p = 0; p < int(hd / 2); ++p)
            m_probe[t * hd + std::size_t(geo.pairDims(p).first)] = 1.f;
    if (rope.nDims > 0)
        be.rope(m_probe.data(), n, 1, int(hd), 0, a.positions, rope);
    for (std::size_t t = 0; t < std::size_t(n); ++t) {
        float *c = m_ck.data() + t * r;
        const float *cs = m_probe.data() + t * hd;
        for (std::size_t j = 0; j < r / 2; ++j) {
            const auto [da, db] = geo.pairDims(lf.kPairs[j]);
            const float cosA = cs[da], sinA = cs[db];
            const float x0 = c[2 * j], x1 = c[2 * j + 1];
            c[2 * j] = x0 * cosA - x1 * sinA;
            c[2 * j + 1] = x0 * sinA + x1 * cosA;
        }
    }
    const KvLayerView view = cache.layerView(static_cast<std::int64_t>(layer));
    be.storeKv(view, m_ck.data(), m_cv.data(), n, a.positions);

    if (form == LatentForm::Auto) {
        // Multiply-adds of each form; attention's share counts both the score and the V sum.
        const double cached = double(a.positions[n - 1]) + 1;
        const double seen = double(a.positions[0]) + (n + 1) / 2.0; // cache tokens per query, on average
        const double heads = a.nHeads, rank = double(r);
        const double absorbed = n * seen * heads * 2 * rank + n * heads * double(geo.headDimK + geo.headDimV) * rank;
        const double expanded
            = cached * double(geo.kDim() + geo.vDim()) * rank + n * seen * heads * double(geo.headDimK + geo.headDimV);
        form = absorbed <= expanded ? LatentForm::Absorbed : LatentForm::Expanded;
    }
    m_lastForm = form;
    if (form == LatentForm::Absorbed)
        absorbed(be, f, lf, view, a);
    else
        expanded(be, f, lf, layer, cache, a);
}

// q̃_h = kUp_gᵀ q̂_h scores the rotated K latents; the softmax-weighted sum of V latents is
// projected once per head by vUp_g.
void LatentAttention::absorbed(Backend &be, const LatentFactors &f, const LatentLayerFactors &lf,
    const KvLayerView &view, const LatentAttentionArgs &a)
{
    const LatentKeyGeometry &geo = f.geometry;
    const int rank = static_cast<int>(f.rank), groups = static_cast<int>(geo.nKvHeads);
    const std::size_t rows = std::size_t(a.nTokens) * std::size_t(a.nHeads);
    m_qLatent.resize(rows * std::size_t(rank));
    m_outLatent.resize(rows * std::size_t(rank));
    perGroup(be, a.q, int(geo.headDimK), m_qLatent.data(), rank, a.nTokens, a.nHeads, groups, lf.kUpT.data(),
        std::size_t(rank) * std::size_t(geo.headDimK));
    AttentionArgs args;
    args.q = m_qLatent.data();
    args.out = m_outLatent.data();
    args.nTokens = a.nTokens;
    args.nHeads = a.nHeads;
    args.queryPositions = a.positions;
    args.scale = a.scale;
    args.window = a.window;
    args.sinkTokens = a.sinkTokens;
    args.sinks = a.sinks;
    args.kv = view; // one shared "head" of rank elements for K and for V
    be.attention(args);
    perGroup(be, m_outLatent.data(), rank, a.out, int(geo.headDimV), a.nTokens, a.nHeads, groups, lf.vUp.data(),
        std::size_t(geo.headDimV) * std::size_t(rank));
}

// Every cached K/V rebuilt: kUp · ĉ is the key already rotated (kUp commutes with RoPE), vUp · c
// the value; then ordinary attention over an f32 one-block view.
void LatentAttention::expanded(Backend &be, const LatentFactors &f, const LatentLayerFactors &lf, std::size_t layer,
    KvCache &cache, const LatentAttentionArgs &a)
{
    const LatentKeyGeometry &geo = f.geometry;
    const auto r = std::size_t(f.rank);
    const auto nKv = std::size_t(a.positions[a.nTokens - 1]) + 1;
    m_ck.resize(nKv * r);
    m_cv.resize(nKv * r);
    const KvLayout &layout = cache.plan(std::int64_t(layer)).layout;
    // A window layer no longer holds the rows between its sinks and the first query's window;
    // attention does not read them (args.window, args.sinkTokens), so they stay zero here.
    const auto first = std::size_t(a.window > 0 ? std::max(0, a.positions[0] + 1 - a.window) : 0);
    const std::size_t sinks = std::min(first, std::size_t(a.sinkTokens));
    std::fill(m_ck.begin() + std::ptrdiff_t(sinks * r), m_ck.begin() + std::ptrdiff_t(first * r), 0.f);
    std::fill(m_cv.begin() + std::ptrdiff_t(sinks * r), m_cv.begin() + std::ptrdiff_t(first * r), 0.f);
    // The sink rows [0, sinks), then the rows from `first` on.
    for (std::size_t t = sinks > 0 ? 0 : first; t < nKv; t = t + 1 == sinks ? first : t + 1) {
        const std::byte *kRow = cache.kRow(std::int64_t(layer), std::int64_t(t));
        const std::byte *vRow = cache.vRow(std::int64_t(layer), std::int64_t(t));
        // TurboQuant rows decode straight to the original domain (kernels/cpu/turbo_quant.h).
        if (layout.kBits > 0)
            turboDequantizeRow(layout.kBits, kRow, 1, r, m_ck.data() + t * r);
        else
            dequantizeRow(layout.kType, kRow, m_ck.data() + t * r, r);
        if (layout.vBits > 0)
            turboDequantizeRow(layout.vBits, vRow, 1, r, m_cv.data() + t * r);
        else
            dequantizeRow(layout.vType, vRow, m_cv.data() + t * r, r);
        if (layout.kRotation > 0) // rows stored rotated (kernels/cpu/hadamard.h) are rotated back
            hadamardRotate(m_ck.data() + t * r, r, layout.kRotation);
        if (layout.vRotation > 0)
            hadamardRotate(m_cv.data() + t * r, r, layout.vRotation);
    }
    const auto kDim = std::size_t(geo.kDim()), vDim = std::size_t(geo.vDim());
    m_kAll.resize(nKv * kDim);
    m_vAll.resize(nKv * vDim);
    be.matmul(denseWeights(TensorType::F32, geo.kDim(), f.rank, lf.kUp.data()), m_ck.data(), m_kAll.data(), int(nKv));
    be.matmul(denseWeights(TensorType::F32, geo.vDim(), f.rank, lf.vUp.data()), m_cv.data(), m_vAll.data(), int(nKv));
    static const std::int32_t kOneBlock[1] = { 0 };
    AttentionArgs args;
    args.q = a.q;
    args.out = a.out;
    args.nTokens = a.nTokens;
    args.nHeads = a.nHeads;
    args.queryPositions = a.positions;
    args.scale = a.scale;
    args.window = a.window;
    args.sinkTokens = a.sinkTokens;
    args.sinks = a.sinks;
    args.kv.type = TensorType::F32;
    args.kv.blockSize = int(nKv);
    args.kv.blockTable = kOneBlock;
    args.kv.kBlocks = reinterpret_cast<std::byte *>(m_kAll.data());
    args.kv.kRowStride = kDim * sizeof(float);
    args.kv.kBlockStride = nKv * args.kv.kRowStride;
    args.kv.vBlocks = reinterpret_cast<std::byte *>(m_vAll.data());
    args.kv.vRowStride = vDim * sizeof(float);
    args.kv.vBlockStride = nKv * args.kv.vRowStride;
    args.kv.nKvHeads = static_cast<int>(geo.nKvHeads);
    args.kv.kHeadDim = static_cast<int>(geo.headDimK);
    args.kv.vHeadDim = static_cast<int>(geo.headDimV);
    be.attention(args);
}

} // namespace nw
