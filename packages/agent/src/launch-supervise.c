/*
 * The launcher's life after a launch: it stays the sandbox init's parent and supervisor
 * (launch.c, launch-slot.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"

extern char *g_args_start;
extern size_t g_args_len;

/* Host users can read every process's command line: ours names the sandbox and its paths. */
void hide_command_line(const char *name) {
    size_t len = strlen(name);
    if (!g_args_start || g_args_len < len + 1) return;
    memset(g_args_start, 0, g_args_len);
    memcpy(g_args_start, name, len);
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

/*
 * Stay as the init's parent so its exit is reaped: an orphaned init would be reparented to the
 * host's pid 1, which does not reap on every host (it does not on our CI machines).
 */
static int supervise(pid_t pid, int log_fd, pid_t agent) {
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(log_fd >= 0 ? log_fd : devnull, 2);
        close(devnull);
    }
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    hide_command_line("mitos-supervise");
    int status = 0;
    for (;;) {
        pid_t r = waitpid(-1, &status, 0);
        if (r == pid) break;
        /* A restored sandbox's agent is ours, not its init's: the sandbox ends with it. */
        if (agent > 0 && r == agent) kill(pid, SIGKILL);
        if (r < 0 && errno != EINTR) return 1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Back in the host's mount namespace (the private one goes with its copies of every host
 * mount), the init's host pid on stdout for the engine, then supervise it until it ends. */
int serve_as_supervisor(pid_t pid, pid_t agent, int host_ns, int log_fd, const char *socket_path) {
    if (chdir("/") < 0 || setns(host_ns, CLONE_NEWNS) < 0 || chdir("/") < 0) {
        perror("mitos-agent: return to the host mount namespace");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        unlink(socket_path);
        return 1;
    }
    close(host_ns);
    printf("%d\n", pid);
    fflush(stdout);
    return supervise(pid, log_fd, agent);
}
