/* nccl_api.h — the part of NCCL the runtime uses for a sharded model's collectives on NVIDIA GPUs
 * (--tp N, docs/tp.md), declared here rather than taken from nccl.h: a model executable builds
 * without the CUDA toolkit and loads NCCL at run time (dlopen("libnccl.so.2"), gpu_ranks.c) only
 * when the model is sharded, as it loads libcuda.
 *
 * Types and enum values are copied from NCCL 2.28's nccl.h (part of its stable ABI). Entry points
 * are listed once, in LLMC_NCCL_FUNCS: the X-macro expands into the table (LlmcNcclApi) and the
 * symbols gpu_ranks.c looks up. ncclGetErrorString returns a string, not a result: its own entry.
 */
#ifndef LLMC_NCCL_API_H
#define LLMC_NCCL_API_H

#include <stddef.h>

#include "cuda_api.h"

typedef int ncclResult_t;                       /* ncclSuccess = 0 */
enum { LLMC_NCCL_SUCCESS = 0, LLMC_NCCL_IN_PROGRESS = 7 }; /* ncclSuccess, ncclInProgress */
typedef struct ncclComm *ncclComm_t;
#define LLMC_NCCL_UNIQUE_ID_BYTES 128
typedef struct {
    char internal[LLMC_NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

enum { LLMC_NCCL_FLOAT32 = 7 };                 /* ncclDataType_t ncclFloat32 */

/* ncclConfig_t as NCCL 2.17 laid it out (ncclConfig_v21700): NCCL reads `size` bytes of it and
 * takes its defaults for the fields a newer NCCL added after them (parseCommConfig), so this
 * prefix is a valid config for every NCCL from 2.17 on. magic and version are NCCL_CONFIG_INITIALIZER's;
 * every field but blocking is left "undefined" (INT_MIN, NULL): NCCL's default. */
typedef struct {
    size_t size;
    unsigned int magic;                         /* LLMC_NCCL_CONFIG_MAGIC */
    unsigned int version;                       /* the NCCL version the layout is from */
    int blocking;                               /* 0: every call may return ncclInProgress */
    int cgaClusterSize, minCTAs, maxCTAs;
    const char *netName;
    int splitShare;
} LlmcNcclConfig;
#define LLMC_NCCL_CONFIG_MAGIC 0xcafebeefu
#define LLMC_NCCL_CONFIG_VERSION 21700
#define LLMC_NCCL_CONFIG_UNDEF (-2147483647 - 1)
/* ncclGetVersion's code of 2.x.y: 2 * 10000 + x * 100 + y (from 2.9). 2.19 is the oldest NCCL the
 * runtime takes: CUDA graph capture of collectives (2.9) and the NVLink SHARP switch
 * NCCL_NVLS_ENABLE (2.17) read at communicator creation, ncclCommAbort releasing the peers'
 * collectives when a rank fails, on a version CUDA 12 ships; the non-blocking communicators of
 * ncclCommInitRankConfig (config.blocking = 0) and ncclCommGetAsyncError are older (2.14). */
#define LLMC_NCCL_MIN_VERSION 21900
#define LLMC_NCCL_LIB "libnccl.so.2"

/* X(field, "symbol", (parameters)); every entry returns ncclResult_t. */
#define LLMC_NCCL_FUNCS(X)                                                                         \
    X(GetVersion, "ncclGetVersion", (int *version))                                                \
    X(GetUniqueId, "ncclGetUniqueId", (ncclUniqueId * id))                                         \
    X(CommInitRankConfig, "ncclCommInitRankConfig",                                                \
      (ncclComm_t * comm, int nranks, ncclUniqueId id, int rank, LlmcNcclConfig *config))          \
    X(CommGetAsyncError, "ncclCommGetAsyncError", (ncclComm_t comm, ncclResult_t * state))         \
    X(CommDestroy, "ncclCommDestroy", (ncclComm_t comm))                                           \
    X(CommAbort, "ncclCommAbort", (ncclComm_t comm))                                               \
    X(AllGather, "ncclAllGather",                                                                  \
      (const void *send, void *recv, size_t sendcount, int datatype, ncclComm_t comm,              \
       CUstream stream))                                                                           \
    X(Send, "ncclSend", (const void *send, size_t count, int datatype, int peer, ncclComm_t comm,  \
                         CUstream stream))                                                         \
    X(Recv, "ncclRecv", (void *recv, size_t count, int datatype, int peer, ncclComm_t comm,        \
                         CUstream stream))                                                         \
    X(GroupStart, "ncclGroupStart", (void))                                                        \
    X(GroupEnd, "ncclGroupEnd", (void))

typedef struct LlmcNcclApi {
    void *lib;                  /* dlopen handle (NULL: a table given by a test) */
#define LLMC_NCCL_FIELD(field, sym, params) ncclResult_t (*field) params;
    LLMC_NCCL_FUNCS(LLMC_NCCL_FIELD)
#undef LLMC_NCCL_FIELD
    const char *(*GetErrorString)(ncclResult_t result);
} LlmcNcclApi;

#endif
