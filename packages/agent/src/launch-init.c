/*
 * The sandbox init's side of `mitos-agent launch`: the agent's listening socket (made by the
 * launcher in the sandbox's network namespace and handed to the init over a socketpair), and
 * init_main, the program the init execs from inside the sandbox to serve it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "launch.h"

static int open_listener(const char *path) {
    struct sockaddr_un addr;
    if (strlen(path) >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 128) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    chmod(path, 0600);
    return fd;
}

/*
 * The agent's listening socket, bound at its host path but owned by the sandbox's network
 * namespace (as host root, entered for the socket() call only): a socket of the host's
 * namespace inside the sandbox would keep its process tree from being checkpointed, and
 * connections from the host reach a path-bound socket whatever its namespace.
 */
int listener_in_netns(int pid, const char *path) {
    char ns_path[64];
    snprintf(ns_path, sizeof ns_path, "/proc/%d/ns/net", pid);
    int host_net = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int sandbox_net = open(ns_path, O_RDONLY | O_CLOEXEC);
    int fd = -1, saved = 0;
    if (host_net >= 0 && sandbox_net >= 0 && setns(sandbox_net, CLONE_NEWNET) == 0) {
        fd = open_listener(path);
        saved = errno;
        if (setns(host_net, CLONE_NEWNET) < 0) {
            perror("mitos-agent: return to the host network namespace");
            exit(1); /* nothing else may run in the sandbox's namespace */
        }
    } else {
        saved = errno;
    }
    if (host_net >= 0) close(host_net);
    if (sandbox_net >= 0) close(sandbox_net);
    errno = saved;
    return fd;
}

/*
 * pid 1 only reaps: it holds nothing (stdio on /dev/null, no socket) and is dumpable, which a
 * checkpoint of the sandbox needs (CRIU opens the init's namespace files from inside the
 * sandbox's user namespace). Opening pid 1 to sandbox root gives it nothing it does not have.
 * The agent, which holds the socket the host talks to, is pid 1's first child (pid 2): forked
 * before pid 1 turns dumpable, so it keeps the exec's non-dumpability (its memory belongs to
 * the host's user namespace, ENFORCE_NONDUMP) and stays closed to ptrace and /proc from inside.
 * The sandbox lives as long as its agent: pid 1 exits with it, which ends the whole tree.
 */
static int reap_until(pid_t agent) {
    for (;;) {
        int status = 0;
        pid_t r = wait(&status);
        if (r == agent) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0 && errno != EINTR) return 1;
    }
}

int init_main(void) {
    int listening = 0;
    socklen_t len = sizeof listening;
    /* Run by hand inside a sandbox (it is visible there), it has no agent socket to serve. */
    if (getpid() != 1 || getsockopt(INIT_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
        fprintf(stderr, "mitos-agent: the sandbox init is started by `mitos-agent launch` only\n");
        return 2;
    }
    fcntl(INIT_LISTEN_FD, F_SETFD, FD_CLOEXEC);
    prctl(PR_SET_NAME, INIT_ARGV0, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    pid_t agent = fork();
    if (agent < 0) return 1;
    if (agent == 0) {
        prctl(PR_SET_NAME, AGENT_NAME, 0, 0, 0);
        agent_serve(INIT_LISTEN_FD);
    }
    close(INIT_LISTEN_FD);
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    return reap_until(agent);
}
