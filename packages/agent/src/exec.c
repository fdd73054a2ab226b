/*
 * Run one command: `/bin/sh -c CMD` in its own session (so its whole process group can be
 * killed), with pipes or a pty, a deadline (exit 124 and the group killed when it passes),
 * and cancellation when the host closes the connection. This is a worker's exec, on a
 * connection of its own; on the engine's multiplexed connection the mux runs execs itself
 * (guest-mux-exec.c) with the same request parsing and child setup (exec-spec.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* Forward whatever is readable on `fd` as frames of `type`; returns 0 at EOF. */
static int pump(int fd, int conn, uint8_t type) {
    char buf[DATA_CHUNK];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            if (frame_send(conn, type, buf, (size_t)n) < 0) return -1;
            if ((size_t)n < sizeof buf) return 1;
            continue;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return 1;
        return errno == EIO ? 0 : -1; /* a pty master reads EIO once the slave side is gone */
    }
}

void handle_exec(int conn, struct frame *req) {
    /* static: a worker serves one exec, and the request is too large for a comfortable stack. */
    static struct exec_spec spec;
    const char *what = "";
    if (exec_parse(req, &spec, &what) < 0) {
        frame_fail(conn, errno, what);
        return;
    }
    exec_signals_init();
    int flags = spec.flags;
    long long timeout_ms = spec.timeout_ms;
    int cols = spec.cols, rows = spec.rows;

    int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1}, status_pipe[2];
    int master = -1;
    char *slave_name = NULL;
    if (flags & EXEC_FLAG_PTY) {
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(slave_name = ptsname(master))) {
            frame_fail(conn, errno, "open pty");
            return;
        }
        struct winsize ws = {.ws_row = (unsigned short)(rows > 0 ? rows : 24), .ws_col = (unsigned short)(cols > 0 ? cols : 80)};
        ioctl(master, TIOCSWINSZ, &ws);
    } else {
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
            frame_fail(conn, errno, "pipe");
            return;
        }
        if ((flags & EXEC_FLAG_STDIN) && pipe2(in, O_CLOEXEC) < 0) {
            frame_fail(conn, errno, "pipe");
            return;
        }
    }
    if (pipe2(status_pipe, O_CLOEXEC) < 0) {
        frame_fail(conn, errno, "pipe");
        return;
    }

    pid_t pid = fork();
    if (pid < 0) {
        frame_fail(conn, errno, "fork");
        return;
    }
    if (pid == 0) {
        int stage = exec_child(&spec, slave_name, in[0], out[1], err[1]);
        int report[2] = {stage, errno};
        write_all(status_pipe[1], report, sizeof report);
        _exit(127);
    }
    close(status_pipe[1]);
    int report[2] = {0, 0};
    if (read_all(status_pipe[0], report, sizeof report) == 1) {
        waitpid(pid, NULL, 0);
        frame_fail(conn, report[1], exec_stage_name(report[0]));
        return;
    }
    close(status_pipe[0]);
    if (out[1] >= 0) close(out[1]);
    if (err[1] >= 0) close(err[1]);
    if (in[0] >= 0) close(in[0]);
    if (!(flags & EXEC_FLAG_NO_PID)) frame_sendf(conn, OUT_PID, "%d", pid);

    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int out_fd = master >= 0 ? master : out[0];
    int err_fd = master >= 0 ? -1 : err[0];
    int in_fd = master >= 0 ? master : in[1];
    set_nonblock(out_fd);
    if (err_fd >= 0) set_nonblock(err_fd);
    long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    int timed_out = 0, exited = 0, status = 0, conn_open = 1;

    while (!exited) {
        struct pollfd p[4];
        int np = 0, i_out = -1, i_err = -1, i_conn = -1, i_pid = -1;
        if (out_fd >= 0) { i_out = np; p[np++] = (struct pollfd){out_fd, POLLIN, 0}; }
        if (err_fd >= 0) { i_err = np; p[np++] = (struct pollfd){err_fd, POLLIN, 0}; }
        if (conn_open) { i_conn = np; p[np++] = (struct pollfd){conn, POLLIN, 0}; }
        if (pidfd >= 0) { i_pid = np; p[np++] = (struct pollfd){pidfd, POLLIN, 0}; }
        int wait_ms = -1;
        if (deadline) {
            long long left = deadline - now_ms();
            wait_ms = left > 0 ? (int)(left > 1000000 ? 1000000 : left) : 0;
        }
        if (pidfd < 0 && (wait_ms < 0 || wait_ms > 50)) wait_ms = 50; /* no pidfd: poll waitpid */
        int r = poll(p, (nfds_t)np, wait_ms);
        if (r < 0 && errno != EINTR) break;
        if (deadline && now_ms() >= deadline && !timed_out) {
            timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
        }
        if (r <= 0 && pidfd >= 0) continue;
        if (i_out >= 0 && p[i_out].revents) {
            if (pump(out_fd, conn, OUT_STDOUT) <= 0) { if (master < 0) close(out_fd); out_fd = -1; }
        }
        if (i_err >= 0 && p[i_err].revents) {
            if (pump(err_fd, conn, OUT_STDERR) <= 0) { close(err_fd); err_fd = -1; }
        }
        if (i_conn >= 0 && p[i_conn].revents) {
            struct frame in_frame;
            int fr = frame_recv(conn, &in_frame);
            if (fr <= 0) {
                conn_open = 0;
                if (!(flags & EXEC_FLAG_DETACH_ON_CLOSE)) {
                    /* The host went away: cancel the whole process group. */
                    kill(-pid, SIGKILL);
                    kill(pid, SIGKILL);
                }
            } else {
                if (in_frame.type == IN_STDIN && in_fd >= 0) {
                    write_all(in_fd, in_frame.data, in_frame.len);
                } else if (in_frame.type == IN_STDIN_CLOSE && in_fd >= 0 && master < 0) {
                    close(in_fd);
                    in_fd = -1;
                } else if (in_frame.type == IN_RESIZE && master >= 0) {
                    char *rf[2];
                    if (split_fields(in_frame.data, in_frame.len, rf, 2) == 2) {
                        struct winsize ws = {.ws_row = (unsigned short)atoi(rf[1]), .ws_col = (unsigned short)atoi(rf[0])};
                        ioctl(master, TIOCSWINSZ, &ws);
                    }
                } else if (in_frame.type == IN_SIGNAL) {
                    int sig = atoi(in_frame.data);
                    if (sig > 0 && sig < NSIG) kill(-pid, sig);
                }
                free(in_frame.data);
            }
        }
        int check = pidfd < 0 || (i_pid >= 0 && p[i_pid].revents);
        if (check && waitpid(pid, &status, WNOHANG) == pid) exited = 1;
    }
    /* The shell is gone: whatever it wrote is still buffered in the pipes; drain it, but do
     * not wait for background children that kept the write ends open. */
    if (out_fd >= 0) pump(out_fd, conn, OUT_STDOUT);
    if (err_fd >= 0) pump(err_fd, conn, OUT_STDERR);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    if (timed_out) code = 124;
    frame_sendf(conn, OUT_EXIT, "%d%c%d", code, 0, timed_out);
}
