/*
 * An exec channel served by the mux itself: no worker process per channel. The mux starts
 * `/bin/sh -c` with a vfork-style clone (the child shares the mux's memory until it calls
 * execve, so no page tables are copied and the parent learns a failure through that memory),
 * keeps the command's pipes (or pty master) in its own poll loop, and frames the output, the
 * pid and the exit straight onto the channel. Behaviour is exec.c's, a worker's loop: output in
 * order before the exit, the group killed at the deadline (exit 124) or when the host drops the
 * channel (unless detach-on-close), stdin, resize and signals from the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "guest-mux-chan.h"
#include "guest-mux.h"
#include "pipe-holder.h"

struct mux_exec {
    pid_t pid;
    int flags;
    int out_fd, err_fd; /* read ends (a pty's master is out_fd), -1 once finished */
    int in_fd;          /* stdin's write end, or the pty master; -1 without */
    int master;
    long long deadline; /* CLOCK_MONOTONIC ms; 0: none */
    int timed_out, exited, status, input_closed, done;
    size_t stdin_off; /* bytes of the head stdin frame already written */
    int group_slot;   /* its entry in mux_groups, or -1 */
    int stdin_blocked;
};

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An agent frame (type + payload) as the channel's data. */
static void send_agent_frame(struct chan *c, uint8_t type, const void *payload, size_t len) {
    unsigned char hdr[9 + 5];
    put_u32(hdr, (uint32_t)(len + 5 + 5));
    put_u32(hdr + 4, c->id);
    hdr[8] = MUX_DATA;
    put_u32(hdr + 9, (uint32_t)(len + 1));
    hdr[13] = type;
    buf_put(&port_out, hdr, sizeof hdr);
    if (len) buf_put(&port_out, payload, len);
    /* Control frames are sent even when they overdraw the window by a few bytes. */
    size_t used = len + 5;
    c->credit = c->credit > used ? c->credit - (uint32_t)used : 0;
}

