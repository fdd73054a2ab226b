#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch.h"

int launch_main(int argc, char **argv);
int snapshot_main(int argc, char **argv);
int squota_main(int argc, char **argv);
int subvol_delete_main(int argc, char **argv);
int spawner_main(int argc, char **argv);

/* The argv area, so the sandbox init can blank it: /proc/1/cmdline is readable inside the
 * sandbox and would otherwise show host paths. */
char *g_args_start;
size_t g_args_len;

/*
 * `mitos-agent COMMAND -` takes COMMAND's arguments from stdin, NUL-separated: host users can
 * read every process's command line, and the engine's arguments name sandboxes and their
 * storage paths. Returns the new argc (argv rebuilt in *out), or -1.
 */
static int args_from_stdin(char *argv0, char *command, char ***out) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (ssize_t n; buf; len += (size_t)n) {
        if (len == cap) buf = realloc(buf, cap *= 2);
        if (!buf) break;
        n = read(0, buf + len, cap - len);
        if (n < 0) return -1;
        if (n == 0) break;
    }
    if (!buf) return -1;
    int count = 0;
    for (size_t i = 0; i < len; i++) count += buf[i] == 0;
    if (len > 0 && buf[len - 1] != 0) return -1;
    char **args = calloc((size_t)count + 3, sizeof *args);
    if (!args) return -1;
    args[0] = argv0;
    args[1] = command;
    for (size_t i = 0, k = 2; i < len; i += strlen(buf + i) + 1) args[k++] = buf + i;
    *out = args;
    /* What follows (the sandbox init, the supervisor) keeps stdin: make it what it was before. */
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, 0) < 0) return -1;
    close(null_fd);
    return count + 2;
}

int main(int argc, char **argv) {
    if (argc > 0) {
        g_args_start = argv[0];
        g_args_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
    }
    if (argc == 3 && strcmp(argv[2], "-") == 0) {
        argc = args_from_stdin(argv[0], argv[1], &argv);
        if (argc < 0) {
            perror("mitos-agent: arguments on stdin");
            return 2;
        }
    }
    /* The sandbox's pid 1, exec'd by the launcher inside the sandbox (launch.c). */
    if (argc == 1 && strcmp(argv[0], INIT_ARGV0) == 0) return init_main();
    if (argc == 1 && strcmp(argv[0], AGENT_JOIN_ARGV0) == 0) return agent_join_main();
    /* CRIU's action script during a carried fork's restore (launch-restore.c). */
    if (argc == 1 && getenv(RESTORE_HOOK_ENV)) return restore_hook_main();
    if (argc >= 2 && strcmp(argv[1], "launch") == 0) return launch_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "snapshot") == 0) return snapshot_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "squota") == 0) return squota_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "subvol-delete") == 0) return subvol_delete_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "spawner") == 0) return spawner_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        puts("mitos-agent 0.1.0");
        return 0;
    }
    fprintf(stderr, "usage: mitos-agent launch ... | snapshot SRC DST... | subvol-delete PATH... | spawner PARENT_PID | squota MOUNTPOINT | --version\n");
    return 2;
}
