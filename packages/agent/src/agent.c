/*
 * The sandbox's agent, the first child of its pid 1 (launch-init.c): serves the frame protocol
 * and reaps its own workers (orphans go to pid 1). Each connection is handled
 * by a worker process forked for it, so a slow file read or a long command never blocks the
 * next request, and a crash in one handler cannot take down the sandbox.
 *
 * The engine keeps one connection per sandbox open and asks for the mux on it (OP_MUX): its
 * worker then runs the same stream multiplexer as a microVM's agent (guest-mux.c), which
 * runs each exec itself and forks one worker per other channel. An operation then costs one frame on a connected socket
 * instead of a connect, an accept and a new socket on each side.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "guest-mux.h"

pid_t agent_pid;
pid_t *mux_groups;

/* Each connection's process and the page where, if it becomes the mux, it lists the process
 * groups of its commands that must not outlive it: killed here when it dies (even by SIGKILL,
 * when it cannot do so itself). */
#define MAX_CONNECTIONS 64
static struct {
    pid_t pid;
    pid_t *groups;
} connections[MAX_CONNECTIONS];

static void reap_children(int sig) {
    int saved = errno;
    pid_t pid;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
        for (int i = 0; i < MAX_CONNECTIONS; i++) {
            if (connections[i].pid != pid) continue;
            for (size_t g = 0; g < MUX_GROUPS; g++)
                if (connections[i].groups[g] > 0) kill(-connections[i].groups[g], SIGKILL);
            munmap(connections[i].groups, MUX_GROUPS * sizeof(pid_t));
            connections[i].pid = 0;
            connections[i].groups = NULL;
            break;
        }
    }
    errno = saved;
}

int mkdir_p(const char *path, mode_t mode) {
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, mode) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0) {
        if (errno != EEXIST) return -1;
        struct stat st;
        if (stat(buf, &st) < 0) return -1;
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return -1;
        }
    }
    return 0;
}

void agent_serve_connection(int conn) {
    struct frame req;
    int r = frame_recv(conn, &req);
    if (r <= 0) return;
    switch (req.type) {
    case OP_EXEC: handle_exec(conn, &req); break;
    case OP_READ: handle_read(conn, &req); break;
    case OP_WRITE: handle_write(conn, &req); break;
    case OP_LIST: handle_list(conn, &req, 0); break;
    case OP_STAT: handle_list(conn, &req, 1); break;
    case OP_MKDIR: handle_mkdir(conn, &req); break;
    case OP_REMOVE: handle_remove(conn, &req); break;
    case OP_IDENTITY: handle_identity(conn, &req); break;
    case OP_CONNECT_TCP: handle_connect_tcp(conn, &req); break;
    case OP_CONNECT_UNIX: handle_connect_unix(conn, &req); break;
    case OP_PROCESSES: handle_list_processes(conn, &req); break;
    case OP_SIGNAL: handle_signal_process(conn, &req); break;
    case OP_PING: frame_send(conn, OUT_OK, "pong", 4); break;
    case OP_MUX:
        if (mux_serving) {
            /* A channel of a mux already (a microVM's): answer as an agent without the mux would,
             * so the engine keeps one channel per operation instead of nesting a second mux. */
            frame_fail(conn, EPROTO, "unknown operation");
            break;
        }
        /* Identity, clock and cgroup moves are a VM's business; here the launcher set them. */
        guest_identity_enabled = 0;
        free(req.data);
        mux_run(conn); /* returns never: exits when the engine closes the connection */
    default: frame_fail(conn, EPROTO, "unknown operation"); break;
    }
    free(req.data);
}

void agent_serve(int listen_fd) {
    agent_pid = getpid();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap_children;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
                if (errno != EINTR && errno != ECONNABORTED) usleep(10000);
                continue;
            }
            _exit(1);
        }
        int slot = -1;
        for (int i = 0; i < MAX_CONNECTIONS && slot < 0; i++)
            if (!connections[i].groups) slot = i;
        pid_t *groups = NULL;
        if (slot >= 0) {
            groups = mmap(NULL, MUX_GROUPS * sizeof(pid_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            if (groups == MAP_FAILED) groups = NULL;
        }
        /* The handler must not see the slot half made. */
        sigset_t chld, old;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, &old);
        pid_t pid = fork();
        if (pid == 0) {
            sigprocmask(SIG_SETMASK, &old, NULL);
            close(listen_fd);
            signal(SIGCHLD, SIG_DFL);
            mux_groups = groups;
            agent_serve_connection(conn);
            _exit(0);
        }
        if (pid > 0 && groups) {
            connections[slot].pid = pid;
            connections[slot].groups = groups;
        } else if (groups) {
            munmap(groups, MUX_GROUPS * sizeof(pid_t));
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(conn);
    }
}
