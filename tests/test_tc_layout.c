/* test_tc_layout.c — the fragment index math of paged_attn_tc (codegen/cuda_attn_decode.cuh) on the host,
 * for both of its score layouts: S = Q K^T (KQ 0) and S^T = K Q^T (KQ 1, which the emitter takes where
 * keys and values are both fp8, int8 or int4; kernel_check attn passes both on an H100). No GPU here, so a
 * warp is 32 lanes of arrays: mma.sync m16n8k16 (f16 A and B, f32 C/D) and movmatrix.m8n8.trans.b16 move
 * elements lane by lane as the PTX ISA's fragment figures place them (the functions frag_* below, the only
 * statement of those layouts here), and a shuffle reads another lane's value. Each lane then does what the
 * kernel's code does with its registers, in the kernel's index expressions (a transcription: keep it
 * beside the kernel's): its Q pairs in a key format's order (TcChunk::dim, TcPair::kc of f16, int8, int4),
 * K rows g and g + 8 (S^T's A operand) or K^T (S's B), the row sides of int8/int4 keys on the score (s (q
 * . c) + z sum(q)), KIVI's channel scales on the keys, the masks of a window's first and the token's last
 * position, the online softmax over tiles (exp2 of real heads only), P^T from S^T's accumulators by
 * movmatrix, O^T = V^T P^T and the final sums. The scores of a tile, each head's running max and sum, and
 * the output are compared with a direct computation in double (values stay f32 in the model: the kernel's
 * f16 roundings are not modelled, so the tolerance is f32's). A wrong lane, row or column anywhere moves
 * values by O(1); three wrong S^T variants (wrong_layouts_fail) must each fail every S^T case.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

enum { W = 32, NTILE = 3, NPOS = 16 * NTILE, HDMAX = 128 };

/* An f16x2 register of the model: two values, low (element of the lower index) and high. */
typedef struct {
    float lo, hi;
} Pair;

/* ---- the PTX ISA's fragments (lane = 4 g + tig) ---- */
/* mma.m16n8k16 A (16 x 16, row): register r, half h */
static int frag_a_row(int lane, int r) { return (lane >> 2) + 8 * (r & 1); }
static int frag_a_col(int lane, int r, int h) { return 2 * (lane & 3) + h + 8 * (r >> 1); }
/* B (16 x 8, col): register r, half h */
static int frag_b_row(int lane, int r, int h) { return 2 * (lane & 3) + h + 8 * r; }
static int frag_b_col(int lane) { return lane >> 2; }
/* C/D (16 x 8, f32): element e */
static int frag_c_row(int lane, int e) { return (lane >> 2) + 8 * (e >> 1); }
static int frag_c_col(int lane, int e) { return 2 * (lane & 3) + (e & 1); }

static float half_of(Pair p, int h) { return h ? p.hi : p.lo; }

/* d += a b over the warp: the operands gathered from the lanes' registers, each element once */
static void mma16816(float c[W][4], Pair a[W][4], Pair b[W][2])
{
    float A[16][16], B[16][8];
    int seen_a[16][16] = {{0}}, seen_b[16][8] = {{0}};
    for (int lane = 0; lane < W; lane++) {
        for (int r = 0; r < 4; r++)
            for (int h = 0; h < 2; h++) {
                A[frag_a_row(lane, r)][frag_a_col(lane, r, h)] = half_of(a[lane][r], h);
                seen_a[frag_a_row(lane, r)][frag_a_col(lane, r, h)]++;
            }
        for (int r = 0; r < 2; r++)
            for (int h = 0; h < 2; h++) {
                B[frag_b_row(lane, r, h)][frag_b_col(lane)] = half_of(b[lane][r], h);
                seen_b[frag_b_row(lane, r, h)][frag_b_col(lane)]++;
            }
    }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            ck_assert_int_eq(seen_a[i][j], 1);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++)
            ck_assert_int_eq(seen_b[i][j], 1);
    for (int lane = 0; lane < W; lane++)
        for (int e = 0; e < 4; e++) {
            float s = 0.0f;
            for (int k = 0; k < 16; k++)
                s += A[frag_c_row(lane, e)][k] * B[k][frag_c_col(lane, e)];
            c[lane][e] += s;
        }
}

