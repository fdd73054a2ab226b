/*
 * The sandbox init's side of `mitos-agent launch`: the agent's listening socket (made by the
 * launcher in the sandbox's network namespace and handed to the init over a socketpair), and
 * init_main, the program the init execs from inside the sandbox to serve it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <net/if.h>
#include <sys/ioctl.h>
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
/*
 * A restored sandbox gets a fresh agent (launch-restore.c): the restored copy of the old one is
 * owned by the sandbox's user namespace, so sandbox root could ptrace it. The launcher starts
 * the new agent by exec'ing the init program inside the restored namespaces and names it to
 * pid 1 with SIGUSR1 (its pid as the queued value). Anyone in the sandbox can send that signal,
 * so a claim holds only for a process pid 1 cannot open: an exec of the root-owned, unreadable
 * init program, whose memory belongs to the host's user namespace. Every other sandbox process,
 * the restored old agent included, is open to pid 1 (sandbox root). The new agent is the
 * launcher's child, not pid 1's: its supervisor ends the sandbox when it dies, and pid 1,
 * which never reaps it, lives on.
 */
static volatile sig_atomic_t claimed_agent;

static void on_agent_claim(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    claimed_agent = si->si_code == SI_QUEUE ? si->si_value.sival_int : si->si_pid;
}

static int host_owned(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EACCES;
}

static int reap_until(pid_t agent) {
    for (;;) {
        int status = 0;
        pid_t r = wait(&status);
        pid_t claim = claimed_agent;
        if (claim > 1 && claim != agent && host_owned(claim)) agent = claim;
        if (r == agent) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0 && errno != EINTR) return 1;
    }
}

static int listening_on_init_fd(void) {
    int listening = 0;
    socklen_t len = sizeof listening;
    return getsockopt(INIT_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
}

int init_main(void) {
    /* Run by hand inside a sandbox (it is visible there), it has no agent socket to serve. */
    if (getpid() != 1 || !listening_on_init_fd()) {
        fprintf(stderr, "mitos-agent: the sandbox init is started by `mitos-agent launch` only\n");
        return 2;
    }
    fcntl(INIT_LISTEN_FD, F_SETFD, FD_CLOEXEC);
    prctl(PR_SET_NAME, INIT_ARGV0, 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct sigaction claim = {.sa_sigaction = on_agent_claim, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&claim.sa_mask);
    sigaction(SIGUSR1, &claim, NULL);
    pid_t agent = fork();
    if (agent < 0) return 1;
    if (agent == 0) {
        signal(SIGUSR1, SIG_DFL);
        prctl(PR_SET_NAME, AGENT_NAME, 0, 0, 0);
        agent_serve(INIT_LISTEN_FD);
    }
    close(INIT_LISTEN_FD);
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    return reap_until(agent);
}

/*
 * The agent of a restored sandbox, exec'd by the launcher inside its namespaces (never pid 1):
 * serves the listening socket on INIT_LISTEN_FD. The exec of the unreadable init program makes
 * it non-dumpable with its memory owned by the host's user namespace, as the first agent was.
 */
int agent_join_main(void) {
    if (getpid() == 1 || !listening_on_init_fd()) {
        fprintf(stderr, "mitos-agent: a restored sandbox's agent is started by `mitos-agent launch` only\n");
        return 2;
    }
    fcntl(INIT_LISTEN_FD, F_SETFD, FD_CLOEXEC);
    prctl(PR_SET_NAME, AGENT_NAME, 0, 0, 0);
    agent_serve(INIT_LISTEN_FD);
}
