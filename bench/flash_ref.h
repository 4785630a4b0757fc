/* flash_ref.h — the double-precision reference of the prefill attention checks that amd_check.cu (on
 * an NVIDIA GPU) and amd_simt.cc (on the CPU) run on flash_mx: plain C++, no CUDA. */
#ifndef LLMC_BENCH_FLASH_REF_H
#define LLMC_BENCH_FLASH_REF_H

#include <math.h>
#include <stdint.h>
#include <vector>

/* Causal attention of T tokens over a paged cache, each token tt (sequence seq[tt], position pos[tt])
 * and query head h (KV head h / G) over the positions [pos - WIN + 1, pos] its window sees (WIN 0:
 * all), scores scaled by scale and, with cap > 0, soft-capped to cap tanh(s / cap) (Gemma 2);
 * row(block, w, offset, kv head, buf) gives a position's K (w 0) or V (w 1) row from block table
 * tables (mbs entries a sequence, ABS positions a block). q: [T][SQ], y: the kernel's outputs
 * [T][SY]. Adds (y - ref)^2 and ref^2 to num and den; returns how many outputs are NaN (unwritten). */
template <class Row>
static int64_t flash_ref_err(int T, int HQ, int G, int HD, int WIN, int SQ, int SY, const int *seq, const int *pos,
                             const int32_t *tables, int mbs, int ABS, Row row, const float *q, const float *y,
                             double scale, double cap, double &num, double &den)
{
    int64_t unwritten = 0;
    std::vector<double> sc;
    std::vector<float> kb(HD), vb(HD);
    for (int tt = 0; tt < T; tt++) {
        const int s = seq[tt], p = pos[tt], lo = WIN > 0 && p - WIN + 1 > 0 ? p - WIN + 1 : 0;
        for (int h = 0; h < HQ; h++) {
            const int kh = h / G;
            sc.assign(p + 1, 0.0);
            double mx = -1e300;
            for (int j = lo; j <= p; j++) {
                const float *kr = row(tables[(size_t)s * mbs + j / ABS], 0, j % ABS, kh, kb.data());
                double d = 0;
                for (int i = 0; i < HD; i++)
                    d += (double)q[(size_t)tt * SQ + h * HD + i] * kr[i];
                sc[j] = d * scale;
                if (cap > 0) /* Gemma 2's soft-capped scores */
                    sc[j] = cap * tanh(sc[j] / cap);
                mx = sc[j] > mx ? sc[j] : mx;
            }
            double l = 0;
            for (int j = lo; j <= p; j++)
                l += (sc[j] = exp(sc[j] - mx));
            std::vector<double> o(HD, 0.0);
            for (int j = lo; j <= p; j++) {
                const float *vr = row(tables[(size_t)s * mbs + j / ABS], 1, j % ABS, kh, vb.data());
                for (int i = 0; i < HD; i++)
                    o[i] += sc[j] * vr[i];
            }
            for (int i = 0; i < HD; i++) {
                const double ref = o[i] / l, got = y[(size_t)tt * SY + h * HD + i];
                if (got != got)
                    unwritten++;
                num += (got - ref) * (got - ref);
                den += ref * ref;
            }
        }
    }
    return unwritten;
}

#endif
