/*
 * The frame protocol between the host engine and a sandbox's agent, over a unix socket.
 * A frame is: u32 little-endian length of (type + payload), one type byte, the payload.
 * One connection carries one operation; see docs/agent-protocol.md for every frame type.
 */
#ifndef MITOS_FRAME_H
#define MITOS_FRAME_H
#include <stddef.h>
#include <stdint.h>

#include "frame-ops.h" /* generated from the engine's frames.ts */

struct frame {
    uint8_t type;
    uint32_t len;
    char *data; /* NUL-terminated copy of the payload (len bytes + 1) */
};

int frame_send(int fd, uint8_t type, const void *payload, size_t len);
int frame_sendf(int fd, uint8_t type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int frame_fail(int fd, int err, const char *what);
/* 1 = got a frame, 0 = clean EOF, -1 = error. Caller frees f->data. */
int frame_recv(int fd, struct frame *f);
int write_all(int fd, const void *buf, size_t len);
int read_all(int fd, void *buf, size_t len);
/* Split a payload of NUL-separated fields. Returns the count (<= max). */
int split_fields(char *data, uint32_t len, char **out, int max);

#endif