/* movmatrix.m8n8.trans.b16: the source's lane holds row g, columns 2 tig and 2 tig + 1 (low, high);
 * the result is the transposed matrix in the same places */
static void movmatrix_trans(Pair d[W], const Pair x[W])
{
    float M[8][8];
    for (int lane = 0; lane < W; lane++)
        for (int h = 0; h < 2; h++)
            M[lane >> 2][2 * (lane & 3) + h] = half_of(x[lane], h);
    for (int lane = 0; lane < W; lane++) {
        d[lane].lo = M[2 * (lane & 3)][lane >> 2];
        d[lane].hi = M[2 * (lane & 3) + 1][lane >> 2];
    }
}

static void shfl_xor(float v[W], int mask, int op_max)
{
    float t[W];
    for (int lane = 0; lane < W; lane++)
        t[lane] = op_max ? fmaxf(v[lane], v[lane ^ mask]) : v[lane] + v[lane ^ mask];
    memcpy(v, t, sizeof t);
}

/* ---- the kernel's orders of a lane's chunk (TcChunk<F, HD, LPR>::dim, TcPair<F>::kc) ---- */
typedef struct {
    int bits, hd;
} Fmt;
static int chunk_dim(Fmt f, int lpr, int li, int c)
{
    int cb = f.hd * f.bits / 8 / lpr, pb = cb < 16 ? cb : 16, vpp = pb * 8 / f.bits;
    return ((c / vpp) * lpr + li) * vpp + c % vpp;
}
static int pair_kc(Fmt f, int i, int e)
{
    int pw = f.bits >= 16 ? 1 : 16 / f.bits;
    return f.bits == 16 ? 2 * i + e : (i / pw) * (32 / f.bits) + i % pw + e * pw;
}
/* the dimension of key pair i, half e, of the chunk of lane tig (4 lanes a key row) */
static int key_dim(Fmt f, int tig, int i, int e) { return chunk_dim(f, 4, tig, pair_kc(f, i, e)); }

/* A case: heads GS of 8 real, head size, the key format's order, what the keys carry, positions
 * [p0, pe] of the tiles' 48. */
typedef struct {
    int gs, kq;
    Fmt kf;
    int krow, kivi; /* int8/int4: row scale and zero on the score; KIVI: channel scale and zero on K */
    int p0, pe;
    int bug; /* S^T made wrong on purpose (wrong_layouts_fail): BUG_* */
} Case;
enum { BUG_NONE, BUG_NO_TRANS, BUG_ROW_AS_S, BUG_MAX_IN_QUAD };

typedef struct {
    float q[8][HDMAX], k[NPOS][HDMAX], v[NPOS][HDMAX]; /* k: the codes where the keys carry sides */
    float sk[NPOS], zk[NPOS], kcs[HDMAX], kcz[HDMAX];  /* row sides (krow), channel sides (kivi) */
} Data;

