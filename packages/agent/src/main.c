#include <stdio.h>
#include <string.h>

int launch_main(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "launch") == 0) return launch_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        puts("mitos-agent 0.1.0");
        return 0;
    }
    fprintf(stderr, "usage: mitos-agent launch ... | --version\n");
    return 2;
}
