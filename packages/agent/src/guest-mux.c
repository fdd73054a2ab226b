/*
 * One poll loop in pid 1 moves bytes between the host port and per-channel workers. It never
 * blocks on a single channel: data for a worker that is not reading waits in that channel's
 * buffer, and credit-based flow control (MUX_WINDOW per direction) bounds every buffer, so a
 * stalled command cannot stall the others or the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "guest-mux.h"

struct buf {
    char *data;
    size_t off, len, cap; /* bytes live in data[off .. off+len) */
};

struct chan {
    uint32_t id;
    int fd;             /* mux end of the worker's socketpair */
    struct buf to_worker;
    uint32_t credit;    /* bytes we may still send to the host on this channel */
    uint32_t unacked;   /* bytes delivered to the worker, not yet acknowledged */
    int host_eof;       /* host sent EOF: shut our write side once to_worker drains */
    int shut_sent;
    int worker_eof;     /* worker closed its side: EOF sent to the host */
};

static struct chan *chans[MUX_MAX_CHANNELS];
static int nchans;
static struct buf out; /* frames waiting for the port */
static struct buf rx;  /* bytes read from the port, not yet a whole frame */
static int port = -1;
int mux_serving;
static int fenced;

/* Stop reading workers while this much is queued for the port (the host is slow). */
#define OUT_HIGH (1u << 20)

