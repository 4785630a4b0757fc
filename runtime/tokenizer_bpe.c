/* tokenizer_bpe.c — what the BPE formats share (tokenizer_impl.h): the piece table's hash index
 * and the merge engine.
 *
 * Both formats encode the same way at heart: cut the text into initial symbols, then repeatedly
 * merge the adjacent pair whose concatenation is a vocabulary piece with the highest score, the
 * leftmost pair on ties. The references do this differently — llama2.c's run.c rescans every
 * pair after each merge with a binary search over the sorted vocabulary (O(n^2 log V)), and
 * SentencePiece's bpe_model.cc keeps a priority queue of candidate pairs — but both pick the same
 * pair at every step, so one engine serves both here (llmc_bpe_run): the symbols are byte ranges
 * of one buffer, a doubly linked list in text order; the candidate pairs sit in a binary heap
 * ordered by (score descending, left symbol ascending); a merge keeps the left symbol, kills the
 * right one and pushes the two new pairs around it; stale heap entries are dropped when popped
 * (lazy invalidation). Pieces are found through a hash table keyed by their bytes. O(n log n);
 * stretches of text that no merge can cross are merged one after another with a small heap
 * (llmc_bpe_run), which keeps a 200 KB text at a few tens of milliseconds.
 *
 * Because a pair's candidate is "the piece spelled by the concatenation", the buffer the symbols
 * index must spell the strings the reference concatenates: each format builds it (llama2.c from
 * the initial tokens' piece strings, SentencePiece from the normalized text).
 */
#include "tokenizer_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- piece hash table ---- */

/* The slot for piece id's string, created empty (ids -1) when missing. */
Slot *llmc_tok_slot_get(LlmcTokenizer *t, int32_t id)
{
    const Piece *p = &t->pieces[id];
    const uint8_t *s = t->pool + p->off;
    uint32_t h = llmc_tok_hash(s, p->len);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        Slot *sl = &t->slots[i];
        if (sl->merge_id < 0 && sl->fixed_id < 0) {
            *sl = (Slot){h, p->off, p->len, -1, -1};
            return sl;
        }
        if (sl->hash == h && sl->len == p->len && memcmp(t->pool + sl->off, s, p->len) == 0)
            return sl;
    }
}

int llmc_tok_alloc_slots(LlmcTokenizer *t)
{
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)t->n)
        cap *= 2;
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->slots)
        return -1;
    for (uint32_t i = 0; i < cap; i++)
        t->slots[i] = (Slot){0, 0, 0, -1, -1};
    t->mask = cap - 1;
    return 0;
}

/* Records which byte pairs occur inside pieces the BPE may form (see llmc_bpe_run). */
void llmc_tok_note_pairs(LlmcTokenizer *t, int32_t id)
{
    const Piece *p = &t->pieces[id];
    const uint8_t *s = t->pool + p->off;
    if (p->len > t->max_merge_len)
        t->max_merge_len = p->len;
    for (uint32_t k = 1; k < p->len; k++) {
        unsigned v = (unsigned)s[k - 1] << 8 | s[k];
        t->pair_bits[v >> 6] |= 1ull << (v & 63);
    }
}

/* The id PieceToId gives a string: CONTROL/UNKNOWN/BYTE spelling first, then a mergeable piece,
 * else unk. */
int32_t llmc_tok_piece_to_id(const LlmcTokenizer *t, const uint8_t *s, size_t len)
{
    const Slot *sl = llmc_tok_slot_find(t, s, len);
    if (sl && sl->fixed_id >= 0)
        return sl->fixed_id;
    if (sl && sl->merge_id >= 0)
        return sl->merge_id;
    return t->unk;
}

/* "<0xXX>" -> XX, else -1. SentencePiece writes "%02X" and accepts only that; llama2.c parses
 * with sscanf("<0x%02hhX>") and so also takes lower-case digits. */
