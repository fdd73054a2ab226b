/*
 * The mux's channels, shared by its loop (guest-mux.c) and the commands it starts itself
 * (guest-mux-exec.c). Internal to the mux.
 */
#ifndef MITOS_GUEST_MUX_CHAN_H
#define MITOS_GUEST_MUX_CHAN_H
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf {
    char *data;
    size_t off, len, cap; /* bytes live in data[off .. off+len) */
};

struct mux_exec;

struct chan {
    uint32_t id;
    int fd;             /* mux end of the worker's socketpair; -1 without a worker */
    int pending;        /* opened, first frame not seen yet: no worker, no command */
    struct mux_exec *ex; /* an exec the mux runs itself (no worker) */
    int dirty;          /* ex: something happened (frames, fds ready, the command ended) */
    struct buf to_worker; /* host bytes not consumed yet (by the worker, or by ex) */
    uint32_t credit;    /* bytes we may still send to the host on this channel */
    uint32_t unacked;   /* bytes delivered to the worker, not yet acknowledged */
    int host_eof;       /* host sent EOF: shut our write side once to_worker drains */
    int shut_sent;
    int worker_eof;     /* worker closed its side (EOF sent to the host), or ex is over */
};

/* Stop reading workers and commands while this much is queued for the port (the host is slow). */
#define OUT_HIGH (1u << 20)

extern struct buf port_out;
void buf_reserve(struct buf *b, size_t more);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_drop(struct buf *b, size_t n);
void buf_free(struct buf *b);
void put_u32(unsigned char *p, uint32_t v);
uint32_t get_u32(const unsigned char *p);
void send_frame(uint32_t ch, uint8_t kind, const void *payload, size_t len);
void send_ack(struct chan *c);

/* guest-mux-exec.c: the whole OP_EXEC frame is at the head of c->to_worker. */
void mux_exec_start(struct chan *c);
/* guest-mux-exec.c: the whole OP_IDENTITY frame is at the head of c->to_worker; answered at once. */
void mux_identity(struct chan *c);
/* Poll slots for the command's descriptors (at most 3); lowers *wait_ms to its deadline. */
int mux_exec_poll(struct chan *c, struct pollfd *p, int *wait_ms);
/* Its deadline has passed and it has not been acted on. */
int mux_exec_due(struct chan *c);
/* Move input, output and the exit along as far as they go without blocking. */
void mux_exec_step(struct chan *c);
/* 1 when `pid` was this channel's command (its status is kept). */
int mux_exec_reaped(struct chan *c, pid_t pid, int status);
/* The channel goes: kill the command's group unless it was started to outlive its channel. */
void mux_exec_free(struct chan *c);
#endif
