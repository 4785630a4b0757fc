/* tokenizer_impl.h — what the tokenizer's files share: the tokenizer object, the table entry each
 * format fills in, the piece table with its hash index, and the BPE merge engine.
 *
 * tokenizer.c implements the public calls (tokenizer.h) once, checks their arguments and
 * dispatches on the format's entry (LlmcTokFormat); each format is one file that fills in one entry
 * (tokenizer_llama2c.c, tokenizer_sp.c) and is listed in tokenizer.c's table. The pieces, their
 * hash index and the merge engine (tokenizer_bpe.c) serve every BPE format. Nothing here is meant
 * for code outside the tokenizer files.
 */
#ifndef LLMC_TOKENIZER_IMPL_H
#define LLMC_TOKENIZER_IMPL_H

#include "tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Piece types: SentencePiece's ModelProto.SentencePiece.Type numbers. */
enum {
    PT_NORMAL = 1, PT_UNKNOWN = 2, PT_CONTROL = 3, PT_USER_DEFINED = 4, PT_UNUSED = 5, PT_BYTE = 6
};

typedef struct Piece {
    uint32_t off, len;  /* bytes in tok->pool */
    float score;
    uint8_t type;       /* PT_*; llama2.c pieces are PT_NORMAL */
    int16_t byte;       /* PT_BYTE (SentencePiece): the byte it stands for; else -1 */
} Piece;

/* One slot per distinct piece string. A string may name two pieces in SentencePiece: one the
 * BPE may form (merge_id) and one it never forms but PieceToId prefers (fixed_id). */
typedef struct Slot {
    uint32_t hash;
    uint32_t off, len;  /* the string, in tok->pool */
    int32_t merge_id;   /* llama2.c: every piece (lowest id of duplicates); SentencePiece: NORMAL,
                           USER_DEFINED, UNUSED. -1: none */
    int32_t fixed_id;   /* SentencePiece CONTROL, UNKNOWN, BYTE. -1: none */
} Slot;                 /* empty when both ids are -1 */

/* Bytes a decoded token produces: written while they fit, all counted (like snprintf). */
typedef struct LlmcTokOut {
    char *buf;
    size_t size, n;     /* capacity, bytes produced (may exceed what fits) */
} LlmcTokOut;

typedef struct LlmcTokFormat LlmcTokFormat;

struct LlmcTokenizer {
    const LlmcTokFormat *fmt;
    int32_t n;          /* pieces */
    Piece *pieces;      /* [n] */
    uint8_t *pool;      /* piece bytes */
    Slot *slots;        /* [mask + 1] open addressing, linear probing */
    uint32_t mask;
    int32_t bos, eos, unk;
    uint64_t pair_bits[1024];   /* bit x << 8 | y: bytes x, y are adjacent in a mergeable piece */
    uint32_t max_merge_len;     /* longest mergeable piece */
    void *state;        /* the format's own (SentencePiece: normalizer options, byte pieces) */
};

/* One tokenizer file format: an entry of tokenizer.c's table.
 *   load:   fills t->pieces[0..t->n) (allocated by the caller), t->pool, the slots, bos/eos/unk
 *           and t->state from the file bytes; -1 with a message in err. On failure the caller
 *           frees t (free below included), so load may leave t half-built.
 *   encode: appends the ids of text to out (llmc_ids_push); flags are llmc_tokenizer_encode's
 *           (LLMC_TOK_SPECIAL: match added/special tokens; the BOS is tokenizer.c's business).
 *   decode: the bytes token id (0 <= id < t->n) contributes after token prev (-1 at the start);
 *           flags as llmc_tokenizer_decode_ex's.
 *   free:   releases t->state (NULL when the format keeps none); t->state may be NULL. */
/* Ids being encoded: a growing array (the growth fails at most once: oom is sticky). */
typedef struct LlmcIds {
    int32_t *p;
    size_t n, cap;
    bool oom;
} LlmcIds;

struct LlmcTokFormat {
    int kind;                   /* LLMC_TOK_* (llmc_model.h) */
    int (*load)(LlmcTokenizer *t, const uint8_t *data, size_t size, char *err, size_t errlen);
    int (*encode)(const LlmcTokenizer *t, const uint8_t *text, size_t len, int flags, LlmcIds *out,
                  char *err, size_t errlen);
    void (*decode)(const LlmcTokenizer *t, int32_t prev, int32_t id, int flags, LlmcTokOut *o);
    void (*free)(LlmcTokenizer *t);
    /* optional: a named string the file carries (NULL: none) */
    const char *(*string)(const LlmcTokenizer *t, const char *key, size_t *len);
};

extern const LlmcTokFormat llmc_tok_llama2c;        /* tokenizer_llama2c.c */
extern const LlmcTokFormat llmc_tok_sentencepiece;  /* tokenizer_sp.c */
extern const LlmcTokFormat llmc_tok_hf;             /* tokenizer_hf.c */

