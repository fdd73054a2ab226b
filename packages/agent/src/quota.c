/*
 * `mitos-agent squota MOUNTPOINT`: turn on btrfs simple quotas (kernel >= 6.7). btrfs-progs
 * older than 6.7 cannot ask for them, and full qgroups make every snapshot several times
 * slower, so the engine enables the simple kind through the ioctl itself.
 * Exit 0: on (or already on); 3: the kernel has no simple quotas; 1: any other failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Not in the uapi headers of older distributions. */
#ifndef BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA
#define BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA 4
#endif

int squota_main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mitos-agent squota MOUNTPOINT\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "mitos-agent squota: open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    struct btrfs_ioctl_quota_ctl_args args;
    memset(&args, 0, sizeof args);
    args.cmd = BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA;
    int r = ioctl(fd, BTRFS_IOC_QUOTA_CTL, &args);
    int saved = errno;
    close(fd);
    if (r == 0 || saved == EEXIST) return 0;
    fprintf(stderr, "mitos-agent squota: %s: %s\n", argv[1], strerror(saved));
    /* Kernels without simple quotas reject the unknown command. */
    return saved == EINVAL || saved == EOPNOTSUPP ? 3 : 1;
}
