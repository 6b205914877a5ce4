// The sampling chain; each filter keeps at least one candidate.
#include "engine/sampler.h"

#include "common/assert.h"
#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace nw {

void validateSamplerParams(const SamplerParams &params)
{
    const std::pair<const char *, float> fields[] = {{"temperature", params.temperature},
                                                      {"top-p", params.topP},
                                                      {"min-p", params.minP},
                                                      {"repeat penalty", params.repeatPenalty}};
    for (const auto &[name, value] : fields)
        if (!std::isfinite(value))
            fail("sampler: the {} is {}, not a finite number", name, value);
    if (!(params.repeatPenalty > 0.f))
        fail("sampler: the repeat penalty is {}; it must be positive (1 is off)", params.repeatPenalty);
}

Sampler::Sampler(const SamplerParams &params) : m_params(params), m_state(params.seed)
{
    validateSamplerParams(params);
}

void Sampler::reseed(std::uint64_t seed)
{
    m_state = seed;
}

double Sampler::nextUniform()
{
    // splitmix64 (Steele, Lea, Flood 2014): portable, so a seed reproduces on every libstdc++.
    std::uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
}

std::int32_t Sampler::sample(std::span<const float> logits, std::span<const std::int32_t> recent)
{
    NW_ASSERT(!logits.empty());
    const SamplerParams &p = m_params;
    m_candidates.resize(logits.size());
    for (std::size_t i = 0; i < logits.size(); ++i)
        m_candidates[i] = {static_cast<std::int32_t>(i), logits[i], 0.0};

    if (p.repeatPenalty != 1.0f && p.repeatLastN != 0) {
        const std::size_t n = p.repeatLastN < 0 ? recent.size()
                                                : std::min(recent.size(), static_cast<std::size_t>(p.repeatLastN));
        std::vector<std::int32_t> seen(recent.end() - static_cast<std::ptrdiff_t>(n), recent.end());
        std::sort(seen.begin(), seen.end());
        seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        for (std::int32_t id : seen) {
            if (id < 0 || static_cast<std::size_t>(id) >= m_candidates.size())
                continue;
            float &logit = m_candidates[static_cast<std::size_t>(id)].logit;
            logit = logit > 0.f ? logit / p.repeatPenalty : logit * p.repeatPenalty;
        }
    }

    auto byLogit = [](const Candidate &a, const Candidate &b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };
    if (p.greedy || p.temperature <= 0.f)
        return std::min_element(m_candidates.begin(), m_candidates.end(), byLogit)->id;

    std::size_t keep = m_candidates.size();
    if (p.topK > 0 && static_cast<std::size_t>(p.topK) < keep) {
        keep = static_cast<std::size_t>(p.topK);
        std::partial_sort(m_candidates.begin(), m_candidates.begin() + static_cast<std::ptrdiff_t>(keep),
                          m_candidates.end(), byLogit);
    } else {
        std::sort(m_candidates.begin(), m_candidates.end(), byLogit);
    }
    m_candidates.resize(keep);

    // Softmax over the kept candidates (untempered, as the filters in llama.cpp see them).
    auto softmax = [this](double temperature) {
        const double maxLogit = m_candidates.front().logit;
        double sum = 0.0;
        for (Candidate &c : m_candidates) {
            c.p = std::exp((static_cast<double>(c.logit) - maxLogit) / temperature);
            sum += c.p;
        }
        for (Candidate &c : m_candidates)
            c.p /= sum;
    };
    softmax(1.0);
    if (p.topP < 1.f) {
        double cumulative = 0.0;
        std::size_t n = 0;
        while (n < m_candidates.size()) {
            cumulative += m_candidates[n].p;
            ++n;
            if (cumulative >= static_cast<double>(p.topP))
                break;
        }
        m_candidates.resize(std::max<std::size_t>(n, 1));
    }
    if (p.minP > 0.f) {
        const double threshold = static_cast<double>(p.minP) * m_candidates.front().p;
        std::size_t n = 1;
        while (n < m_candidates.size() && m_candidates[n].p >= threshold)
            ++n;
        m_candidates.resize(n);
    }
    softmax(static_cast<double>(p.temperature));

    const double u = nextUniform();
    double cumulative = 0.0;
    for (const Candidate &c : m_candidates) {
        cumulative += c.p;
        if (u < cumulative)
            return c.id;
    }
    return m_candidates.back().id; // rounding left u just above the total
}

} // namespace nw
