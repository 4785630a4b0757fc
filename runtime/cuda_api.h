/* cuda_api.h — the part of the CUDA driver API the runtime uses, declared here rather than taken
 * from cuda.h: a model executable must build without the CUDA toolkit and run with nothing but the
 * NVIDIA driver, which gpu.c loads at run time (dlopen("libcuda.so.1")).
 *
 * Types and enum values are copied from CUDA 13.0's cuda.h (they are part of the driver's stable
 * ABI). Entry points are listed once, in LLMC_CUDA_FUNCS: the X-macro expands into the function
 * pointer table (LlmcCudaApi) and the list of exported symbols gpu.c looks up. The symbol is the
 * exact name libcuda exports for the version cuda.h maps the plain name to (cuMemAlloc ->
 * cuMemAlloc_v2, cuStreamBeginCapture -> cuStreamBeginCapture_v2, ...): looking up the plain name
 * would find the old 32-bit or legacy entry point.
 */
#ifndef LLMC_CUDA_API_H
#define LLMC_CUDA_API_H

#include <stddef.h>

typedef int CUresult;                           /* enum cudaError_enum */
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;         /* 64-bit hosts only */
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_STUB_LIBRARY = 34,
    CUDA_ERROR_INSUFFICIENT_DRIVER = 35,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
};