static double urand(uint64_t *st)
{
    *st = tu_mix64(*st + 0x9e3779b97f4a7c15ull);
    return (double)(*st >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* the key as the reference reads it */
static double key_val(const Case *c, const Data *x, int p, int d)
{
    double v = x->k[p][d];
    if (c->krow)
        v = x->sk[p] * v + x->zk[p];
    if (c->kivi)
        v = v * x->kcs[d] + x->kcz[d];
    return v;
}

static const float LOG2E = 1.4426950408889634f;

/* key pair i of row p in the registers of a lane of key chunk tig: the codes (int8/int4: their sides
 * go on the score), KIVI's times its channels' scales plus zeros (kgsm), else the values */
static Pair key_pair(const Case *c, const Data *x, int p, int tig, int i)
{
    float v[2];
    for (int e = 0; e < 2; e++) {
        const int d = key_dim(c->kf, tig, i, e);
        v[e] = c->kivi ? x->k[p][d] * x->kcs[d] + x->kcz[d] : x->k[p][d];
    }
    return (Pair){v[0], v[1]};
}

/* One warp of paged_attn_tc over the 3 tiles, as the kernel's code moves its registers; the tile
 * 1's scores (log2 units, masked -inf) into s1[pos][head], the statistics into m[head], l[head]
 * (log2 units) and the output into out[head][d]. */
static void warp_model(const Case *c, const Data *x, double s1[16][8], double m_out[8], double l_out[8],
                       double out[8][HDMAX])
{
    const int HD = c->kf.hd, KS = HD / 16, GS = c->gs, KQ = c->kq;
    const Fmt vf = {16, HD}; /* value rows in f16's order (the value side is the same in both layouts) */
    Pair qa[W][HDMAX / 16][2];
    float qsum[W], qh[W][2], m[W][2], l[W][2], o[W][HDMAX / 16][4];
    /* the prologue: Q pairs of head g on the lane's key chunk, the query sums */
    for (int lane = 0; lane < W; lane++) {
        const int g = lane >> 2, tig = lane & 3;
        qsum[lane] = 0.0f;
        for (int i = 0; i < HD / 8; i++) {
            const float a = g < GS ? x->q[g][key_dim(c->kf, tig, i, 0)] : 0.0f;
            const float b = g < GS ? x->q[g][key_dim(c->kf, tig, i, 1)] : 0.0f;
            qa[lane][i / 2][i % 2] = (Pair){a, b};
            qsum[lane] += a + b;
        }
    }
    shfl_xor(qsum, 1, 0);
    shfl_xor(qsum, 2, 0);
    for (int lane = 0; lane < W; lane++) {
        const int tig = lane & 3;
        for (int hh = 0; hh < 2; hh++) {
            m[lane][hh] = -INFINITY;
            l[lane][hh] = 0.0f;
            qh[lane][hh] = KQ ? qsum[8 * tig + 4 * hh] : qsum[lane]; /* shfl_idx(qsum, 8 tig + 4 hh) */
        }
        for (int i = 0; i < KS; i++)
            o[lane][i][0] = o[lane][i][1] = o[lane][i][2] = o[lane][i][3] = 0.0f;
    }
    for (int tile = 0; tile < NTILE; tile++) {
        const int pt = 16 * tile;
        if (!(pt <= c->pe && pt + 15 >= c->p0)) /* a tile with no position of the token: skipped */
            continue;
        /* key pair i of the tile's row 8 n + g as the lane's registers hold it (kw, KIVI's kgsm) */
#define KEY(lane, n, i)                                                                                                \
    key_pair(c, x, pt + 8 * (n) + ((lane) >> 2), (lane)&3, (i))
        float s[W][4];
        memset(s, 0, sizeof s);
        if (KQ) {
            for (int j = 0; j < KS; j++) {
                Pair a[W][4], b[W][2];
                for (int lane = 0; lane < W; lane++) {
                    a[lane][0] = KEY(lane, 0, 2 * j);
                    a[lane][1] = KEY(lane, 1, 2 * j);
                    a[lane][2] = KEY(lane, 0, 2 * j + 1);
                    a[lane][3] = KEY(lane, 1, 2 * j + 1);
                    b[lane][0] = qa[lane][j][0];
                    b[lane][1] = qa[lane][j][1];
                }
                mma16816(s, a, b);
            }
        } else {
            float sc[2][W][4];
            memset(sc, 0, sizeof sc);
            for (int j = 0; j < KS; j++)
                for (int n = 0; n < 2; n++) {
                    Pair a[W][4], b[W][2];
                    for (int lane = 0; lane < W; lane++) {
                        a[lane][0] = qa[lane][j][0];
                        a[lane][1] = (Pair){0, 0};
                        a[lane][2] = qa[lane][j][1];
                        a[lane][3] = (Pair){0, 0};
                        b[lane][0] = KEY(lane, n, 2 * j);
                        b[lane][1] = KEY(lane, n, 2 * j + 1);
                    }
                    mma16816(sc[n], a, b);
                }
            for (int lane = 0; lane < W; lane++) {
                s[lane][0] = sc[0][lane][0], s[lane][1] = sc[0][lane][1];
                s[lane][2] = sc[1][lane][0], s[lane][3] = sc[1][lane][1];
            }
        }
#undef KEY
        /* the sides, the mask, log2 units */
        for (int lane = 0; lane < W; lane++) {
            const int g = lane >> 2, tig = lane & 3;
            for (int e = 0; e < 4; e++) {
                const int p = pt + (e >> 1) * 8 + (KQ && c->bug != BUG_ROW_AS_S ? g : 2 * tig + (e & 1));
                float v = s[lane][e];
                if (c->krow) /* ksd: S^T's rows g, g + 8 (e >> 1); S's positions e */
                    v = v * x->sk[p] + x->zk[p] * qh[lane][KQ ? e & 1 : 0];
                v *= LOG2E;
                s[lane][e] = p >= c->p0 && p <= c->pe ? v : -INFINITY;
                if (tile == 1) { /* the scores where the lane holds them */
                    const int head = KQ ? 2 * tig + (e & 1) : g;
                    if (head < GS)
                        s1[p - pt][head] = s[lane][e];
                }
            }
        }
        float pr[W][4], ca[W], cb[W];
        if (KQ) {
            for (int hh = 0; hh < 2; hh++) {
                float mx[W];
                for (int lane = 0; lane < W; lane++)
                    mx[lane] = fmaxf(s[lane][hh], s[lane][2 + hh]);
                if (c->bug == BUG_MAX_IN_QUAD) {
                    shfl_xor(mx, 1, 1);
                    shfl_xor(mx, 2, 1);
                } else {
                    shfl_xor(mx, 4, 1);
                    shfl_xor(mx, 8, 1);
                    shfl_xor(mx, 16, 1);
                }
                for (int lane = 0; lane < W; lane++) {
                    const int tig = lane & 3;
                    const float mn = fmaxf(m[lane][hh], mx[lane]);
                    const int real = 2 * tig + hh < GS;
                    const float cr = real ? exp2f(m[lane][hh] - mn) : 1.0f;
                    pr[lane][hh] = real ? exp2f(s[lane][hh] - mn) : 0.0f;
                    pr[lane][2 + hh] = real ? exp2f(s[lane][2 + hh] - mn) : 0.0f;
                    l[lane][hh] = l[lane][hh] * cr + (pr[lane][hh] + pr[lane][2 + hh]);
                    m[lane][hh] = mn;
                    *(hh ? &cb[lane] : &ca[lane]) = cr;
                }
            }
        } else {
            float mx[W], corr[W];
            for (int lane = 0; lane < W; lane++)
                mx[lane] = fmaxf(fmaxf(s[lane][0], s[lane][1]), fmaxf(s[lane][2], s[lane][3]));
            shfl_xor(mx, 1, 1);
            shfl_xor(mx, 2, 1);
            for (int lane = 0; lane < W; lane++) {
                const float mn = fmaxf(m[lane][0], mx[lane]);
                corr[lane] = exp2f(m[lane][0] - mn);
                for (int e = 0; e < 4; e++)
                    pr[lane][e] = exp2f(s[lane][e] - mn);
                l[lane][0] = l[lane][0] * corr[lane] + ((pr[lane][0] + pr[lane][1]) + (pr[lane][2] + pr[lane][3]));
                m[lane][0] = mn;
            }
            for (int lane = 0; lane < W; lane++) {
                const int tig = lane & 3;
                ca[lane] = corr[8 * tig];
                cb[lane] = corr[8 * tig + 4];
            }
        }
        for (int lane = 0; lane < W; lane++)
            for (int i = 0; i < KS; i++) {
                o[lane][i][0] *= ca[lane];
                o[lane][i][1] *= cb[lane];
                o[lane][i][2] *= ca[lane];
                o[lane][i][3] *= cb[lane];
            }
        /* P^T, the output mma's B operand */
        Pair pb[2][W];
        for (int lane = 0; lane < W; lane++) {
            pb[0][lane] = (Pair){pr[lane][0], pr[lane][1]};
            pb[1][lane] = (Pair){pr[lane][2], pr[lane][3]};
        }
        if (KQ && c->bug != BUG_NO_TRANS) {
            Pair t[W];
            for (int r = 0; r < 2; r++) {
                movmatrix_trans(t, pb[r]);
                memcpy(pb[r], t, sizeof t);
            }
        }
        for (int i = 0; i < KS; i++) {
            Pair a[W][4], b[W][2];
            float acc[W][4];
            for (int lane = 0; lane < W; lane++) {
                const int g = lane >> 2, tig = lane & 3;
                for (int rr = 0; rr < 2; rr++) /* value rows 2 tig + 8 rr, + 1 */
                    for (int hh = 0; hh < 2; hh++) { /* chunk value i + hh KS of the lane's (g) eighth */
                        const int d = chunk_dim(vf, 8, g, i + hh * KS), p = pt + 8 * rr + 2 * tig;
                        a[lane][hh + 2 * rr] = (Pair){x->v[p][d], x->v[p + 1][d]};
                    }
                b[lane][0] = pb[0][lane];
                b[lane][1] = pb[1][lane];
                memcpy(acc[lane], o[lane][i], sizeof acc[lane]);
            }
            mma16816(acc, a, b);
            for (int lane = 0; lane < W; lane++)
                memcpy(o[lane][i], acc[lane], sizeof acc[lane]);
        }
    }
    /* the end: each head's sum over its lanes, the statistics and the output of real heads */
    for (int hh = 0; hh < (KQ ? 2 : 1); hh++) {
        float lv[W];
        for (int lane = 0; lane < W; lane++)
            lv[lane] = l[lane][hh];
        if (KQ) {
            shfl_xor(lv, 4, 0);
            shfl_xor(lv, 8, 0);
            shfl_xor(lv, 16, 0);
        } else {
            shfl_xor(lv, 1, 0);
            shfl_xor(lv, 2, 0);
        }
        for (int lane = 0; lane < W; lane++) {
            const int g = lane >> 2, tig = lane & 3, head = KQ ? 2 * tig + hh : g;
            if ((KQ ? g : tig) == 0 && head < GS) {
                m_out[head] = m[lane][hh];
                l_out[head] = lv[lane];
            }
        }
    }
    for (int lane = 0; lane < W; lane++) {
        const int g = lane >> 2, tig = lane & 3;
        for (int i = 0; i < KS; i++)
            for (int e = 0; e < 4; e++) {
                const int d = chunk_dim(vf, 8, g, i + KS * (e >> 1)), head = 2 * tig + (e & 1);
                if (head < GS)
                    out[head][d] = o[lane][i][e];
            }
    }
    for (int head = 0; head < GS; head++)
        for (int d = 0; d < HD; d++)
            out[head][d] /= l_out[head];
}

/* One case against the direct computation: the scores of tile 1, each real head's max and sum over
 * the token's positions (log2 units) and its output. Returns the number of values off, the first
 * described in msg. */
static int check_case(const Case *c, uint64_t seed, char *msg, size_t cap)
{
    const int HD = c->kf.hd, GS = c->gs;
    Data *x = calloc(1, sizeof *x);
    ck_assert_ptr_nonnull(x);
    uint64_t st = seed;
    for (int h = 0; h < 8; h++)
        for (int d = 0; d < HD; d++)
            x->q[h][d] = (float)urand(&st);
    for (int p = 0; p < NPOS; p++) {
        for (int d = 0; d < HD; d++) {
            x->k[p][d] = c->krow || c->kivi ? (float)floor(8.0 * urand(&st)) : (float)urand(&st);
            x->v[p][d] = (float)urand(&st);
        }
        x->sk[p] = (float)(0.1 + 0.05 * urand(&st));
        x->zk[p] = (float)(0.3 * urand(&st));
    }
    for (int d = 0; d < HD; d++) {
        x->kcs[d] = (float)(0.1 + 0.05 * urand(&st));
        x->kcz[d] = (float)(0.3 * urand(&st));
    }
    double s1[16][8], m[8], l[8], out[8][HDMAX];
    for (int i = 0; i < 16; i++)
        for (int h = 0; h < 8; h++)
            s1[i][h] = NAN;
    for (int h = 0; h < 8; h++) {
        m[h] = l[h] = NAN;
        for (int d = 0; d < HDMAX; d++)
            out[h][d] = NAN;
    }
    warp_model(c, x, s1, m, l, out);
    char what[160];
    snprintf(what, sizeof what, "%s, %d heads, %d-bit key order, head %d%s%s, positions %d..%d",
             c->kq ? "S^T = K Q^T" : "S = Q K^T", GS, c->kf.bits, HD, c->krow ? ", row sides" : "",
             c->kivi ? ", channel sides" : "", c->p0, c->pe);
    int bad = 0;
#define OFF(cond, ...)                                                                                                 \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            if (!bad++) {                                                                                              \
                int w_ = snprintf(msg, cap, "%s: ", what);                                                             \
                snprintf(msg + w_, cap - (size_t)w_, __VA_ARGS__);                                                     \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)
    for (int h = 0; h < GS; h++) {
        double sc[NPOS], mx = -INFINITY, sum = 0.0;
        for (int p = c->p0; p <= c->pe; p++) {
            double d = 0.0;
            for (int i = 0; i < HD; i++)
                d += (double)x->q[h][i] * key_val(c, x, p, i);
            sc[p] = d * LOG2E;
            mx = sc[p] > mx ? sc[p] : mx;
        }
        for (int p = 16; p < 32; p++) {
            const int live = p >= c->p0 && p <= c->pe;
            if (live)
                OFF(!(fabs(s1[p - 16][h] - sc[p]) <= 1e-4 * (1.0 + fabs(sc[p]))), "head %d position %d: score %g, want %g",
                    h, p, s1[p - 16][h], sc[p]);
            else
                OFF(s1[p - 16][h] != -INFINITY, "head %d position %d: masked score %g", h, p, s1[p - 16][h]);
        }
        for (int p = c->p0; p <= c->pe; p++)
            sum += exp2(sc[p] - mx);
        OFF(!(fabs(m[h] - mx) <= 1e-4 * (1.0 + fabs(mx))), "head %d: max %g, want %g", h, m[h], mx);
        OFF(!(fabs(l[h] - sum) <= 1e-4 * sum), "head %d: sum %g, want %g", h, l[h], sum);
        for (int d = 0; d < HD; d++) {
            double o = 0.0;
            for (int p = c->p0; p <= c->pe; p++)
                o += exp2(sc[p] - mx) * x->v[p][d];
            o /= sum;
            OFF(!(fabs(out[h][d] - o) <= 1e-4), "head %d dimension %d: %g, want %g", h, d, out[h][d], o);
        }
    }
#undef OFF
    free(x);
    return bad;
}

/* both layouts, each key order and kind of side, heads 1 to 8 of the 8 columns, windows starting and
 * tokens ending mid-tile (a first tile with no position: skipped) */
static const Case cases[] = {
    {4, 0, {16, 128}, 0, 0, 5, 40, BUG_NONE},  {8, 0, {4, 64}, 1, 0, 0, 47, BUG_NONE},
    {3, 0, {8, 128}, 1, 0, 17, 33, BUG_NONE},  {4, 0, {4, 128}, 0, 1, 2, 30, BUG_NONE},
    {4, 1, {16, 128}, 0, 0, 5, 40, BUG_NONE},  {8, 1, {4, 64}, 1, 0, 0, 47, BUG_NONE},
    {3, 1, {8, 128}, 1, 0, 17, 33, BUG_NONE},  {4, 1, {4, 128}, 0, 1, 2, 30, BUG_NONE},
    {1, 1, {16, 64}, 0, 0, 0, 16, BUG_NONE},   {6, 1, {4, 64}, 1, 0, 9, 45, BUG_NONE},
    {5, 1, {8, 64}, 0, 1, 31, 47, BUG_NONE},   {7, 1, {16, 128}, 1, 0, 15, 31, BUG_NONE},
    {2, 1, {8, 128}, 0, 0, 16, 16, BUG_NONE},
};

START_TEST(layouts)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[512] = "";
        const int bad = check_case(&cases[i], 1000 + i, msg, sizeof msg);
        ck_assert_msg(bad == 0, "%d values off; %s", bad, msg);
    }
}
END_TEST

/* The model sees a wrong S^T: P^T passed on untransposed, the scores' rows taken as S's positions
 * (2 tig + (e & 1): the masks and int8/int4 row sides), a head's max over the lanes of a row (a quad)
 * instead of its column: each fails every S^T case. */
START_TEST(wrong_layouts_fail)
{
    for (int bug = BUG_NO_TRANS; bug <= BUG_MAX_IN_QUAD; bug++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (!cases[i].kq)
                continue;
            Case c = cases[i];
            c.bug = bug;
            char msg[512] = "";
            const int bad = check_case(&c, 1000 + i, msg, sizeof msg);
            if (getenv("LLMC_TEST_VERBOSE"))
                fprintf(stderr, "bug %d, case %zu: %d values off; %s\n", bug, i, bad, msg);
            ck_assert_msg(bad > 0, "bug %d not seen in case %zu", bug, i);
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tc_layout");
    TCase *tc = tcase_create("paged_attn_tc");
    tcase_add_test(tc, layouts);
    tcase_add_test(tc, wrong_layouts_fail);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
