// Elementwise and row-wise activations: SwiGLU's silu(gate) * up, and softmax.
#pragma once

#include <cstddef>

namespace nw::cpu {

class ThreadPool;

// y = gate / (1 + exp(-gate)) * up over n elements (y may alias gate or up).
void swiglu(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n);

// Softmax of each row of x: [rows, cols], in place (max-subtracted, so large logits are safe).
void softmax(ThreadPool &pool, float *x, int rows, int cols);

} // namespace nw::cpu
