// The fast Walsh–Hadamard transform in Sylvester's order (H_2n = [[H_n, H_n], [H_n, -H_n]]).
#include "kernels/cpu/hadamard.h"

#include "common/assert.h"

#include <cmath>

namespace nw {

int hadamardBlock(std::int64_t length)
{
    NW_ASSERT(length > 0);
    int block = 1;
    while (block < kMaxHadamardBlock && length % (2 * block) == 0)
        block *= 2;
    return block;
}

void hadamardRotate(float *x, std::size_t n, int block)
{
    NW_ASSERT(block > 0 && (block & (block - 1)) == 0 && n % std::size_t(block) == 0);
    const float norm = 1.f / std::sqrt(float(block));
    for (float *b = x; b < x + n; b += block) {
        // Butterflies of width h; the inner loop is contiguous, so it vectorises once h >= 8.
        for (int h = 1; h < block; h *= 2)
            for (int i = 0; i < block; i += 2 * h)
                for (int j = i; j < i + h; ++j) {
                    const float u = b[j], v = b[j + h];
                    b[j] = u + v;
                    b[j + h] = u - v;
                }
        for (int i = 0; i < block; ++i)
            b[i] *= norm;
    }
}

} // namespace nw
