// Recurrent layers' live states and their checkpoints: one block of floats, copied whole.
#include "engine/recurrent_state.h"

#include "common/assert.h"
#include "engine/hparams.h"

#include <algorithm>

namespace nw {

RecurrentStateShape RecurrentStateShape::forModel(const HParams &hp)
{
    RecurrentStateShape s;
    if (hp.recurrentLayers.empty() || hp.ssmStateSize <= 0)
        return s;
    const std::int64_t valueDim = hp.ssmInnerSize / hp.ssmTimeStepRank;
    s.convRows = std::max<std::int64_t>(0, hp.ssmConvKernel - 1);
    s.convChannels = 2 * hp.ssmGroupCount * hp.ssmStateSize + hp.ssmInnerSize;
    s.heads = hp.ssmTimeStepRank;
    s.keyDim = hp.ssmStateSize;
    s.valueDim = valueDim;
    return s;
}

RecurrentStates::RecurrentStates(std::vector<RecurrentStateShape> layers)
    : m_shapes(std::move(layers))
{
    for (const RecurrentStateShape &s : m_shapes) {
        m_offsets.push_back(m_liveFloats);
        m_liveFloats += std::size_t(s.convFloats() + s.stateFloats());
    }
}

void RecurrentStates::allocate()
{
    if (m_live.empty() && m_liveFloats > 0)
        m_live.assign(m_liveFloats, 0.f);
}

float *RecurrentStates::conv(std::int64_t layer)
{
    NW_ASSERT(layer >= 0 && std::size_t(layer) < m_shapes.size() && !m_live.empty());
    NW_ASSERT(!m_shapes[std::size_t(layer)].empty());
    return m_live.data() + m_offsets[std::size_t(layer)];
}

float *RecurrentStates::state(std::int64_t layer)
{
    return conv(layer) + m_shapes[std::size_t(layer)].convFloats();
}

void RecurrentStates::reset()
{
    std::fill(m_live.begin(), m_live.end(), 0.f);
}

void RecurrentStates::checkpoint(std::int64_t tokens)
{
    if (m_live.empty() || m_maxCheckpoints <= 0)
        return;
    std::erase_if(m_checkpoints, [tokens](const Checkpoint &c) { return c.tokens == tokens; });
    while (int(m_checkpoints.size()) >= m_maxCheckpoints)
        m_checkpoints.erase(m_checkpoints.begin());
    m_checkpoints.push_back({ tokens, m_live });
}

std::int64_t RecurrentStates::restore(std::int64_t tokens)
{
    dropAfter(tokens);
    // The newest at or before `tokens` is now the last one (checkpoints are taken in order of
    // the sequence; one taken at a smaller count after a larger one replaced it).
    const auto best = std::max_element(m_checkpoints.begin(), m_checkpoints.end(),
        [](const Checkpoint &a, const Checkpoint &b) { return a.tokens < b.tokens; });
    if (best == m_checkpoints.end()) {
        reset();
        return 0;
    }
    allocate();
    std::copy(best->data.begin(), best->data.end(), m_live.begin());
    return best->tokens;
}

void RecurrentStates::dropAfter(std::int64_t tokens)
{
    std::erase_if(m_checkpoints, [tokens](const Checkpoint &c) { return c.tokens > tokens; });
}

void RecurrentStates::setMaxCheckpoints(int n)
{
    m_maxCheckpoints = std::max(0, n);
    while (int(m_checkpoints.size()) > m_maxCheckpoints)
        m_checkpoints.erase(m_checkpoints.begin());
}

std::vector<std::int64_t> RecurrentStates::checkpointTokens() const
{
    std::vector<std::int64_t> out;
    for (const Checkpoint &c : m_checkpoints)
        out.push_back(c.tokens);
    return out;
}

std::uint64_t RecurrentStates::liveBytes(std::int64_t layer) const
{
    NW_ASSERT(layer >= 0 && std::size_t(layer) < m_shapes.size());
    return m_live.empty() ? 0 : m_shapes[std::size_t(layer)].bytes();
}

std::uint64_t RecurrentStates::checkpointBytes(std::int64_t layer) const
{
    NW_ASSERT(layer >= 0 && std::size_t(layer) < m_shapes.size());
    return std::uint64_t(m_checkpoints.size()) * m_shapes[std::size_t(layer)].bytes();
}

std::uint64_t RecurrentStates::allocatedBytes() const
{
    std::size_t floats = m_live.size();
    for (const Checkpoint &c : m_checkpoints)
        floats += c.data.size();
    return std::uint64_t(floats) * sizeof(float);
}

} // namespace nw
