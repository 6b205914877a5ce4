// The short causal convolution of recurrent layers on the CPU (ShortConvArgs in
// kernels/backend_args.h): depthwise over channels, with the last kernel − 1 input rows carried
// from one batch to the next in a state.
#pragma once

#include "kernels/backend_args.h"

namespace nw::cpu {

class ThreadPool;

// y = conv(x) (then SiLU when a.silu); the state moves on by nTokens rows. Split over channels.
void shortConv(ThreadPool &pool, const ShortConvArgs &a);

} // namespace nw::cpu
