/* The sandbox's processes as its own /proc shows them, and signals by pid. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

void handle_list_processes(int conn, struct frame *req) {
    DIR *d = opendir("/proc");
    if (!d) {
        frame_fail(conn, errno, "opendir /proc");
        return;
    }
    pid_t self = getpid(), parent = getppid();
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        /* pid 1 (the reaper), the agent and the worker answering are ours, not the user's. */
        if (*end || pid <= 1 || pid == agent_pid || pid == self || pid == parent) continue;
        char path[64], cmd[4096];
        snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, cmd, sizeof cmd - 1);
        close(fd);
        if (n <= 0) continue; /* kernel threads and zombies have no command line */
        for (ssize_t i = 0; i < n - 1; i++)
            if (cmd[i] == 0) cmd[i] = ' ';
        cmd[n] = 0;
        frame_sendf(conn, OUT_ENTRY, "%ld%c%s", pid, 0, cmd);
    }
    closedir(d);
    frame_send(conn, OUT_OK, "", 0);
}

void handle_signal_process(int conn, struct frame *req) {
    char *f[2];
    if (split_fields(req->data, req->len, f, 2) < 2) {
        frame_fail(conn, EINVAL, "malformed signal request");
        return;
    }
    long pid = atol(f[0]);
    int sig = atoi(f[1]);
    if (pid <= 1 || pid == agent_pid || sig < 0 || sig >= NSIG) {
        frame_fail(conn, EINVAL, "signal");
        return;
    }
    if (kill((pid_t)pid, sig) < 0) {
        frame_fail(conn, errno, "kill");
        return;
    }
    frame_send(conn, OUT_OK, "", 0);
}