static void send_fail(struct chan *c, int err, const char *what) {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%d%c%s: %s", err, 0, what, strerror(err));
    send_agent_frame(c, OUT_FAIL, msg, (size_t)n);
    c->worker_eof = 1;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static void close_all(struct mux_exec *ex) {
    if (ex->master >= 0) {
        close_fd(&ex->master);
        ex->out_fd = ex->in_fd = -1;
    }
    close_fd(&ex->out_fd);
    close_fd(&ex->err_fd);
    close_fd(&ex->in_fd);
}

/* Listed while it runs, so the agent ends its group if this process dies first. */
static void list_group(struct mux_exec *ex) {
    ex->group_slot = -1;
    if (!mux_groups || (ex->flags & EXEC_FLAG_DETACH_ON_CLOSE)) return;
    for (int i = 0; i < MUX_GROUPS; i++) {
        if (mux_groups[i] == 0) {
            mux_groups[i] = ex->pid;
            ex->group_slot = i;
            return;
        }
    }
}

static void unlist_group(struct mux_exec *ex) {
    if (ex->group_slot >= 0) mux_groups[ex->group_slot] = 0;
    ex->group_slot = -1;
}

static void kill_group(struct mux_exec *ex, int sig) {
    kill(-ex->pid, sig);
    kill(ex->pid, sig);
}

/* The new process's side (shares our memory until execve): see exec_child. */
static struct exec_spec spec;
static struct {
    const char *pty_slave;
    int in, out, err;
    volatile int stage, err_no;
} child_args;

static int child_main(void *unused) {
    guest_join_sandbox_cgroup();
    int stage = exec_child(&spec, child_args.pty_slave, child_args.in, child_args.out, child_args.err);
    child_args.err_no = errno;
    child_args.stage = stage;
    _exit(127);
}

/* The child runs on this stack while we wait (CLONE_VFORK): one start at a time. */
static char child_stack[64 * 1024] __attribute__((aligned(16)));

/* The whole request frame at the head of c->to_worker, taken off it (the caller frees .data). */
static struct frame take_request(struct chan *c) {
    unsigned char *h = (unsigned char *)c->to_worker.data + c->to_worker.off;
    uint32_t total = get_u32(h);
    struct frame req = {.type = h[4], .len = total - 1, .data = malloc(total)};
    if (!req.data) abort();
    memcpy(req.data, h + 5, req.len);
    req.data[req.len] = 0;
    buf_drop(&c->to_worker, 4 + (size_t)total);
    c->unacked += 4 + total;
    return req;
}

/* The identity (a hostname and entropy: two syscalls) is set by the mux itself: a worker forked
 * for it was most of a pooled sandbox's hand-out. */
void mux_identity(struct chan *c) {
    struct frame req = take_request(c);
    const char *what = "";
    int err = identity_apply(&req, &what);
    free(req.data);
    if (err) {
        send_fail(c, err, what);
        return;
    }
    send_agent_frame(c, OUT_OK, "", 0);
    c->worker_eof = 1;
}

void mux_exec_start(struct chan *c) {
    struct frame req = take_request(c);
    const char *what = "";
    if (exec_parse(&req, &spec, &what) < 0) {
        send_fail(c, errno, what);
        free(req.data);
        return;
    }
    struct mux_exec *ex = calloc(1, sizeof *ex);
    if (!ex) abort();
    ex->flags = spec.flags;
    ex->out_fd = ex->err_fd = ex->in_fd = ex->master = -1;
    int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
    const char *slave = NULL, *failed = NULL;
    if (spec.flags & EXEC_FLAG_PTY) {
        ex->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
        if (ex->master < 0 || grantpt(ex->master) < 0 || unlockpt(ex->master) < 0 || !(slave = ptsname(ex->master))) {
            failed = "open pty";
        } else {
            struct winsize ws = {.ws_row = (unsigned short)(spec.rows > 0 ? spec.rows : 24),
                                 .ws_col = (unsigned short)(spec.cols > 0 ? spec.cols : 80)};
            ioctl(ex->master, TIOCSWINSZ, &ws);
            ex->out_fd = ex->in_fd = ex->master;
        }
    } else if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
               ((spec.flags & EXEC_FLAG_STDIN) && pipe2(in, O_CLOEXEC) < 0)) {
        failed = "pipe";
    }
    pid_t pid = -1;
    if (!failed) {
        child_args.pty_slave = slave;
        child_args.in = in[0];
        child_args.out = out[1];
        child_args.err = err[1];
        child_args.stage = 0;
        /* No handler of ours may run in the child before it resets them. */
        sigset_t all, old;
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, &old);
        pid = clone(child_main, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
        int clone_errno = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (pid < 0) {
            errno = clone_errno;
            failed = "spawn";
        } else if (child_args.stage != 0) {
            waitpid(pid, NULL, 0);
            errno = child_args.err_no;
            failed = exec_stage_name(child_args.stage);
        }
    }
    int saved = errno;
    close_fd(&out[1]);
    close_fd(&err[1]);
    close_fd(&in[0]);
    free(req.data);
    if (failed) {
        close_fd(&out[0]);
        close_fd(&err[0]);
        close_fd(&in[1]);
        close_fd(&ex->master);
        free(ex);
        send_fail(c, saved, failed);
        return;
    }
    if (!slave) {
        ex->out_fd = out[0];
        ex->err_fd = err[0];
        ex->in_fd = in[1];
        fcntl(ex->out_fd, F_SETFL, O_NONBLOCK);
        fcntl(ex->err_fd, F_SETFL, O_NONBLOCK);
        if (ex->in_fd >= 0) fcntl(ex->in_fd, F_SETFL, O_NONBLOCK);
    }
    ex->pid = pid;
    list_group(ex);
    ex->deadline = spec.timeout_ms > 0 ? now_ms() + spec.timeout_ms : 0;
    c->ex = ex;
    c->dirty = 0;
    if (!(spec.flags & EXEC_FLAG_NO_PID)) {
        char text[16];
        int n = snprintf(text, sizeof text, "%d", pid);
        send_agent_frame(c, OUT_PID, text, (size_t)n);
    }
    mux_exec_step(c); /* frames that came with the request (stdin) */
}

int mux_exec_poll(struct chan *c, struct pollfd *p, int *wait_ms) {
    struct mux_exec *ex = c->ex;
    if (ex->done) return 0;
    int n = 0;
    short out_ev = c->credit > 0 && port_out.len < OUT_HIGH ? POLLIN : 0;
    if (ex->master >= 0) {
        short ev = (short)((ex->out_fd >= 0 ? out_ev : 0) | (ex->stdin_blocked ? POLLOUT : 0));
        if (ev) p[n++] = (struct pollfd){ex->master, ev, 0};
    } else {
        if (ex->out_fd >= 0 && out_ev) p[n++] = (struct pollfd){ex->out_fd, out_ev, 0};
        if (ex->err_fd >= 0 && out_ev) p[n++] = (struct pollfd){ex->err_fd, out_ev, 0};
        if (ex->in_fd >= 0 && ex->stdin_blocked) p[n++] = (struct pollfd){ex->in_fd, POLLOUT, 0};
    }
    if (ex->deadline && !ex->timed_out && !ex->exited) {
        long long left = ex->deadline - now_ms();
        int ms = left <= 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
        if (*wait_ms < 0 || ms < *wait_ms) *wait_ms = ms;
    }
    return n;
}

int mux_exec_due(struct chan *c) {
    struct mux_exec *ex = c->ex;
    return ex->deadline && !ex->timed_out && !ex->exited && now_ms() >= ex->deadline;
}

int mux_exec_reaped(struct chan *c, pid_t pid, int status) {
    if (c->ex->pid != pid || c->ex->exited) return 0;
    c->ex->exited = 1;
    c->ex->status = status;
    unlist_group(c->ex);
    c->dirty = 1;
    return 1;
}

/* Frames from the host: stdin, close stdin, resize, signal. Returns with the input consumed
 * or stdin full. */
