/* cuda_headers.c — the CUDA kernel headers (codegen/gpu_port.cuh, cuda_base.cuh and one header per op
 * family), embedded in llmc by the build (bin2c's table from the one list LLMC_CUDA_HEADERS in
 * CMakeLists.txt). The generated model.cu includes them by name; NVRTC gets them as named headers,
 * and --emit-dir writes them beside model.cu so that the emitted source also compiles with nvcc. */
#include <stdio.h>
#include <string.h>

#include "codegen.h"
#include "cuda_common.h"

extern const char *const llmc_cuda_headers_names[];
extern const char *const llmc_cuda_headers_texts[];
extern const int llmc_cuda_headers_count;

LlmcNvrtcHeaders llmc_cuda_header_table(void)
{
    return (LlmcNvrtcHeaders){llmc_cuda_headers_count, llmc_cuda_headers_names, llmc_cuda_headers_texts};
}

LlmcStatus llmc_cuda_write_headers(const char *dir, LlmcDiag *d)
{
    char path[4096];
    for (int i = 0; i < llmc_cuda_headers_count; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, llmc_cuda_headers_names[i]);
        if (llmc_write_file_atomic(path, llmc_cuda_headers_texts[i], strlen(llmc_cuda_headers_texts[i]), d))
            return LLMC_ERR;
    }
    return LLMC_OK;
}
