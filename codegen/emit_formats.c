/* emit_formats.c — the storage formats as the emitters print them: the kernel names of formats,
 * weights and element orders (ir/format_ids.h: FMT_<id>, WITH_<role>, ORDER_<id>, made from
 * ir/formats.def), and the C prelude pasted into generated C with its headers expanded. */
#include <string.h>

#include "emit.h"

extern const char *const llmc_c_headers_names[];
extern const char *const llmc_c_headers_texts[];
extern const int llmc_c_headers_count;

static const char *const kformat[LLMC_DTYPE_COUNT] = {
#define X(id, ...) [LLMC_##id] = "FMT_" #id,
#include "../ir/formats.def"
};
static const char *const kwith[LLMC_ROLE_COUNT] = {
#define R(id, name) [LLMC_ROLE_##id] = "WITH_" #id,
#include "../ir/formats.def"
};
static const char *const korder[LLMC_ORDER_COUNT] = {
#define O(id, name) [LLMC_ORDER_##id] = "ORDER_" #id,
#include "../ir/formats.def"
};

const char *llmc_kernel_format(LlmcDType t) { return kformat[t]; }

const char *llmc_kernel_order(int order) { return korder[order]; }

const char *llmc_kernel_wformat(LlmcEmit *e, const LlmcTensor *w)
{
    char *buf = e->ptr_ring[e->ptr_next++ % 16];
    size_t n = sizeof e->ptr_ring[0];
    snprintf(buf, n, "%s", kformat[w->dtype]);
    const LlmcFormatTraits *f = llmc_format(w->dtype);
    for (int i = 0; i < llmc_format_n_sides(w->dtype); i++)
        if ((f->side[i].flags & LLMC_SIDE_OPTIONAL) && w->layout.side[i] >= 0)
            snprintf(buf + strlen(buf), n - strlen(buf), " | %s", kwith[f->side[i].role]);
    return buf;
}

/* ir/format_ids.h's declarations, written from the format table (itself made from formats.def): what
 * the preprocessor makes of the header, without pasting formats.def into the file once per use. */
static void format_ids(LlmcBuf *out)
{
    llmc_buf_printf(out, "#ifndef LLMC_FORMAT_IDS_H\n#define LLMC_FORMAT_IDS_H\nenum {");
    for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
        llmc_buf_printf(out, " %s = %d,", kformat[i], i);
    llmc_buf_printf(out, " FMT_COUNT = %d };\nenum {", LLMC_DTYPE_COUNT);
    for (int r = 1; r < LLMC_ROLE_COUNT; r++)
        llmc_buf_printf(out, " FMT_ROLE_%s = %d,", kwith[r] + 5, r);
    llmc_buf_printf(out, " };\nenum {");
    for (int r = 1; r < LLMC_ROLE_COUNT; r++)
        llmc_buf_printf(out, " %s = 0x%x,", kwith[r], 0x100u << r);
    llmc_buf_printf(out, " };\n#define FMT_OF(wf) ((wf) & 0xff)\nenum {");
    for (int o = 0; o < LLMC_ORDER_COUNT; o++)
        llmc_buf_printf(out, " %s = %d,", korder[o], o);
    llmc_buf_printf(out, " };\nstatic inline int fmt_bits(int f)\n{\n    return");
    for (int i = 0; i < LLMC_DTYPE_COUNT; i++)
        llmc_buf_printf(out, " f == %s ? %d :", kformat[i], llmc_format((LlmcDType)i)->bits);
    llmc_buf_printf(out, " 0;\n}\n#endif\n");
}

/* The header of the C prelude's table an `#include "NAME"` line names (-1: none; -2: format_ids.h). */
static int included(const char *line, size_t n)
{
    const char *p = line, *end = line + n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p++ != '#')
        return -1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if ((size_t)(end - p) < 8 || strncmp(p, "include", 7) != 0)
        return -1;
    p += 7;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *q = p < end && *p == '"' ? memchr(p + 1, '"', (size_t)(end - p - 1)) : NULL;
    if (!q)
        return -1;
    size_t len = (size_t)(q - p - 1);
    if (len == strlen("format_ids.h") && strncmp(p + 1, "format_ids.h", len) == 0)
        return -2;
    for (int k = 0; k < llmc_c_headers_count; k++)
        if (strlen(llmc_c_headers_names[k]) == len && strncmp(p + 1, llmc_c_headers_names[k], len) == 0)
            return k;
    return -1;
}

/* Header h of the table with its includes of the table's headers (and of format_ids.h) pasted in
 * place, each once (done: a bit per header, bit 31 format_ids.h). */
static void paste(LlmcBuf *out, int h, unsigned *done)
{
    *done |= 1u << h;
    for (const char *p = llmc_c_headers_texts[h]; *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p + 1) : strlen(p);
        int k = included(p, n);
        if (k == -2 && !(*done & (1u << 31))) {
            *done |= 1u << 31;
            llmc_buf_printf(out, "/* ---- format_ids.h (from ir/formats.def) ---- */\n");
            format_ids(out);
        } else if (k >= 0 && !(*done & (1u << k))) {
            llmc_buf_printf(out, "/* ---- %s ---- */\n", llmc_c_headers_names[k]);
            paste(out, k, done);
            llmc_buf_printf(out, "/* ---- end of %s ---- */\n", llmc_c_headers_names[k]);
        } else if (k == -1) {
            llmc_buf_printf(out, "%.*s", (int)n, p);
        }
        p += n;
    }
}

void llmc_emit_c_prelude(LlmcBuf *out)
{
    unsigned done = 0;
    for (int k = 0; k < llmc_c_headers_count; k++)
        if (strcmp(llmc_c_headers_names[k], "c_prelude.h") == 0)
            paste(out, k, &done);
}
