// Elementwise activations: the gated units SwiGLU silu(gate) * up, GeGLU gelu(gate) * up, the
// clamped SwiGLUs of gpt-oss and DeepSeek V4, and sigmoid gates (Qwen3.5's gated attention and
// shared expert).
#pragma once

#include <cstddef>

namespace nw::cpu {

class ThreadPool;

// y = gate / (1 + exp(-gate)) * up over n elements (y may alias gate or up).
void swiglu(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n);

// y = gelu(gate) * up over n elements with GELU's tanh approximation
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Gemma's gated FFN); y may alias gate or up.
void geglu(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n);

// gpt-oss's clamped SwiGLU: g = min(gate, limit), u = clamp(up, -limit, limit),
// y = g / (1 + exp(-alpha g)) * (u + 1) (ggml_swiglu_oai); y may alias gate or up.
void swigluOai(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n, float alpha, float limit);

// DeepSeek V4's clamped SwiGLU: y = silu(min(gate, limit)) * clamp(up, -limit, limit); y may
// alias gate or up.
void swigluLimited(ThreadPool &pool, const float *gate, const float *up, float *y, std::size_t n, float limit);

// y[r, c] *= sigmoid(gate[r · gateCols + (gateCols == 1 ? 0 : c)]) for r < rows, c < cols:
// an elementwise gate (gateCols == cols) or one gate per row (gateCols == 1).
void sigmoidMul(ThreadPool &pool, float *y, const float *gate, int rows, int cols, int gateCols);

} // namespace nw::cpu
