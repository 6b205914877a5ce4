// Picks the next token from logits: greedy, or repetition penalty → top-k → top-p → min-p →
// temperature → a draw from a seeded generator (llama.cpp's default chain order), so one seed
// always gives the same text.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nw {

struct SamplerParams {
    bool greedy = false;        // argmax (after the repetition penalty); ignores the rest
    float temperature = 0.8f;   // <= 0 means greedy
    int topK = 40;              // <= 0: off
    float topP = 0.95f;         // >= 1: off
    float minP = 0.05f;         // <= 0: off; keeps p >= minP × p_max
    float repeatPenalty = 1.0f; // CTRL-style (arXiv:1909.05858): logit / r if > 0, else × r
    int repeatLastN = 64;       // how many recent tokens the penalty looks at
    std::uint64_t seed = 0;
};

// Throws nw::Error naming the first field that is NaN or infinite (which would pass every range
// check: `--top-p nan` was accepted), or a repetition penalty that is not positive.
void validateSamplerParams(const SamplerParams &params);

class Sampler {
public:
    explicit Sampler(const SamplerParams &params); // validates them (validateSamplerParams)

    const SamplerParams &params() const { return m_params; }
    // The next token id; `recent` are the tokens so far (prompt and generated) for the penalty.
    std::int32_t sample(std::span<const float> logits, std::span<const std::int32_t> recent);
    void reseed(std::uint64_t seed);

private:
    double nextUniform(); // [0, 1), from splitmix64 (the same bits on every platform)

    struct Candidate {
        std::int32_t id;
        float logit;
        double p;
    };

    SamplerParams m_params;
    std::uint64_t m_state;
    std::vector<Candidate> m_candidates;
};

} // namespace nw