static void buf_reserve(struct buf *b, size_t more) {
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

static void buf_put(struct buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
}

static void buf_drop(struct buf *b, size_t n) {
    b->off += n;
    b->len -= n;
    if (b->len == 0) b->off = 0;
}

static void buf_free(struct buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = v & 0xff;
    p[1] = (v >> 8) & 0xff;
    p[2] = (v >> 16) & 0xff;
    p[3] = (v >> 24) & 0xff;
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void send_frame(uint32_t ch, uint8_t kind, const void *payload, size_t len) {
    unsigned char hdr[9];
    put_u32(hdr, (uint32_t)(len + 5));
    put_u32(hdr + 4, ch);
    hdr[8] = kind;
    buf_put(&out, hdr, sizeof hdr);
    if (len) buf_put(&out, payload, len);
}

static void send_ack(struct chan *c) {
    unsigned char n[4];
    put_u32(n, c->unacked);
    send_frame(c->id, MUX_ACK, n, 4);
    c->unacked = 0;
}

static struct chan *find_chan(uint32_t id) {
    for (int i = 0; i < nchans; i++)
        if (chans[i]->id == id) return chans[i];
    return NULL;
}

static void free_chan(struct chan *c) {
    for (int i = 0; i < nchans; i++) {
        if (chans[i] != c) continue;
        chans[i] = chans[--nchans];
        break;
    }
    if (c->fd >= 0) close(c->fd);
    buf_free(&c->to_worker);
    free(c);
}

static void close_all_channels(void) {
    while (nchans > 0) free_chan(chans[0]);
}

/* The worker: an ordinary agent connection on fd 3, exactly as the container agent serves one. */
static void run_worker(int conn) {
    signal(SIGCHLD, SIG_DFL);
    guest_join_sandbox_cgroup();
    if (conn != 3) {
        /* dup3, not dup2: the copy must stay close-on-exec, or every command the worker runs
         * inherits the agent's channel as its fd 3. */
        dup3(conn, 3, O_CLOEXEC);
        conn = 3;
    }
    close_range(4, ~0U, 0);
    agent_serve_connection(conn);
    _exit(0);
}

static void open_chan(uint32_t id) {
    if (id == 0 || find_chan(id) || nchans >= MUX_MAX_CHANNELS) {
        send_frame(id, MUX_ABORT, NULL, 0);
        return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        send_frame(id, MUX_ABORT, NULL, 0);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) run_worker(sv[1]);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        send_frame(id, MUX_ABORT, NULL, 0);
        return;
    }
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    struct chan *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->id = id;
    c->fd = sv[0];
    c->credit = MUX_WINDOW;
    chans[nchans++] = c;
}

static void resume(char *p, uint32_t len) {
    /* mode, realtime ns, hostname, token, pids max: NUL-terminated; the rest is the seed. */
    char *f[5];
    int n = split_fields(p, len, f, 5);
    if (n < 5) {
        fprintf(stderr, "mitos-guest: malformed resume\n");
        return;
    }
    size_t used = (size_t)(f[4] - p) + strlen(f[4]) + 1;
    if (strcmp(f[0], "reset") == 0) close_all_channels();
    guest_set_realtime(atoll(f[1]));
    if (f[2][0]) guest_set_hostname(f[2]);
    if (f[3][0]) guest_write_token(f[3]);
    if (f[4][0]) guest_set_pids_max(f[4]);
    if (len > used) guest_reseed(p + used, len - used);
    fenced = 0;
    send_frame(0, MUX_RESUMED, f[0], strlen(f[0]));
}

static void on_frame(uint32_t ch, uint8_t kind, char *p, uint32_t len) {
    if (ch == 0) {
        if (kind == MUX_FENCE) {
            fenced = 1;
            send_frame(0, MUX_FENCED, NULL, 0);
        } else if (kind == MUX_RESUME) {
            resume(p, len);
        }
        return;
    }
    if (kind == MUX_OPEN) {
        open_chan(ch);
        return;
    }
    struct chan *c = find_chan(ch);
    if (!c) {
        /* A channel of an earlier host session; tell the host it is gone. */
        if (kind != MUX_ABORT && kind != MUX_ACK) send_frame(ch, MUX_ABORT, NULL, 0);
        return;
    }
    switch (kind) {
    case MUX_DATA: buf_put(&c->to_worker, p, len); break;
    case MUX_EOF: c->host_eof = 1; break;
    case MUX_ACK:
        if (len >= 4) c->credit += get_u32((unsigned char *)p);
        break;
    case MUX_ABORT: free_chan(c); break;
    default: break;
    }
}

static void parse_rx(void) {
    while (rx.len >= 9) {
        unsigned char *h = (unsigned char *)rx.data + rx.off;
        uint32_t total = get_u32(h);
        if (total < 5 || total > MUX_MAX_FRAME) {
            /* Lost sync: nothing sane can follow. Drop everything and wait for the next host. */
            fprintf(stderr, "mitos-guest: bad mux frame length %u\n", total);
            rx.len = rx.off = 0;
            return;
        }
        if (rx.len < 4 + (size_t)total) return;
        on_frame(get_u32(h + 4), h[8], (char *)h + 9, total - 5);
        buf_drop(&rx, 4 + (size_t)total);
    }
}

/* Returns 0 when the host side is not connected (the port reads EOF). */
static int read_port(void) {
    for (;;) {
        buf_reserve(&rx, 64 * 1024);
        ssize_t n = read(port, rx.data + rx.off + rx.len, 64 * 1024);
        if (n > 0) {
            rx.len += (size_t)n;
            parse_rx();
            continue;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        return 1; /* EAGAIN */
    }
}

static void flush_port(void) {
    while (out.len > 0) {
        size_t n = out.len > MUX_CHUNK ? MUX_CHUNK : out.len;
        ssize_t w = write(port, out.data + out.off, n);
        if (w > 0) {
            buf_drop(&out, (size_t)w);
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        return; /* EAGAIN, or the host is gone (EPIPE): keep it for when it is back */
    }
}

static void worker_writable(struct chan *c) {
    while (c->to_worker.len > 0) {
        ssize_t w = write(c->fd, c->to_worker.data + c->to_worker.off, c->to_worker.len);
        if (w > 0) {
            buf_drop(&c->to_worker, (size_t)w);
            c->unacked += (uint32_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
        /* The worker is gone: its input is void, but the host's window must still refill. */
        c->unacked += (uint32_t)c->to_worker.len;
        buf_drop(&c->to_worker, c->to_worker.len);
    }
    if (c->unacked >= MUX_WINDOW / 4 || (c->to_worker.len == 0 && c->unacked > 0)) send_ack(c);
}

static void worker_readable(struct chan *c) {
    char buf[MUX_CHUNK];
    size_t want = c->credit < sizeof buf ? c->credit : sizeof buf;
    if (want == 0) return;
    ssize_t n = read(c->fd, buf, want);
    if (n > 0) {
        send_frame(c->id, MUX_DATA, buf, (size_t)n);
        c->credit -= (uint32_t)n;
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    c->worker_eof = 1;
    send_frame(c->id, MUX_EOF, NULL, 0);
}

static void reap(int sig) {
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

void mux_run(int port_fd) {
    mux_serving = 1;
    port = port_fd;
    fcntl(port, F_SETFL, fcntl(port, F_GETFL) | O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    send_frame(0, MUX_HELLO, GUEST_VERSION, strlen(GUEST_VERSION));

    static struct pollfd pfd[MUX_MAX_CHANNELS + 1];
    static uint32_t owner[MUX_MAX_CHANNELS + 1]; /* channel id per poll slot (0: the port) */
    int host_gone = 0;
    for (;;) {
        int np = 0;
        /* A disconnected port polls as hung up at once, forever: leave it out and retry it on a
         * timer instead, so a VM whose host went away does not spin. (The slot keeps fd -1.) */
        pfd[np] = (struct pollfd){host_gone ? -1 : port, (short)(POLLIN | (out.len ? POLLOUT : 0)), 0};
        owner[np++] = 0;
        for (int i = 0; i < nchans && !fenced; i++) {
            struct chan *c = chans[i];
            short ev = 0;
            if (!c->worker_eof && c->credit > 0 && out.len < OUT_HIGH) ev |= POLLIN;
            if (c->to_worker.len > 0) ev |= POLLOUT;
            if (!ev) continue;
            pfd[np] = (struct pollfd){c->fd, ev, 0};
            owner[np++] = c->id;
        }
        if (poll(pfd, (nfds_t)np, host_gone ? 100 : -1) < 0 && errno != EINTR) continue;
        if (pfd[0].revents & POLLOUT) flush_port();
        if (host_gone || (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            host_gone = read_port() == 0;
            /* Outside a VM (--serve-fd) nobody reconnects: the peer closing is the end. */
            if (host_gone && getpid() != 1) _exit(0);
        }
        /* Frames just parsed may have freed channels (abort, reset) or fenced: look each up again. */
        for (int i = 1; i < np && !fenced; i++) {
            struct chan *c = find_chan(owner[i]);
            if (!pfd[i].revents || !c || c->fd != pfd[i].fd) continue;
            if (pfd[i].revents & (POLLOUT | POLLERR)) worker_writable(c);
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) worker_readable(c);
        }
        for (int i = 0; i < nchans; i++) {
            struct chan *c = chans[i];
            if (c->host_eof && !c->shut_sent && c->to_worker.len == 0) {
                shutdown(c->fd, SHUT_WR);
                c->shut_sent = 1;
            }
            if (c->worker_eof && c->shut_sent) {
                free_chan(c);
                i--;
            }
        }
        if (out.len) flush_port();
    }
}
