/*
 * The frame protocol between the host engine and a sandbox's agent, over a unix socket.
 * A frame is: u32 little-endian length of (type + payload), one type byte, the payload.
 * One connection carries one operation; see docs/agent-protocol.md for every frame type.
 */
#ifndef MITOS_FRAME_H
#define MITOS_FRAME_H
#include <stddef.h>
#include <stdint.h>

#define FRAME_MAX (16u * 1024u * 1024u)
#define DATA_CHUNK (64u * 1024u)

/* client -> agent: operations */
#define OP_EXEC 'E'
#define OP_READ 'r'
#define OP_WRITE 'w'
#define OP_LIST 'l'
#define OP_STAT 's'
#define OP_MKDIR 'm'
#define OP_REMOVE 'd'
#define OP_PING 'P'
#define OP_IDENTITY 'H'
#define OP_CONNECT_TCP 'T'
#define OP_CONNECT_UNIX 'U'
#define OP_PROCESSES 'Q'
#define OP_SIGNAL 'k'
/* client -> agent: during an operation */
#define IN_STDIN 'I'
#define IN_STDIN_CLOSE 'C'
#define IN_RESIZE 'R'
#define IN_SIGNAL 'K'
#define IN_DATA 'D'
#define IN_END 'Z'
/* agent -> client */
#define OUT_PID 'p'
#define OUT_STDOUT 'o'
#define OUT_STDERR 'e'
#define OUT_EXIT 'x'
#define OUT_DATA 'D'
#define OUT_ENTRY 'L'
#define OUT_OK 'Z'
#define OUT_FAIL 'F'

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
