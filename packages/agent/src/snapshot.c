/*
 * `mitos-agent snapshot SRC DST...`: writable btrfs snapshots of SRC, one per DST, through the
 * ioctl in one short-lived process. A fork freezes its parent for exactly this step, so it must
 * not pay for starting the btrfs tool once per child. Several targets are snapshotted at once,
 * one thread each: btrfs makes a snapshot in a transaction commit, and snapshots asked for
 * together share one commit, but only when their targets lie in different directories (the
 * ioctl holds the target directory's lock across the commit). The engine gives each target a
 * staging directory of its own (storage/btrfs.ts); measured in packages/bench/spike/snapshot-batch.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/btrfs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/*
 * One subvolume ioctl on PATH, which names an entry of its parent directory (both ioctls take
 * the parent's fd and the entry's name). `src_fd`: the snapshot's source, ignored by a delete.
 */
static int subvol_ioctl(const char *path, unsigned long request, int src_fd) {
    char parent_buf[4096], name_buf[4096];
    snprintf(parent_buf, sizeof parent_buf, "%s", path);
    snprintf(name_buf, sizeof name_buf, "%s", path);
    const char *parent = dirname(parent_buf);
    const char *name = basename(name_buf);
    if (strlen(name) >= BTRFS_SUBVOL_NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent_fd < 0) return -1;
    struct btrfs_ioctl_vol_args_v2 args;
    memset(&args, 0, sizeof args);
    args.fd = src_fd;
    strncpy(args.name, name, BTRFS_SUBVOL_NAME_MAX);
    int r = ioctl(parent_fd, request, &args);
    int saved = errno;
    close(parent_fd);
    errno = saved;
    return r;
}

struct snapshot_job {
    const char *target;
    int src_fd;
    int err; /* 0, or the errno of a failed snapshot */
};

static void *snapshot_one(void *arg) {
    struct snapshot_job *job = arg;
    job->err = subvol_ioctl(job->target, BTRFS_IOC_SNAP_CREATE_V2, job->src_fd) < 0 ? errno : 0;
    return NULL;
}

int snapshot_main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: mitos-agent snapshot SRC DST...\n");
        return 2;
    }
    int src_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src_fd < 0) {
        fprintf(stderr, "mitos-agent snapshot: open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int n = argc - 2;
    struct snapshot_job *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    char *started = calloc((size_t)n, 1);
    if (!jobs || !threads || !started) {
        fprintf(stderr, "mitos-agent snapshot: out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct snapshot_job){.target = argv[i + 2], .src_fd = src_fd};
        /* The first runs on this thread; one that cannot get a thread runs here too, in turn. */
        started[i] = i > 0 && pthread_create(&threads[i], NULL, snapshot_one, &jobs[i]) == 0;
        if (!started[i] && i > 0) snapshot_one(&jobs[i]);
    }
    snapshot_one(&jobs[0]);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (started[i]) pthread_join(threads[i], NULL);
        if (jobs[i].err) {
            fprintf(stderr, "mitos-agent snapshot: %s -> %s: %s\n", argv[1], jobs[i].target, strerror(jobs[i].err));
            rc = 1;
        }
    }
    return rc;
}

/*
 * `mitos-agent subvol-delete PATH...`: deletes each subvolume by the ioctl. The engine passes
 * the paths on stdin, so a sandbox's teardown does not put its storage path in a command line
 * every host user can read (the btrfs tool takes paths only as arguments).
 */
int subvol_delete_main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: mitos-agent subvol-delete PATH...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (subvol_ioctl(argv[i], BTRFS_IOC_SNAP_DESTROY_V2, 0) < 0) {
            char name_buf[4096];
            snprintf(name_buf, sizeof name_buf, "%s", argv[i]);
            fprintf(stderr, "mitos-agent subvol-delete: %s: %s\n", basename(name_buf), strerror(errno));
            return 1;
        }
    }
    return 0;
}
