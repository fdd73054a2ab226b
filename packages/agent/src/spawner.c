/*
 * `mitos-agent spawner PARENT_PID`: starts host processes for the engine. A node server holding
 * a few hundred MB pays 10-25 ms per child_process.spawn (libuv forks it whole, copying its page
 * tables) and blocks its event loop meanwhile; this process is small and spawns with
 * posix_spawn (clone with CLONE_VM|CLONE_VFORK in glibc), so a spawn costs well under a
 * millisecond and the server only writes a request.
 *
 * It talks to the engine over its stdin (requests) and stdout (events), both private to the
 * engine (a pipe or socketpair from the engine's own spawn: no socket file any host user could
 * reach). Every message is a 4-byte little-endian length, then that many bytes:
 *
 *   engine -> spawner
 *     'S' id:u32 flags:u8 argc:u32 envc:u32, then file, argv[argc], envp[envc] as NUL-ended
 *         strings, then the child's whole stdin (the pipe is closed after it)
 *     'K' id:u32 signal:u32   signal the child if it has not been reaped yet
 *     'D' id:u32              stop relaying its output (the child runs on; its exit is still sent)
 *   spawner -> engine
 *     'P' id:u32 pid:u32      started
 *     'F' id:u32 errno:u32    could not start (nothing else follows for this id)
 *     'O' id:u32 bytes        stdout
 *     'E' id:u32 bytes        stderr
 *     'X' id:u32 code:i32 signal:i32   ended and its output is all sent (code -1 when signalled)
 *
 * It ends when the engine closes its stdin or dies (PR_SET_PDEATHSIG), never outliving it; the
 * processes it started run on (a sandbox's supervisor must survive a server restart).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLAG_SETSID 1u
#define MAX_MESSAGE (64u * 1024 * 1024)

struct child {
    uint32_t id;
    pid_t pid; /* 0 once reaped */
    int in_fd, out_fd, err_fd; /* -1 when closed */
    char *input;
    size_t input_len, input_off;
    int status;
    int reaped;
};

static struct child *children;
static size_t nchildren, cap_children;

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) _exit(0); /* the engine is gone */
        p += n;
        len -= (size_t)n;
    }
}

/* One event: tag, id, then `extra` (ints) or `data`. */
static void emit(char tag, uint32_t id, const void *data, size_t len) {
    unsigned char head[9];
    put_u32(head, (uint32_t)(5 + len));
    head[4] = (unsigned char)tag;
    put_u32(head + 5, id);
    write_all(1, head, sizeof head);
    if (len > 0) write_all(1, data, len);
}

static void emit2(char tag, uint32_t id, uint32_t a, uint32_t b, int two) {
    unsigned char body[8];
    put_u32(body, a);
    put_u32(body + 4, b);
    emit(tag, id, body, two ? 8 : 4);
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static struct child *find(uint32_t id) {
    for (size_t i = 0; i < nchildren; i++)
        if (children[i].id == id) return &children[i];
    return NULL;
}

/* Output all sent and the child reaped: report the exit and forget it. */
static void maybe_finish(size_t i) {
    struct child *c = &children[i];
    if (!c->reaped || c->out_fd >= 0 || c->err_fd >= 0) return;
    close_fd(&c->in_fd);
    free(c->input);
    int st = c->status;
    int32_t code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    int32_t sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    emit2('X', c->id, (uint32_t)code, (uint32_t)sig, 1);
    children[i] = children[--nchildren];
}

/* pipe2 with O_CLOEXEC on both ends, O_NONBLOCK on ours (ours_is_read: the read end). */
static int make_pipe(int fds[2], int ours_is_read) {
    if (pipe2(fds, O_CLOEXEC) < 0) return -1;
    int ours = fds[ours_is_read ? 0 : 1];
    fcntl(ours, F_SETFL, fcntl(ours, F_GETFL) | O_NONBLOCK);
    return 0;
}

static void start(const unsigned char *msg, size_t len) {
    if (len < 16) return;
    uint32_t id = get_u32(msg + 1);
    unsigned flags = msg[5];
    uint32_t argc = get_u32(msg + 6), envc = get_u32(msg + 10);
    const char *p = (const char *)msg + 14, *end = (const char *)msg + len;
    if (argc > 100000 || envc > 100000) {
        emit2('F', id, EINVAL, 0, 0);
        return;
    }
    char **argv = calloc(argc + 1, sizeof *argv), **envp = calloc(envc + 1, sizeof *envp);
    const char *file = NULL;
    int bad = !argv || !envp;
    for (uint32_t k = 0; !bad && k < 1 + argc + envc; k++) {
        const char *nul = memchr(p, 0, (size_t)(end - p));
        if (!nul) {
            bad = 1;
            break;
        }
        if (k == 0) file = p;
        else if (k <= argc) argv[k - 1] = (char *)p;
        else envp[k - 1 - argc] = (char *)p;
        p = nul + 1;
    }
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (bad || !file) {
        emit2('F', id, EINVAL, 0, 0);
        goto done;
    }
    if (make_pipe(in, 0) < 0 || make_pipe(out, 1) < 0 || make_pipe(err, 1) < 0) {
        emit2('F', id, (uint32_t)errno, 0, 0);
        goto done;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    short aflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (flags & FLAG_SETSID) aflags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attr, aflags);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    pid_t pid;
    int rc = posix_spawn(&pid, file, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        emit2('F', id, (uint32_t)rc, 0, 0);
        goto done;
    }
    if (nchildren == cap_children) {
        cap_children = cap_children ? cap_children * 2 : 16;
        children = realloc(children, cap_children * sizeof *children);
        if (!children) _exit(1);
    }
    struct child *c = &children[nchildren++];
    memset(c, 0, sizeof *c);
    c->id = id;
    c->pid = pid;
    c->in_fd = in[1];
    c->out_fd = out[0];
    c->err_fd = err[0];
    in[1] = out[0] = err[0] = -1;
    c->input_len = (size_t)(end - p);
    c->input = c->input_len ? malloc(c->input_len) : NULL;
    if (c->input) memcpy(c->input, p, c->input_len);
    else c->input_len = 0;
    if (c->input_len == 0) close_fd(&c->in_fd);
    emit2('P', id, (uint32_t)pid, 0, 0);
done:
    for (int k = 0; k < 2; k++) {
        close_fd(&in[k]);
        close_fd(&out[k]);
        close_fd(&err[k]);
    }
    free(argv);
    free(envp);
}

static void handle(const unsigned char *msg, size_t len) {
    if (len < 5) return;
    uint32_t id = get_u32(msg + 1);
    struct child *c = find(id);
    if (msg[0] == 'S') start(msg, len);
    else if (msg[0] == 'K' && len >= 9 && c && !c->reaped) kill(c->pid, (int)get_u32(msg + 5));
    else if (msg[0] == 'D' && c) {
        close_fd(&c->in_fd);
        close_fd(&c->out_fd);
        close_fd(&c->err_fd);
        maybe_finish((size_t)(c - children));
    }
}

static void reap(void) {
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) return;
        for (size_t i = 0; i < nchildren; i++) {
            if (children[i].pid != pid || children[i].reaped) continue;
            children[i].reaped = 1;
            children[i].status = st;
            maybe_finish(i);
            break;
        }
    }
}

