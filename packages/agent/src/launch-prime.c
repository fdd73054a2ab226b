/*
 * `--cgroup-prime FILE` of `mitos-agent launch`: starting the cgroup attach's wait early.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "launch.h"

/*
 * The first cgroup.procs write after a quiet spell waits for an RCU grace period (5-15 ms on a
 * loaded host; engine cgroups/attach-prime.ts says why). A child that writes its own pid into
 * the cgroup it is already in (the engine's: FILE) moves nothing and starts that wait now, so it
 * runs while the root is built rather than after the clone. A child, not a thread: a thread
 * stuck in that write would hold up the launcher's own seteuid (glibc signals every thread).
 * It holds nothing of ours (stdio closed) and the supervisor reaps it. Best effort.
 */
void prime_cgroup_attach(const char *file) {
    pid_t pid = fork();
    if (pid != 0) return;
    close(0);
    close(1);
    close(2);
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        char text[32];
        int n = snprintf(text, sizeof text, "%d\n", getpid());
        (void)!write(fd, text, (size_t)n);
    }
    _exit(0);
}
