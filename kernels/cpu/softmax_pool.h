// DeepSeek V4's compressor pooling on the CPU: each block of tokens becomes one compressed KV
// entry, a per-dimension softmax-weighted sum of its tokens' rows (backend_args.h).
#pragma once

#include "kernels/backend.h"

namespace nw::cpu {

class ThreadPool;

void softmaxPool(ThreadPool &pool, const SoftmaxPoolArgs &a);

} // namespace nw::cpu
