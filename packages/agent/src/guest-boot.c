/*
 * pid 1 of a microVM, first in the initramfs: the distribution cloud kernel has virtio as
 * modules, so load them, mount the template disk (/dev/vda, ext4), move into it, and give it
 * the API filesystems a sandbox expects. Then find the virtio-serial port the host talks on.
 * Any failure is fatal on purpose: pid 1 exiting panics the kernel, QEMU exits (-no-reboot),
 * and the host reports the serial console log.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "guest-boot.h"

#define NEW_ROOT "/mnt/root"
#define MODULE_DIR "/lib/mitos/modules"
#define PORT_NAME "mitos.agent"

static void fatal(const char *what) {
    fprintf(stderr, "mitos-guest: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
    if (mount(src, dst, type, flags, data) < 0) fatal(dst);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* modules.order lists file names in dependency order (the host resolved `depends=`). */
static void load_modules(void) {
    FILE *f = fopen(MODULE_DIR "/modules.order", "re");
    if (!f) fatal(MODULE_DIR "/modules.order");
    char line[256], path[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        snprintf(path, sizeof path, "%s/%s", MODULE_DIR, line);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) fatal(path);
        if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST) fatal(path);
        close(fd);
    }
    fclose(f);
}

static void wait_for_path(const char *path, int timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    while (access(path, F_OK) < 0) {
        if (now_ms() > deadline) fatal(path);
        usleep(2000);
    }
}

/* The port's device name depends on probe order; its sysfs name is what the host set. */
static int find_port(char *dev, size_t len, int timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char path[512], name[64] = "";
            snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            ssize_t n = read(fd, name, sizeof name - 1);
            close(fd);
            if (n > 0 && strncmp(name, PORT_NAME, strlen(PORT_NAME)) == 0) {
                snprintf(dev, len, "/dev/%s", e->d_name);
                closedir(d);
                if (access(dev, F_OK) == 0) return 0;
                d = NULL;
                break;
            }
        }
        if (d) closedir(d);
        if (now_ms() > deadline) return -1;
        usleep(2000);
    }
}

static void switch_to_disk(void) {
    mkdir_p(NEW_ROOT, 0755);
    mount_or_die("/dev/vda", NEW_ROOT, "ext4", MS_NOATIME, "");
    /* The code kernels ship in the initramfs, so a disk image depends only on its template. */
    if (access("/opt/mitos/kernels", F_OK) == 0) {
        if (mkdir_p(NEW_ROOT "/opt/mitos/kernels", 0755) < 0) fatal("mkdir /opt/mitos/kernels");
        mount_or_die("/opt/mitos/kernels", NEW_ROOT "/opt/mitos/kernels", NULL, MS_BIND, NULL);
        mount_or_die(NULL, NEW_ROOT "/opt/mitos/kernels", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV | MS_NOSUID, NULL);
    }
    static const char *api[] = {"/dev", "/proc", "/sys"};
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++) {
        char target[64];
        snprintf(target, sizeof target, NEW_ROOT "%s", api[i]);
        mkdir_p(target, 0755);
        mount_or_die(api[i], target, NULL, MS_MOVE, NULL);
    }
    if (chdir(NEW_ROOT) < 0) fatal("chdir new root");
    /* initramfs cannot be pivot_root'ed away: move the disk over / and chroot, as switch_root does. */
    mount_or_die(".", "/", NULL, MS_MOVE, NULL);
    if (chroot(".") < 0) fatal("chroot");
    if (chdir("/") < 0) fatal("chdir /");
}

static void setup_api_filesystems(void) {
    mkdir_p("/dev/pts", 0755);
    mount_or_die("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
    mkdir_p("/dev/shm", 01777);
    mount_or_die("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mkdir_p("/run", 0755);
    mount_or_die("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    mkdir_p("/run/mitos", 0755);
    static const char *links[][2] = {
        {"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"}, {"/proc/self/fd/1", "/dev/stdout"},
        {"/proc/self/fd/2", "/dev/stderr"}};
    for (size_t i = 0; i < 4; i++) symlink(links[i][0], links[i][1]);
    mkdir_p("/workspace", 0755);
    mkdir("/tmp", 01777);
    chmod("/tmp", 01777);
}

/* cgroup v2 with the pids controller for the sandbox's commands (see guest_join_sandbox_cgroup). */
static void setup_cgroup(void) {
    if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
        perror("mitos-guest: mount cgroup2");
        return;
    }
    int fd = open("/sys/fs/cgroup/cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "+pids", 5) < 0) perror("mitos-guest: enable pids controller");
    if (fd >= 0) close(fd);
    if (mkdir("/sys/fs/cgroup/sandbox", 0755) < 0 && errno != EEXIST) perror("mitos-guest: sandbox cgroup");
}

int guest_boot(void) {
    mkdir_p("/proc", 0555);
    mkdir_p("/sys", 0555);
    mkdir_p("/dev", 0755);
    mount_or_die("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_or_die("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_or_die("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    load_modules();
    wait_for_path("/dev/vda", 10000);
    switch_to_disk();
    setup_api_filesystems();
    setup_cgroup();
    sethostname("mitos", 5);
    loopback_up();
    char dev[300];
    if (find_port(dev, sizeof dev, 10000) < 0) {
        errno = ENODEV;
        fatal("virtio-serial port " PORT_NAME);
    }
    int port = open(dev, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (port < 0) fatal(dev);
    return port;
}