/* ---- shared helpers (tokenizer.c) ---- */

/* vsnprintf into err (when given); returns -1. */
int llmc_tok_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void llmc_tok_out_put(LlmcTokOut *o, const uint8_t *s, size_t len);
/* Appends id (on failure to grow sets out->oom and drops it). */
void llmc_ids_push(LlmcIds *out, int32_t id);

static inline uint32_t llmc_tok_rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- piece table (tokenizer_bpe.c; the lookups inline, they sit in the merge loop) ---- */

static inline uint32_t llmc_tok_hash(const uint8_t *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a 64, folded */
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return (uint32_t)(h ^ (h >> 32));
}

/* The slot of string s, NULL when no piece spells it. */
static inline Slot *llmc_tok_slot_find(const LlmcTokenizer *t, const uint8_t *s, size_t len)
{
    uint32_t h = llmc_tok_hash(s, len);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        Slot *sl = &t->slots[i];
        if (sl->merge_id < 0 && sl->fixed_id < 0)
            return NULL;
        if (sl->hash == h && sl->len == len && memcmp(t->pool + sl->off, s, len) == 0)
            return sl;
    }
}

/* Whether the bytes s[0], s[1] stand side by side in some piece the BPE may form. */
static inline bool llmc_tok_pair_ok(const LlmcTokenizer *t, const uint8_t *s)
{
    unsigned v = (unsigned)s[0] << 8 | s[1];
    return t->pair_bits[v >> 6] >> (v & 63) & 1;
}

/* Sizes the (empty) hash index for t->n pieces. 0 or -1 (out of memory). */
int llmc_tok_alloc_slots(LlmcTokenizer *t);
/* The slot for piece id's string, created empty (ids -1) when missing. */
Slot *llmc_tok_slot_get(LlmcTokenizer *t, int32_t id);
/* Records which byte pairs occur inside pieces the BPE may form (see llmc_bpe_run). */
void llmc_tok_note_pairs(LlmcTokenizer *t, int32_t id);
/* The id PieceToId gives a string: CONTROL/UNKNOWN/BYTE spelling first, then a mergeable piece,
 * else unk. */
int32_t llmc_tok_piece_to_id(const LlmcTokenizer *t, const uint8_t *s, size_t len);
/* "<0xXX>" -> XX, else -1. SentencePiece writes "%02X" and accepts only that; llama2.c parses
 * with sscanf("<0x%02hhX>") and so also takes lower-case digits. */
int llmc_tok_byte_piece(const uint8_t *s, size_t len, bool lower_ok);

/* ---- the BPE engine (tokenizer_bpe.c) ---- */

typedef struct Sym {
    uint32_t start, len;    /* bytes of the buffer */
    int32_t prev, next;     /* neighbours in text order; -1 at the ends */
    int32_t id;             /* llama2.c: the token; SentencePiece: unused (ids come at the end) */
    uint8_t alive;          /* 0 once merged into its left neighbour */
    uint8_t freeze;         /* SentencePiece USER_DEFINED match: never merged */
} Sym;

typedef struct Cand {       /* a candidate merge of two adjacent symbols */
    float score;            /* the merged piece's */
    int32_t left, right;    /* symbols */
    uint32_t size;          /* merged length; stale when the symbols' lengths no longer sum to it */
    int32_t id;             /* the merged piece */
} Cand;

typedef struct Bpe {
    const LlmcTokenizer *t;
    const uint8_t *buf;     /* what the symbols spell */
    Sym *sym;
    Cand *heap;             /* binary max-heap by cand_before */
    size_t n_heap, cap_heap;
    bool oom;               /* the heap could not grow: the encode fails */
    bool run_c_floor;       /* llama2.c: only pieces scoring above -1e10 merge (run.c) */
    uint32_t *split;        /* SentencePiece UNUSED pieces: left length of the last pair pushed
                               that spells the piece (bpe_model.cc rev_merge), 0 = none;
                               [t->n], or NULL when the model has no UNUSED piece */
} Bpe;

/* Merges b->sym[0..n) (linked in order) until no adjacent pair spells a piece. */
void llmc_bpe_run(Bpe *b, int32_t n);
/* Room for n_sym symbols. 0 or -1 (out of memory). */
int llmc_bpe_alloc(Bpe *b, size_t n_sym);
/* Frees the symbols, the heap and the split table. */
void llmc_bpe_free(Bpe *b);

static inline void llmc_bpe_sym_add(Sym *sym, int32_t *n, uint32_t start, uint32_t len,
                                    int32_t id, bool freeze)
{
    int32_t i = (*n)++;
    sym[i] = (Sym){start, len, i - 1, -1, id, 1, freeze};
    if (i > 0)
        sym[i - 1].next = i;
}

#endif
