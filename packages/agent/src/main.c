#include <stdio.h>
#include <string.h>

int launch_main(int argc, char **argv);
int snapshot_main(int argc, char **argv);
int squota_main(int argc, char **argv);

/* The argv area, so the sandbox init can blank it: /proc/1/cmdline is readable inside the
 * sandbox and would otherwise show host paths. */
char *g_args_start;
size_t g_args_len;

int main(int argc, char **argv) {
    if (argc > 0) {
        g_args_start = argv[0];
        g_args_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
    }
    if (argc >= 2 && strcmp(argv[1], "launch") == 0) return launch_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "snapshot") == 0) return snapshot_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "squota") == 0) return squota_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        puts("mitos-agent 0.1.0");
        return 0;
    }
    fprintf(stderr, "usage: mitos-agent launch ... | snapshot SRC DST... | squota MOUNTPOINT | --version\n");
    return 2;
}
