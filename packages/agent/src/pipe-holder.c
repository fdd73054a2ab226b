/*
 * The pipes of a command that outlives whoever relayed them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipe-holder.h"

/*
 * A detached command outlives its channel, and its pipes must outlive it too: closing them
 * would give it EOF on stdin and EPIPE on its next write (a server logging each request would
 * drop them). A process of its own keeps stdin's write end open and reads and drops the output
 * until the command's side is closed, as a worker of the per-operation path does. Forked twice,
 * so the sandbox's init reaps it, not this mux.
 */
void hold_pipes(int in_fd, int out_fd, int err_fd) {
    int src[3] = {in_fd, out_fd, err_fd};
    pid_t first = fork();
    if (first != 0) {
        if (first > 0) waitpid(first, NULL, 0);
        return;
    }
    if (fork() != 0) _exit(0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int copy[3];
    for (int i = 0; i < 3; i++) copy[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD, 3) : -1;
    for (int i = 0; i < 3; i++) {
        if (copy[i] >= 0) dup2(copy[i], i);
        else close(i);
    }
    syscall(SYS_close_range, 3, ~0U, 0);
    struct pollfd p[2] = {{copy[1] >= 0 ? 1 : -1, POLLIN, 0}, {copy[2] >= 0 ? 2 : -1, POLLIN, 0}};
    char buf[4096];
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents) continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) p[i].fd = -1;
        }
    }
    _exit(0);
}
