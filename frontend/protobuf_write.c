/* protobuf_write.c — just enough of the protobuf wire format to write a SentencePiece ModelProto:
 * varints (wire type 0), 32-bit floats (wire type 5) and length-delimited bytes and sub-messages
 * (wire type 2), appended to a growing buffer. Allocation failure is sticky (b->oom) so callers
 * check once at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "fe_internal.h"

void fe_pb_free(FePb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void put(FePb *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void varint(FePb *b, uint64_t v)
{
    uint8_t buf[10];
    size_t n = 0;
    do {
        buf[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            buf[n] |= 0x80;
        n++;
    } while (v);
    put(b, buf, n);
}

static void tag(FePb *b, int field, int wire) { varint(b, (uint64_t)field << 3 | (uint64_t)wire); }

void fe_pb_varint_field(FePb *b, int field, uint64_t v)
{
    tag(b, field, 0);
    varint(b, v);
}

void fe_pb_int32_field(FePb *b, int field, int32_t v)
{
    tag(b, field, 0);
    varint(b, (uint64_t)(int64_t)v); /* negative int32: sign-extended to 64 bits, 10 bytes */
}

void fe_pb_float_field(FePb *b, int field, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    tag(b, field, 5);
    put(b, le, 4);
}

void fe_pb_bytes_field(FePb *b, int field, const void *data, size_t n)
{
    tag(b, field, 2);
    varint(b, n);
    put(b, data, n);
}

void fe_pb_string_field(FePb *b, int field, const char *s) { fe_pb_bytes_field(b, field, s, strlen(s)); }

void fe_pb_message_field(FePb *b, int field, const FePb *sub)
{
    if (sub->oom)
        b->oom = 1;
    fe_pb_bytes_field(b, field, sub->p ? (const void *)sub->p : (const void *)"", sub->n);
}