/* CUdevice_attribute */
enum {
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

/* CUfunction_attribute */
enum { CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 };

/* CUstream_flags, CUevent_flags */
enum { CU_STREAM_NON_BLOCKING = 0x1 };
enum { CU_EVENT_DEFAULT = 0x0, CU_EVENT_DISABLE_TIMING = 0x2 };

/* CUstreamCaptureMode */
enum {
    CU_STREAM_CAPTURE_MODE_GLOBAL = 0,
    CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
    CU_STREAM_CAPTURE_MODE_RELAXED = 2,
};

/* cuLaunchKernelEx's configuration; only programmatic stream serialization (PDL) is used. */
enum { CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6 };
typedef union CUlaunchAttributeValue_union {
    char pad[64];
    long long align8; /* the driver's union holds pointers and size_t: 8-byte aligned */
    int programmaticStreamSerializationAllowed;
} CUlaunchAttributeValue;
typedef struct CUlaunchAttribute_st {
    int id; /* CUlaunchAttributeID */
    char pad[8 - sizeof(int)];
    CUlaunchAttributeValue value;
} CUlaunchAttribute;
typedef struct CUlaunchConfig_st {
    unsigned gridDimX, gridDimY, gridDimZ;
    unsigned blockDimX, blockDimY, blockDimZ;
    unsigned sharedMemBytes;
    CUstream hStream;
    CUlaunchAttribute *attrs;
    unsigned numAttrs;
} CUlaunchConfig;

/* X(field, "exported symbol", (parameters)); every entry point returns CUresult. LaunchKernelEx
 * (CUDA 12.0+) may be missing from an older driver: it stays NULL and no launch uses PDL. */
#define LLMC_CUDA_FUNCS(X)                                                                         \
    X(GetErrorName, "cuGetErrorName", (CUresult error, const char **str))                          \
    X(GetErrorString, "cuGetErrorString", (CUresult error, const char **str))                      \
    X(Init, "cuInit", (unsigned flags))                                                            \
    X(DriverGetVersion, "cuDriverGetVersion", (int *version))                                      \
    X(DeviceGetCount, "cuDeviceGetCount", (int *count))                                            \
    X(DeviceGet, "cuDeviceGet", (CUdevice * dev, int ordinal))                                     \
    X(DeviceGetName, "cuDeviceGetName", (char *name, int len, CUdevice dev))                       \
    X(DeviceGetAttribute, "cuDeviceGetAttribute", (int *value, int attrib, CUdevice dev))          \
    X(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", (CUcontext * ctx, CUdevice dev))         \
    X(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", (CUdevice dev))                     \
    X(CtxSetCurrent, "cuCtxSetCurrent", (CUcontext ctx))                                           \
    X(MemGetInfo, "cuMemGetInfo_v2", (size_t * free_bytes, size_t * total_bytes))                  \
    X(MemAlloc, "cuMemAlloc_v2", (CUdeviceptr * dptr, size_t bytes))                               \
    X(MemFree, "cuMemFree_v2", (CUdeviceptr dptr))                                                 \
    X(MemAllocHost, "cuMemAllocHost_v2", (void **p, size_t bytes))                                 \
    X(MemFreeHost, "cuMemFreeHost", (void *p))                                                     \
    X(MemsetD8Async, "cuMemsetD8Async",                                                            \
      (CUdeviceptr dst, unsigned char value, size_t n, CUstream stream))                           \
    X(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2",                                                     \
      (CUdeviceptr dst, const void *src, size_t bytes, CUstream stream))                           \
    X(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2",                                                     \
      (void *dst, CUdeviceptr src, size_t bytes, CUstream stream))                                 \
    X(MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2",                                                     \
      (CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream))                           \
    X(ModuleLoadData, "cuModuleLoadData", (CUmodule * mod, const void *image))                     \
    X(ModuleUnload, "cuModuleUnload", (CUmodule mod))                                              \
    X(ModuleGetFunction, "cuModuleGetFunction", (CUfunction * fn, CUmodule mod, const char *name)) \
    X(FuncSetAttribute, "cuFuncSetAttribute", (CUfunction fn, int attrib, int value))              \
    X(LaunchKernel, "cuLaunchKernel",                                                              \
      (CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,             \
       unsigned bz, unsigned smem, CUstream stream, void **params, void **extra))                  \
    X(LaunchKernelEx, "cuLaunchKernelEx",                                                          \
      (const CUlaunchConfig *config, CUfunction fn, void **params, void **extra))                  \
    X(StreamCreate, "cuStreamCreate", (CUstream * stream, unsigned flags))                         \
    X(StreamDestroy, "cuStreamDestroy_v2", (CUstream stream))                                      \
    X(StreamSynchronize, "cuStreamSynchronize", (CUstream stream))                                 \
    X(StreamBeginCapture, "cuStreamBeginCapture_v2", (CUstream stream, int mode))                  \
    X(StreamEndCapture, "cuStreamEndCapture", (CUstream stream, CUgraph * graph))                  \
    X(GraphInstantiateWithFlags, "cuGraphInstantiateWithFlags",                                    \
      (CUgraphExec * exec, CUgraph graph, unsigned long long flags))                               \
    X(GraphLaunch, "cuGraphLaunch", (CUgraphExec exec, CUstream stream))                           \
    X(GraphExecDestroy, "cuGraphExecDestroy", (CUgraphExec exec))                                  \
    X(GraphDestroy, "cuGraphDestroy", (CUgraph graph))                                             \
    X(EventCreate, "cuEventCreate", (CUevent * ev, unsigned flags))                                \
    X(EventDestroy, "cuEventDestroy_v2", (CUevent ev))                                             \
    X(EventRecord, "cuEventRecord", (CUevent ev, CUstream stream))                                 \
    X(EventSynchronize, "cuEventSynchronize", (CUevent ev))                                        \
    /* cuEventElapsedTime_v2 (CUDA 12.8+), else the older cuEventElapsedTime (same signature) */   \
    X(EventElapsedTime, "cuEventElapsedTime_v2", (float *ms, CUevent start, CUevent end))

typedef struct LlmcCudaApi {
    void *lib;                  /* dlopen handle */
#define LLMC_CUDA_FIELD(field, sym, params) CUresult (*field) params;
    LLMC_CUDA_FUNCS(LLMC_CUDA_FIELD)
#undef LLMC_CUDA_FIELD
} LlmcCudaApi;

#endif
