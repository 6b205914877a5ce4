// Elementwise activations: the gated units SwiGLU silu(gate) * up and GeGLU gelu(gate) * up.
#pragma once

#include <cstddef>

namespace nw::cpu {

class ThreadPool;

// y = gate / (1 + exp(-gate)) * up over n elements (y may alias gate or up).
void swiglu(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n);

// y = gelu(gate) * up over n elements with GELU's tanh approximation
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Gemma's gated FFN); y may alias gate or up.
void geglu(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n);

} // namespace nw::cpu
