/* cuda_api.h — the part of the CUDA driver API the runtime uses, and its HIP counterparts, declared
 * here rather than taken from cuda.h or hip_runtime_api.h: a model executable must build without
 * either toolkit and run with nothing but the GPU's driver, which gpu.c loads at run time
 * (dlopen("libcuda.so.1") for NVIDIA, dlopen("libamdhip64.so") for AMD).
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
    CUDA_ERROR_NOT_READY = 600,         /* cuStreamQuery: work still pending (not an error) */
};

/* What cuLaunchHostFunc calls, on a driver thread, once the work before it in the stream is done
 * (it must not call the driver). */
typedef void (*CUhostFn)(void *data);

/* CUdevice_attribute */
enum {
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CU_DEVICE_ATTRIBUTE_INTEGRATED = 18,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

/* hipDeviceAttribute_t (ROCm 6's hip_runtime_api.h; numbered from hipDeviceAttributeCudaCompatibleBegin) */
enum {
    HIP_DEVICE_ATTRIBUTE_INTEGRATED = 16,
    HIP_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 23,
    HIP_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 61,
    HIP_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 63,
    HIP_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 74,
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

/* TMA tensor maps (CUDA 12.0+, sm_90): cuTensorMapEncodeTiled's types and the values the runtime
 * passes (gemm_wt's maps: abi/llmc_model.h LlmcGpuTmap). A CUtensorMap is 128 opaque bytes. */
typedef unsigned long long cuuint64_t;
typedef unsigned cuuint32_t;
typedef struct CUtensorMap_st {
    _Alignas(128) unsigned long long opaque[16]; /* cuda.h's alignment; the driver needs 64 */
} CUtensorMap;
enum { CU_TENSOR_MAP_DATA_TYPE_FLOAT16 = 6, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 = 9 };
enum { CU_TENSOR_MAP_INTERLEAVE_NONE = 0 };
enum { CU_TENSOR_MAP_SWIZZLE_128B = 3 };
enum { CU_TENSOR_MAP_L2_PROMOTION_L2_256B = 3 };
enum { CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE = 0 };

/* X(field, "CUDA symbol", "HIP symbol", optional, (parameters)); every entry point returns CUresult
 * (HIP's hipError_t: an int, 0 for success). HIP's module API (libamdhip64.so) mirrors the CUDA
 * driver API entry for entry with the same argument layout (hipMalloc(void **, size_t) for
 * cuMemAlloc_v2(CUdeviceptr *, size_t), hipModuleLaunchKernel for cuLaunchKernel, ...), so one table
 * serves both vendors, filled from the vendor's column ("" where it has none: the entry stays NULL).
 * What differs is data (device attribute numbers, gpu.c) and a few calls only one vendor needs:
 * hipGetDevicePropertiesR0600 for the GPU's gfx name (ROCm 6's hipDeviceProp_t, gcnArchName at
 * LLMC_HIP_PROPS_ARCH_OFFSET). Optional entries (1) may be missing from a driver: LaunchKernelEx
 * (CUDA 12.0+; none on AMD) leaves PDL off, FuncSetAttribute has no AMD counterpart for a module's
 * function (AMD needs no opt-in below its 64 KB of LDS), the host-registration calls are only used
 * to read an APU's weights in place, TensorMapEncodeTiled only by a build with TMA maps (its
 * absence is then a load error). */
#define LLMC_CUDA_FUNCS(X)                                                                         \
    X(GetErrorName, "cuGetErrorName", "hipDrvGetErrorName", 0, (CUresult error, const char **str))  \
    X(GetErrorString, "cuGetErrorString", "hipDrvGetErrorString", 0, (CUresult error, const char **str)) \
    X(Init, "cuInit", "hipInit", 0, (unsigned flags))                                              \
    X(DriverGetVersion, "cuDriverGetVersion", "hipDriverGetVersion", 0, (int *version))            \
    X(DeviceGetCount, "cuDeviceGetCount", "hipGetDeviceCount", 0, (int *count))                    \
    X(DeviceGet, "cuDeviceGet", "hipDeviceGet", 0, (CUdevice * dev, int ordinal))                  \
    X(DeviceGetName, "cuDeviceGetName", "hipDeviceGetName", 0, (char *name, int len, CUdevice dev)) \
    X(DeviceGetAttribute, "cuDeviceGetAttribute", "hipDeviceGetAttribute", 0,                      \
      (int *value, int attrib, CUdevice dev))                                                      \
    X(DeviceGetProps, "", "hipGetDevicePropertiesR0600", 0, (void *props, int dev))                \
    X(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", "hipDevicePrimaryCtxRetain", 0,          \
      (CUcontext * ctx, CUdevice dev))                                                             \
    X(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", "hipDevicePrimaryCtxRelease", 0,    \
      (CUdevice dev))                                                                              \
    X(CtxSetCurrent, "cuCtxSetCurrent", "hipCtxSetCurrent", 0, (CUcontext ctx))                    \
    X(MemGetInfo, "cuMemGetInfo_v2", "hipMemGetInfo", 0, (size_t * free_bytes, size_t * total_bytes)) \
    X(MemAlloc, "cuMemAlloc_v2", "hipMalloc", 0, (CUdeviceptr * dptr, size_t bytes))               \
    X(MemFree, "cuMemFree_v2", "hipFree", 0, (CUdeviceptr dptr))                                   \
    X(MemAllocHost, "cuMemAllocHost_v2", "", 0, (void **p, size_t bytes))                          \
    X(HostAlloc, "", "hipHostAlloc", 0, (void **p, size_t bytes, unsigned flags))                  \
    X(MemFreeHost, "cuMemFreeHost", "hipHostFree", 0, (void *p))                                   \
    X(HostRegister, "cuMemHostRegister_v2", "hipHostRegister", 1, (void *p, size_t bytes, unsigned flags)) \
    X(HostUnregister, "cuMemHostUnregister", "hipHostUnregister", 1, (void *p))                    \
    X(HostGetDevicePointer, "cuMemHostGetDevicePointer_v2", "hipHostGetDevicePointer", 1,          \
      (CUdeviceptr * dptr, void *p, unsigned flags))                                               \
    X(MemsetD8Async, "cuMemsetD8Async", "hipMemsetD8Async", 0,                                     \
      (CUdeviceptr dst, unsigned char value, size_t n, CUstream stream))                           \
    X(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", "hipMemcpyHtoDAsync", 0,                            \
      (CUdeviceptr dst, const void *src, size_t bytes, CUstream stream))                           \
    X(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", "hipMemcpyDtoHAsync", 0,                            \
      (void *dst, CUdeviceptr src, size_t bytes, CUstream stream))                                 \
    X(MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", "hipMemcpyDtoDAsync", 0,                            \
      (CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream))                           \
    X(ModuleLoadData, "cuModuleLoadData", "hipModuleLoadData", 0, (CUmodule * mod, const void *image)) \
    X(ModuleUnload, "cuModuleUnload", "hipModuleUnload", 0, (CUmodule mod))                        \
    X(ModuleGetFunction, "cuModuleGetFunction", "hipModuleGetFunction", 0,                         \
      (CUfunction * fn, CUmodule mod, const char *name))                                           \
    X(FuncSetAttribute, "cuFuncSetAttribute", "", 1, (CUfunction fn, int attrib, int value))       \
    X(LaunchKernel, "cuLaunchKernel", "hipModuleLaunchKernel", 0,                                  \
      (CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,             \
       unsigned bz, unsigned smem, CUstream stream, void **params, void **extra))                  \
    X(LaunchKernelEx, "cuLaunchKernelEx", "", 1,                                                   \
      (const CUlaunchConfig *config, CUfunction fn, void **params, void **extra))                  \
    X(StreamCreate, "cuStreamCreate", "hipStreamCreateWithFlags", 0, (CUstream * stream, unsigned flags)) \
    X(StreamDestroy, "cuStreamDestroy_v2", "hipStreamDestroy", 0, (CUstream stream))               \
    X(StreamSynchronize, "cuStreamSynchronize", "hipStreamSynchronize", 0, (CUstream stream))      \
    X(StreamQuery, "cuStreamQuery", "hipStreamQuery", 0, (CUstream stream))                        \
    X(LaunchHostFunc, "cuLaunchHostFunc", "hipLaunchHostFunc", 0, (CUstream stream, CUhostFn fn, void *data)) \
    X(StreamBeginCapture, "cuStreamBeginCapture_v2", "hipStreamBeginCapture", 0, (CUstream stream, int mode)) \
    X(StreamEndCapture, "cuStreamEndCapture", "hipStreamEndCapture", 0, (CUstream stream, CUgraph * graph)) \
    X(GraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", "hipGraphInstantiateWithFlags", 0, \
      (CUgraphExec * exec, CUgraph graph, unsigned long long flags))                               \
    X(GraphLaunch, "cuGraphLaunch", "hipGraphLaunch", 0, (CUgraphExec exec, CUstream stream))      \
    X(GraphExecDestroy, "cuGraphExecDestroy", "hipGraphExecDestroy", 0, (CUgraphExec exec))        \
    X(GraphDestroy, "cuGraphDestroy", "hipGraphDestroy", 0, (CUgraph graph))                       \
    X(EventCreate, "cuEventCreate", "hipEventCreateWithFlags", 0, (CUevent * ev, unsigned flags))  \
    X(EventDestroy, "cuEventDestroy_v2", "hipEventDestroy", 0, (CUevent ev))                       \
    X(EventRecord, "cuEventRecord", "hipEventRecord", 0, (CUevent ev, CUstream stream))            \
    X(EventSynchronize, "cuEventSynchronize", "hipEventSynchronize", 0, (CUevent ev))              \
    /* gemm_wt's maps (llmc compile --wgmma auto or tma; CUDA 12.0+): absent, such a build fails to load */ \
    X(TensorMapEncodeTiled, "cuTensorMapEncodeTiled", "", 1,                                       \
      (CUtensorMap * map, int dtype, cuuint32_t rank, void *addr, const cuuint64_t *dims,          \
       const cuuint64_t *strides, const cuuint32_t *box, const cuuint32_t *elem_strides,           \
       int interleave, int swizzle, int l2_promotion, int oob_fill))                               \
    /* cuEventElapsedTime_v2 (CUDA 12.8+), else the older cuEventElapsedTime (same signature) */   \
    X(EventElapsedTime, "cuEventElapsedTime_v2", "hipEventElapsedTime", 0,                         \
      (float *ms, CUevent start, CUevent end))

/* HIP: where ROCm 6's hipDeviceProp_t (hipGetDevicePropertiesR0600) holds gcnArchName[256]
 * ("gfx1151", or "gfx942:sramecc+:xnack-"), and a size that holds the whole struct (1472 bytes). */
#define LLMC_HIP_PROPS_ARCH_OFFSET 1160
#define LLMC_HIP_PROPS_BYTES 4096
/* hipHostRegister flags: mapped into the device's address space, read only */
#define LLMC_HIP_HOST_REGISTER_MAPPED_RO (0x2 | 0x8)

typedef struct LlmcCudaApi {
    void *lib;                  /* dlopen handle */
    int vendor;                 /* LLMC_GPU_VENDOR_AMD: a HIP table (0 or LLMC_GPU_VENDOR_NVIDIA: CUDA) */
#define LLMC_CUDA_FIELD(field, sym, hip, opt, params) CUresult (*field) params;
    LLMC_CUDA_FUNCS(LLMC_CUDA_FIELD)
#undef LLMC_CUDA_FIELD
} LlmcCudaApi;

#endif