int llmc_tok_byte_piece(const uint8_t *s, size_t len, bool lower_ok)
{
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (lower_ok && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* ---- the BPE engine ---- */

static bool cand_before(const Cand *a, const Cand *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(Bpe *b, Cand c)
{
    if (b->n_heap == b->cap_heap) {
        size_t cap = b->cap_heap ? 2 * b->cap_heap : 256;
        Cand *h = realloc(b->heap, cap * sizeof *h);
        if (!h) {
            b->oom = true;
            return;
        }
        b->heap = h;
        b->cap_heap = cap;
    }
    size_t i = b->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!cand_before(&c, &b->heap[up]))
            break;
        b->heap[i] = b->heap[up];
        i = up;
    }
    b->heap[i] = c;
}

static Cand heap_pop(Bpe *b)
{
    Cand top = b->heap[0], last = b->heap[--b->n_heap];
    size_t i = 0, n = b->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cand_before(&b->heap[c + 1], &b->heap[c]))
            c++;
        if (!cand_before(&b->heap[c], &last))
            break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    if (n)
        b->heap[i] = last;
    return top;
}

/* Pushes the pair (l, r) when their concatenation is a piece the BPE may form. */
static void bpe_try_pair(Bpe *b, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return;
    const Sym *L = &b->sym[l], *R = &b->sym[r];
    if (L->freeze || R->freeze)
        return;
    uint32_t size = L->len + R->len;
    if (size > b->t->max_merge_len ||
        (L->len && R->len && !llmc_tok_pair_ok(b->t, b->buf + R->start - 1)))
        return;   /* cheap refusals before the hash lookup */
    const Slot *sl = llmc_tok_slot_find(b->t, b->buf + L->start, size);
    if (!sl || sl->merge_id < 0)
        return;
    const Piece *p = &b->t->pieces[sl->merge_id];
    /* run.c starts its search at best_score = -1e10 and needs a strictly larger score. */
    if (b->run_c_floor && !(p->score > -1e10f))
        return;
    heap_push(b, (Cand){p->score, l, r, size, sl->merge_id});
    if (b->split && p->type == PT_UNUSED)
        b->split[sl->merge_id] = L->len;
}

/* Whether no merge can ever join sym[i - 1] and sym[i]: a merged symbol spanning that border
 * would be a piece holding the two bytes around it side by side, and no piece does. */
static bool bpe_border(const Bpe *b, int32_t i)
{
    const Sym *l = &b->sym[i - 1], *r = &b->sym[i];
    return l->len && r->len && !llmc_tok_pair_ok(b->t, b->buf + r->start - 1);
}

/* Merges sym[0..n) (linked in order) until no adjacent pair spells a piece.
 *
 * Stretches between borders no merge can cross (bpe_border: for Llama-style vocabularies,
 * mostly before each "▁") cannot influence each other, and the merges inside one happen in
 * the same order whether the others are interleaved or not; so each stretch is merged on its
 * own with a small heap that stays in cache, which is several times faster on long texts than
 * one heap over all of them. The exception: which split an UNUSED piece is resegmented with
 * depends on the global order pairs were pushed in, so with UNUSED pieces the text is one
 * stretch. */
void llmc_bpe_run(Bpe *b, int32_t n)
{
    bool stretches = b->split == NULL;
    for (int32_t first = 0, i = 1; i <= n; i++) {
        if (i < n && !(stretches && bpe_border(b, i)))
            continue;
        for (int32_t k = first; k + 1 < i; k++)
            bpe_try_pair(b, k, k + 1);
        while (b->n_heap) {
            Cand c = heap_pop(b);
            Sym *L = &b->sym[c.left], *R = &b->sym[c.right];
            if (!L->alive || !R->alive || L->next != c.right || L->len + R->len != c.size)
                continue;   /* stale: a symbol was merged away or grew since the pair was pushed */
            L->len = c.size;
            L->id = c.id;
            L->next = R->next;
            if (R->next >= 0)
                b->sym[R->next].prev = c.left;
            R->alive = 0;
            bpe_try_pair(b, L->prev, c.left);
            bpe_try_pair(b, c.left, L->next);
        }
        first = i;
    }
}

int llmc_bpe_alloc(Bpe *b, size_t n_sym)
{
    b->sym = malloc((n_sym ? n_sym : 1) * sizeof *b->sym);
    return b->sym ? 0 : -1;
}

void llmc_bpe_free(Bpe *b)
{
    free(b->sym);
    free(b->heap);
    free(b->split);
}
