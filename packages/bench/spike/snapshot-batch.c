/*
 * Spike: N writable btrfs snapshots of one source (a fork's fan-out), three ways, timed.
 *   serial      one ioctl after another into one directory (what `mitos-agent snapshot` did)
 *   same-dir    one thread per snapshot, all into one directory
 *   own-dir     one thread per snapshot, each into a directory of its own
 * A snapshot is created by a transaction commit; the ioctl holds its target directory's
 * i_rwsem across that commit, so only snapshots into different directories can share one.
 * Built and run by snapshot-batch.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int src_fd;
struct job { char dir[4096]; char name[64]; int rc; };

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *snap(void *arg) {
    struct job *j = arg;
    int dfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct btrfs_ioctl_vol_args_v2 a;
    memset(&a, 0, sizeof a);
    a.fd = src_fd;
    strncpy(a.name, j->name, sizeof a.name - 1);
    j->rc = dfd < 0 ? -1 : ioctl(dfd, BTRFS_IOC_SNAP_CREATE_V2, &a);
    if (j->rc < 0) perror("snapshot");
    if (dfd >= 0) close(dfd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: snapshot-batch SRC WORKDIR MODE N\n"); return 2; }
    const char *work = argv[2], *mode = argv[3];
    int n = atoi(argv[4]);
    src_fd = open(argv[1], O_RDONLY | O_DIRECTORY);
    struct job *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    for (int i = 0; i < n; i++) {
        if (strcmp(mode, "own-dir") == 0) {
            snprintf(jobs[i].dir, sizeof jobs[i].dir, "%s/d%d", work, i);
            mkdir(jobs[i].dir, 0700);
        } else {
            snprintf(jobs[i].dir, sizeof jobs[i].dir, "%s", work);
        }
        snprintf(jobs[i].name, sizeof jobs[i].name, "s%d", i);
    }
    double t = now_ms();
    if (strcmp(mode, "serial") == 0) for (int i = 0; i < n; i++) snap(&jobs[i]);
    else {
        for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, snap, &jobs[i]);
        for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    }
    printf("%.2f\n", now_ms() - t);
    return 0;
}
