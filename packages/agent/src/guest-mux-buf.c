/* The mux's byte buffers and little-endian fields (guest-mux-chan.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest-mux-chan.h"

void buf_reserve(struct buf *b, size_t more) {
    if (b->off > 0 && b->off + b->len + more > b->cap) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    if (b->off + b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        /* pid 1 cannot exit; an allocation failure here means the VM is out of memory anyway. */
        perror("mitos-guest: realloc");
        abort();
    }
    b->data = p;
    b->cap = cap;
}

void buf_put(struct buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
}

void buf_drop(struct buf *b, size_t n) {
    b->off += n;
    b->len -= n;
    if (b->len == 0) b->off = 0;
}

void buf_free(struct buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void put_u32(unsigned char *p, uint32_t v) {
    p[0] = v & 0xff;
    p[1] = (v >> 8) & 0xff;
    p[2] = (v >> 16) & 0xff;
    p[3] = (v >> 24) & 0xff;
}

uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