/* Relay what one output pipe has; on EOF close it. */
static void relay(size_t i, int which) {
    struct child *c = &children[i];
    int *fd = which == 'O' ? &c->out_fd : &c->err_fd;
    char buf[65536];
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n > 0) emit((char)which, c->id, buf, (size_t)n);
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close_fd(fd);
        maybe_finish(i);
    }
}

static void feed(struct child *c) {
    ssize_t n = write(c->in_fd, c->input + c->input_off, c->input_len - c->input_off);
    if (n > 0) c->input_off += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR) c->input_off = c->input_len; /* reader gone */
    if (c->input_off == c->input_len) close_fd(&c->in_fd);
}

int spawner_main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mitos-agent spawner PARENT_PID\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)atol(argv[1])) return 0; /* the engine died before the line above */
    /* Descriptors the server's own starter left open are not ours to hand on (see launch.c). */
    syscall(SYS_close_range, 3U, ~0U, 0U);
    signal(SIGPIPE, SIG_IGN);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        perror("mitos-agent spawner: signalfd");
        return 1;
    }
    fcntl(0, F_SETFD, FD_CLOEXEC);
    fcntl(1, F_SETFD, FD_CLOEXEC);
    size_t cap = 65536, have = 0;
    unsigned char *in = malloc(cap);
    struct pollfd *pfds = NULL;
    size_t *owner = NULL; /* per pollfd: child index, or SIZE_MAX */
    int *kind = NULL;
    size_t pcap = 0;
    for (;;) {
        size_t want = 2 + nchildren * 3;
        if (want > pcap) {
            pcap = want * 2;
            pfds = realloc(pfds, pcap * sizeof *pfds);
            owner = realloc(owner, pcap * sizeof *owner);
            kind = realloc(kind, pcap * sizeof *kind);
            if (!pfds || !owner || !kind) return 1;
        }
        size_t n = 0;
        pfds[n] = (struct pollfd){.fd = 0, .events = POLLIN};
        owner[n++] = SIZE_MAX;
        pfds[n] = (struct pollfd){.fd = sfd, .events = POLLIN};
        owner[n++] = SIZE_MAX;
        for (size_t i = 0; i < nchildren; i++) {
            struct child *c = &children[i];
            if (c->in_fd >= 0) pfds[n] = (struct pollfd){.fd = c->in_fd, .events = POLLOUT}, owner[n] = i, kind[n++] = 'I';
            if (c->out_fd >= 0) pfds[n] = (struct pollfd){.fd = c->out_fd, .events = POLLIN}, owner[n] = i, kind[n++] = 'O';
            if (c->err_fd >= 0) pfds[n] = (struct pollfd){.fd = c->err_fd, .events = POLLIN}, owner[n] = i, kind[n++] = 'E';
        }
        if (poll(pfds, n, -1) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        /* Children first, in reverse: maybe_finish moves the last child into a finished slot. */
        for (size_t k = n; k-- > 2;) {
            if (!pfds[k].revents || owner[k] >= nchildren) continue;
            struct child *c = &children[owner[k]];
            int fd = kind[k] == 'I' ? c->in_fd : kind[k] == 'O' ? c->out_fd : c->err_fd;
            if (fd != pfds[k].fd) continue; /* closed or moved since the poll */
            if (kind[k] == 'I') feed(c);
            else relay(owner[k], kind[k]);
        }
        if (pfds[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0) {
            }
            reap();
        }
        if (pfds[0].revents) {
            if (have == cap) {
                in = realloc(in, cap *= 2);
                if (!in) return 1;
            }
            ssize_t r = read(0, in + have, cap - have);
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) return 0; /* the engine closed us */
            if (r > 0) have += (size_t)r;
            size_t off = 0;
            while (have - off >= 4) {
                uint32_t len = get_u32(in + off);
                if (len > MAX_MESSAGE) return 1;
                if (have - off - 4 < len) {
                    if (len + 4 > cap) {
                        while (cap < len + 4) cap *= 2;
                        in = realloc(in, cap);
                        if (!in) return 1;
                    }
                    break;
                }
                handle(in + off + 4, len);
                off += 4 + len;
            }
            memmove(in, in + off, have - off);
            have -= off;
        }
    }
}
