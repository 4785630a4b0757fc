/* bench_cuda.h — what the nvcc-built bench programs (kernel_check.cu, decode_lab.cu) share: a CUDA
 * runtime call checked (exits on failure: these are programs, not library code) and device-event
 * timing of a launch sequence or of a captured CUDA graph. */
#ifndef LLMC_BENCH_CUDA_H
#define LLMC_BENCH_CUDA_H

#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(x)                                                                                        \
    do {                                                                                             \
        cudaError_t e_ = (x);                                                                        \
        if (e_ != cudaSuccess) {                                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));    \
            exit(2);                                                                                 \
        }                                                                                            \
    } while (0)

/* Mean microseconds of one run over `reps` runs on stream s after 3 warm-up runs, timed with
 * device events. */
template <class F>
static double time_us(F run, int reps, cudaStream_t s = 0)
{
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < 3; i++)
        run();
    CK(cudaEventRecord(a, s));
    for (int i = 0; i < reps; i++)
        run();
    CK(cudaEventRecord(b, s));
    CK(cudaEventSynchronize(b));
    CK(cudaGetLastError());
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    return ms * 1000.0 / reps;
}

/* The launches `enqueue` makes on stream s, captured into a CUDA graph: mean microseconds of one
 * replay over `reps`. */
template <class F>
static double graph_us(cudaStream_t s, F enqueue, int reps)
{
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    enqueue();
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    const double us = time_us([&]() { CK(cudaGraphLaunch(ge, s)); }, reps, s);
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
    return us;
}

#endif
