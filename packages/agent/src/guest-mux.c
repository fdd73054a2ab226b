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
#include <linux/close_range.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "guest-mux.h"
#include "guest-mux-chan.h"

static struct chan *chans[MUX_MAX_CHANNELS];
static int nchans;
struct buf port_out; /* frames waiting for the port */
static struct buf rx;  /* bytes read from the port, not yet a whole frame */
static int port = -1;
int mux_serving;
static int fenced;

void send_frame(uint32_t ch, uint8_t kind, const void *payload, size_t len) {
    unsigned char hdr[9];
    put_u32(hdr, (uint32_t)(len + 5));
    put_u32(hdr + 4, ch);
    hdr[8] = kind;
    buf_put(&port_out, hdr, sizeof hdr);
    if (len) buf_put(&port_out, payload, len);
}

void send_ack(struct chan *c) {
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
    if (c->ex) mux_exec_free(c);
    buf_free(&c->to_worker);
    free(c);
}

static void close_all_channels(void) {
    while (nchans > 0) free_chan(chans[0]);
}

/* The worker: an ordinary agent connection on fd 3, exactly as the container agent serves one. */
static void run_worker(int conn) {
    signal(SIGCHLD, SIG_DFL);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &chld, NULL); /* the mux takes SIGCHLD through a signalfd */
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
    /* No worker yet: the channel's first frame decides (an exec is started by the mux itself). */
    struct chan *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->id = id;
    c->fd = -1;
    c->pending = 1;
    c->credit = MUX_WINDOW;
    chans[nchans++] = c;
}

/* Serve the channel as a connection of its own: a worker forked for it, on a socketpair. */
static void start_worker(struct chan *c) {
    c->pending = 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        send_frame(c->id, MUX_ABORT, NULL, 0);
        free_chan(c);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) run_worker(sv[1]);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        send_frame(c->id, MUX_ABORT, NULL, 0);
        free_chan(c);
        return;
    }
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    c->fd = sv[0];
}

/* A channel without a worker whose first frame is here: an exec starts in the mux, an identity is
 * set by it, anything else gets a worker. Returns 0 when the channel was freed. */
static int start_pending(struct chan *c) {
    if (c->to_worker.len < 5) {
        if (!c->host_eof) return 1;
        uint32_t id = c->id;
        start_worker(c); /* it reads EOF and ends, as a connection would */
        return find_chan(id) != NULL;
    }
    unsigned char *h = (unsigned char *)c->to_worker.data + c->to_worker.off;
    if (h[4] != OP_EXEC && h[4] != OP_IDENTITY) {
        uint32_t id = c->id;
        start_worker(c);
        return find_chan(id) != NULL;
    }
    if (c->to_worker.len < 4 + (size_t)get_u32(h)) return 1; /* the rest of the request follows */
    c->pending = 0;
    if (h[4] == OP_IDENTITY) mux_identity(c);
    else mux_exec_start(c);
    return 1;
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
    c->dirty = 1;
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
    while (port_out.len > 0) {
        size_t n = port_out.len > MUX_CHUNK ? MUX_CHUNK : port_out.len;
        ssize_t w = write(port, port_out.data + port_out.off, n);
        if (w > 0) {
            buf_drop(&port_out, (size_t)w);
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

/* Every child that ended: the status of a command the mux started goes to its channel. */
static void reap(int sigfd) {
    struct signalfd_siginfo si[8];
    while (read(sigfd, si, sizeof si) > 0) {
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < nchans; i++)
            if (chans[i]->ex && mux_exec_reaped(chans[i], pid, status)) break;
    }
}

void mux_run(int port_fd) {
    mux_serving = 1;
    port = port_fd;
    fcntl(port, F_SETFL, fcntl(port, F_GETFL) | O_NONBLOCK);
    /* Children are reaped in the loop, not in a handler, so a command's status reaches its
     * channel instead of being lost to a handler's waitpid(-1). */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    signal(SIGCHLD, SIG_DFL);
    int sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);
    exec_signals_init();
    /* Whatever this process inherited stays out of the commands it starts. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    send_frame(0, MUX_HELLO, GUEST_VERSION, strlen(GUEST_VERSION));

    /* The port, the signalfd, then a worker's socket or up to 3 descriptors of a command each. */
    static struct pollfd pfd[2 + 3 * MUX_MAX_CHANNELS];
    static uint32_t owner[2 + 3 * MUX_MAX_CHANNELS]; /* channel id per poll slot (0: ours) */
    int host_gone = 0;
    for (;;) {
        int np = 0;
        /* A disconnected port polls as hung up at once, forever: leave it out and retry it on a
         * timer instead, so a VM whose host went away does not spin. (The slot keeps fd -1.) */
        pfd[np] = (struct pollfd){host_gone ? -1 : port, (short)(POLLIN | (port_out.len ? POLLOUT : 0)), 0};
        owner[np++] = 0;
        pfd[np] = (struct pollfd){sigfd, POLLIN, 0};
        owner[np++] = 0;
        int wait_ms = host_gone ? 100 : -1;
        for (int i = 0; i < nchans && !fenced; i++) {
            struct chan *c = chans[i];
            if (c->ex) {
                int n = mux_exec_poll(c, pfd + np, &wait_ms);
                while (n-- > 0) owner[np++] = c->id;
                continue;
            }
            if (c->fd < 0) continue;
            short ev = 0;
            if (!c->worker_eof && c->credit > 0 && port_out.len < OUT_HIGH) ev |= POLLIN;
            if (c->to_worker.len > 0) ev |= POLLOUT;
            if (!ev) continue;
            pfd[np] = (struct pollfd){c->fd, ev, 0};
            owner[np++] = c->id;
        }
        if (poll(pfd, (nfds_t)np, wait_ms) < 0 && errno != EINTR) continue;
        if (pfd[0].revents & POLLOUT) flush_port();
        if (host_gone || (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            host_gone = read_port() == 0;
            /* Outside a VM (--serve-fd) nobody reconnects: the peer closing is the end. */
            if (host_gone && getpid() != 1) {
                close_all_channels(); /* commands not started to outlive the connection end */
                _exit(0);
            }
        }
        if (pfd[1].revents) reap(sigfd);
        /* Frames just parsed may have freed channels (abort, reset) or fenced: look each up again. */
        for (int i = 2; i < np && !fenced; i++) {
            struct chan *c = find_chan(owner[i]);
            if (!pfd[i].revents || !c) continue;
            if (c->ex) {
                c->dirty = 1;
                continue;
            }
            if (c->fd != pfd[i].fd) continue;
            if (pfd[i].revents & (POLLOUT | POLLERR)) worker_writable(c);
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) worker_readable(c);
        }
        for (int i = 0; i < nchans && !fenced; i++) {
            struct chan *c = chans[i];
            if (c->pending) {
                if (!start_pending(c)) i--; /* freed: the last channel moved into slot i */
                continue;
            }
            if (c->ex && (c->dirty || mux_exec_due(c))) {
                c->dirty = 0;
                mux_exec_step(c);
            }
        }
        for (int i = 0; i < nchans; i++) {
            struct chan *c = chans[i];
            if (c->host_eof && !c->shut_sent && c->to_worker.len == 0 && !c->pending) {
                if (c->fd >= 0) shutdown(c->fd, SHUT_WR);
                c->shut_sent = 1;
            }
            if (c->worker_eof && c->shut_sent) {
                free_chan(c);
                i--;
            }
        }
        if (port_out.len) flush_port();
    }
}
