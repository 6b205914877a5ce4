// NW_CUDA_CHECK / NW_CUBLAS_CHECK: every CUDA runtime and cuBLAS call goes through one of
// these; a failure throws nw::Error naming the call, the file and the line.
#pragma once

#include "common/error.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#define NW_CUDA_CHECK(call)                                                                    \
    do {                                                                                       \
        const cudaError_t nwStatus_ = (call);                                                  \
        if (nwStatus_ != cudaSuccess)                                                          \
            ::nw::fail("CUDA error in {} at {}:{}: {}", #call, __FILE__, __LINE__,             \
                       cudaGetErrorString(nwStatus_));                                         \
    } while (false)

#define NW_CUBLAS_CHECK(call)                                                                  \
    do {                                                                                       \
        const cublasStatus_t nwStatus_ = (call);                                               \
        if (nwStatus_ != CUBLAS_STATUS_SUCCESS)                                                \
            ::nw::fail("cuBLAS error in {} at {}:{}: {}", #call, __FILE__, __LINE__,           \
                       cublasGetStatusString(nwStatus_));                                      \
    } while (false)

// After every kernel launch: catches bad launch configurations at the call site.
#define NW_CUDA_CHECK_LAUNCH() NW_CUDA_CHECK(cudaGetLastError())