static void take_input(struct chan *c) {
    struct mux_exec *ex = c->ex;
    ex->stdin_blocked = 0;
    while (c->to_worker.len >= 5) {
        unsigned char *h = (unsigned char *)c->to_worker.data + c->to_worker.off;
        uint32_t total = get_u32(h);
        if (c->to_worker.len < 4 + (size_t)total) break;
        uint8_t type = h[4];
        char *payload = (char *)h + 5;
        size_t len = total - 1;
        if (type == IN_STDIN && ex->in_fd >= 0 && !ex->done) {
            ssize_t w = write(ex->in_fd, payload + ex->stdin_off, len - ex->stdin_off);
            if (w < 0 && errno == EAGAIN) w = 0;
            if (w >= 0 && ex->stdin_off + (size_t)w < len) {
                ex->stdin_off += (size_t)w;
                ex->stdin_blocked = 1;
                break;
            }
            /* Written whole, or the command closed its stdin (EPIPE): the frame is done. */
        } else if (type == IN_STDIN_CLOSE && ex->master < 0) {
            close_fd(&ex->in_fd);
        } else if (type == IN_RESIZE && ex->master >= 0) {
            char *rf[2];
            char text[64];
            size_t tl = len < sizeof text - 1 ? len : sizeof text - 1;
            memcpy(text, payload, tl);
            text[tl] = 0;
            if (split_fields(text, (uint32_t)tl, rf, 2) == 2) {
                struct winsize ws = {.ws_row = (unsigned short)atoi(rf[1]), .ws_col = (unsigned short)atoi(rf[0])};
                ioctl(ex->master, TIOCSWINSZ, &ws);
            }
        } else if (type == IN_SIGNAL && !ex->exited) {
            char text[16];
            size_t tl = len < sizeof text - 1 ? len : sizeof text - 1;
            memcpy(text, payload, tl);
            text[tl] = 0;
            int sig = atoi(text);
            if (sig > 0 && sig < NSIG) kill(-ex->pid, sig);
        }
        ex->stdin_off = 0;
        buf_drop(&c->to_worker, 4 + (size_t)total);
        c->unacked += 4 + total;
    }
    /* Acknowledge in quarters of the window, not per frame: the host never runs dry sooner. */
    if (c->unacked >= MUX_WINDOW / 4) send_ack(c);
}

/* Output as far as the window allows: 1 when the descriptor would block or ended, 0 when the
 * window or the port's queue stopped it. */
static int pump(struct chan *c, int *fd, uint8_t type) {
    struct mux_exec *ex = c->ex;
    char buf[MUX_CHUNK];
    while (*fd >= 0) {
        if (c->credit <= 5 || port_out.len >= OUT_HIGH) return 0;
        size_t want = c->credit - 5 < sizeof buf - 5 ? c->credit - 5 : sizeof buf - 5;
        ssize_t n = read(*fd, buf, want);
        if (n > 0) {
            send_agent_frame(c, type, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 1;
        /* EOF, or EIO from a pty master once the slave side is gone. */
        if (*fd == ex->master) ex->out_fd = -1; /* the master stays for resize until the end */
        else close_fd(fd);
        return 1;
    }
    return 1;
}

void mux_exec_step(struct chan *c) {
    struct mux_exec *ex = c->ex;
    if (ex->done) {
        buf_drop(&c->to_worker, c->to_worker.len); /* nothing reads it any more */
        return;
    }
    if (!ex->input_closed) take_input(c);
    if (!ex->input_closed && c->host_eof && c->to_worker.len == 0) {
        /* The host went away: cancel the whole process group, unless it was started to outlive us. */
        ex->input_closed = 1;
        if (!(ex->flags & EXEC_FLAG_DETACH_ON_CLOSE) && !ex->exited) kill_group(ex, SIGKILL);
    }
    if (mux_exec_due(c)) {
        ex->timed_out = 1;
        kill_group(ex, SIGKILL);
    }
    int drained = pump(c, &ex->out_fd, OUT_STDOUT);
    drained &= pump(c, &ex->err_fd, OUT_STDERR);
    /* The shell is gone: what it wrote is in the pipes and was just read; do not wait for
     * background children that kept the write ends open. */
    if (!ex->exited || !drained) return;
    int st = ex->status;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
    if (ex->timed_out) code = 124;
    char text[32];
    int n = snprintf(text, sizeof text, "%d%c%d", code, 0, ex->timed_out);
    send_agent_frame(c, OUT_EXIT, text, (size_t)n);
    ex->done = 1;
    c->worker_eof = 1;
    close_all(ex);
}

void mux_exec_free(struct chan *c) {
    struct mux_exec *ex = c->ex;
    if (!ex->done && !ex->exited) {
        if (ex->flags & EXEC_FLAG_DETACH_ON_CLOSE)
            hold_pipes(ex->master >= 0 ? -1 : ex->in_fd, ex->master >= 0 ? ex->master : ex->out_fd, ex->err_fd);
        else kill_group(ex, SIGKILL);
    }
    unlist_group(ex);
    close_all(ex);
    free(ex);
    c->ex = NULL;
}
