/*
 * `mitos-agent snapshot SRC DST...`: writable btrfs snapshots of SRC, one per DST, through the
 * ioctl in one short-lived process. A fork freezes its parent for exactly this step, so it must
 * not pay for starting the btrfs tool once per child.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/btrfs.h>
#include <stdio.h>
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
    for (int i = 2; i < argc; i++) {
        if (subvol_ioctl(argv[i], BTRFS_IOC_SNAP_CREATE_V2, src_fd) < 0) {
            fprintf(stderr, "mitos-agent snapshot: %s -> %s: %s\n", argv[1], argv[i], strerror(errno));
            return 1;
        }
    }
    return 0;
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
