/*
 * mitos-probe: escape attempts a hostile program inside a sandbox would make, as one static
 * binary (templates differ in what tools they carry; raw syscalls do not). Each attempt
 * prints one line `name ok|denied errno detail`; "ok" means the kernel let the call through,
 * which the test then judges (a mount inside the sandbox's own namespace is fine, a module
 * load is not). Built by the test with the host's cc and copied in through the files API.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/btrfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

static void report(const char *name, int r, const char *detail) {
    if (r < 0) printf("%s denied %d %s\n", name, errno, detail ? detail : "");
    else printf("%s ok 0 %s\n", name, detail ? detail : "");
    fflush(stdout);
}

static int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return n < 0 ? -1 : 0;
}

static int count_pids(const char *proc) {
    DIR *d = opendir(proc);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] >= '1' && e->d_name[0] <= '9';
    closedir(d);
    return n;
}

/*
 * The agent: pid 1's child named mitos-agent (pid 1 itself only reaps and holds nothing). 0 when
 * there is none, so every attack on it then reports "ok" and the test fails loudly.
 */
static pid_t find_agent(void) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char path[64], stat[512];
        int pid = atoi(e->d_name);
        if (pid <= 1) continue;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, stat, sizeof stat - 1);
        close(fd);
        if (n <= 0) continue;
        stat[n] = 0;
        int ppid = 0;
        char *close_paren = strrchr(stat, ')');
        if (strstr(stat, "(mitos-agent)") && close_paren && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == 1)
            found = pid;
    }
    closedir(d);
    return found;
}

/* pid 1 is open to sandbox root (a checkpoint needs it dumpable): what it holds is all there
 * is to take. Reported as its descriptors and their targets. */
static void init_holds(void) {
    char holds[512] = "";
    DIR *fds = opendir("/proc/1/fd");
    for (struct dirent *e; fds && (e = readdir(fds));) {
        char link[300], target[128];
        if (e->d_name[0] == '.') continue;
        snprintf(link, sizeof link, "/proc/1/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        size_t used = strlen(holds);
        snprintf(holds + used, sizeof holds - used, "%s%s=%s", used ? "," : "", e->d_name, target);
    }
    report("init-holds", fds ? 0 : -1, holds);
    if (fds) closedir(fds);
}

/* The privileged operations that must fail whatever namespace tricks came first. */
static void privileged(const char *prefix) {
    char name[128];
    mkdir("/tmp/probe-mnt", 0755);

    snprintf(name, sizeof name, "%smknod-block", prefix);
    unlink("/tmp/probe-vda");
    report(name, mknod("/tmp/probe-vda", S_IFBLK | 0600, makedev(254, 0)), "");

    snprintf(name, sizeof name, "%smount-blockdev", prefix);
    int r = mount("/dev/vda", "/tmp/probe-mnt", "ext4", MS_RDONLY, NULL);
    if (r < 0) r = mount("/tmp/probe-vda", "/tmp/probe-mnt", "ext4", MS_RDONLY, NULL);
    report(name, r, "");
    if (r == 0) umount2("/tmp/probe-mnt", MNT_DETACH);

    /* The "shocker" escape: a forged file handle for the root directory (inode 256) of another
     * btrfs subvolume (the top level, 5, or a neighbour's id near ours), opened relative to our
     * own root. Generations are guessed, since a wrong one reads as ESTALE. */
    snprintf(name, sizeof name, "%sopen-by-handle", prefix);
    struct {
        struct file_handle fh;
        unsigned char bytes[64];
    } h;
    memset(&h, 0, sizeof h);
    int mount_id, opened = -1, last_errno = 0;
    char hit[64] = "";
    h.fh.handle_bytes = 64;
    r = name_to_handle_at(AT_FDCWD, "/", &h.fh, &mount_id, 0);
    if (r == 0 && h.fh.handle_bytes >= 20) {
        unsigned long long own[2];
        memcpy(own, h.fh.f_handle, sizeof own);
        int root = open("/", O_RDONLY | O_DIRECTORY);
        for (long long sub = (long long)own[1] - 8; sub <= (long long)own[1] + 8 && opened < 0; sub++) {
            unsigned long long target = sub < 256 ? 5 : (unsigned long long)sub;
            if (target == own[1]) continue;
            for (unsigned gen = 0; gen < 32 && opened < 0; gen++) {
                unsigned long long ids[2] = {256, target};
                memcpy(h.fh.f_handle, ids, sizeof ids);
                memcpy(h.fh.f_handle + 16, &gen, sizeof gen);
                opened = (int)syscall(SYS_open_by_handle_at, root, &h.fh, O_RDONLY | O_DIRECTORY);
                if (opened < 0) last_errno = errno;
                else snprintf(hit, sizeof hit, "subvolume=%llu", target);
            }
        }
        if (opened >= 0) close(opened);
        close(root);
        r = opened >= 0 ? 0 : -1;
        errno = last_errno;
    }
    report(name, r, hit);

    snprintf(name, sizeof name, "%sinit-module", prefix);
    int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
    r = (int)syscall(SYS_finit_module, fd, "", 0);
    if (fd >= 0) close(fd);
    report(name, r, "");

    snprintf(name, sizeof name, "%score-pattern", prefix);
    report(name, write_text("/proc/sys/kernel/core_pattern", "|/tmp/pwn"), "");
    snprintf(name, sizeof name, "%ssysrq-trigger", prefix);
    report(name, write_text("/proc/sysrq-trigger", "h"), "");
    snprintf(name, sizeof name, "%sdrop-caches", prefix);
    report(name, write_text("/proc/sys/vm/drop_caches", "1"), "");

    /* The agent holds the socket the host talks to; pid 1 is the reaper (see init-holds). */
    pid_t agent = find_agent();
    char agent_path[64], agent_detail[32];
    snprintf(agent_detail, sizeof agent_detail, agent ? "agent=%d" : "no-agent-found", (int)agent);
    snprintf(name, sizeof name, "%sptrace-init", prefix);
    r = agent ? (int)ptrace(PTRACE_ATTACH, agent, NULL, NULL) : 0;
    if (agent && r == 0) ptrace(PTRACE_DETACH, agent, NULL, NULL);
    report(name, r, agent_detail);

    snprintf(name, sizeof name, "%sinit-fd", prefix);
    snprintf(agent_path, sizeof agent_path, "/proc/%d/fd/2", (int)agent);
    fd = agent ? open(agent_path, O_WRONLY | O_APPEND | O_CLOEXEC) : 0;
    if (agent && fd >= 0) close(fd);
    report(name, fd, agent_detail);

    /* Its listening socket itself, copied out by descriptor number. */
    snprintf(name, sizeof name, "%sagent-socket", prefix);
    int agent_pidfd = agent ? (int)syscall(SYS_pidfd_open, agent, 0) : -1;
    fd = agent_pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, agent_pidfd, 3, 0) : (agent ? -1 : 0);
    if (agent && fd >= 0) close(fd);
    if (agent_pidfd >= 0) close(agent_pidfd);
    report(name, fd, agent_detail);

    snprintf(name, sizeof name, "%sinit-root", prefix);
    snprintf(agent_path, sizeof agent_path, "/proc/%d/root/", (int)agent);
    DIR *d = agent ? opendir(agent_path) : NULL;
    report(name, !agent || d ? 0 : -1, agent_detail);
    if (d) closedir(d);

    snprintf(name, sizeof name, "%sinit-environ", prefix);
    snprintf(agent_path, sizeof agent_path, "/proc/%d/environ", (int)agent);
    fd = agent ? open(agent_path, O_RDONLY | O_CLOEXEC) : 0;
    if (agent && fd >= 0) close(fd);
    report(name, fd, agent_detail);

    snprintf(name, sizeof name, "%ssettime", prefix);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    report(name, clock_settime(CLOCK_REALTIME, &ts), "");

    snprintf(name, sizeof name, "%sswapoff", prefix);
    report(name, (int)syscall(SYS_swapoff, "/dev/vda"), "");
}

/* Mounts the sandbox's own root may make; the test checks what they expose. */
static void mounts(void) {
    char detail[64];
    mkdir("/tmp/probe-proc", 0755);
    int r = mount("proc", "/tmp/probe-proc", "proc", 0, NULL);
    snprintf(detail, sizeof detail, "pids=%d", r == 0 ? count_pids("/tmp/probe-proc") : -1);
    report("mount-proc", r, detail);
    if (r == 0) umount2("/tmp/probe-proc", MNT_DETACH);

    mkdir("/tmp/probe-root", 0755);
    r = mount("/", "/tmp/probe-root", NULL, MS_BIND | MS_REC, NULL);
    struct stat st;
    snprintf(detail, sizeof detail, "storage-visible=%d", r == 0 && stat("/tmp/probe-root/sandboxes", &st) == 0);
    report("bind-root", r, detail);
    if (r == 0) umount2("/tmp/probe-root", MNT_DETACH);

    mkdir("/tmp/probe-sys", 0755);
    r = mount("sysfs", "/tmp/probe-sys", "sysfs", 0, NULL);
    report("mount-sysfs", r, "");
    if (r == 0) {
        report("sysfs-write-kernel", write_text("/tmp/probe-sys/kernel/mm/transparent_hugepage/enabled", "never"), "");
        report("sysfs-write-uevent", write_text("/tmp/probe-sys/kernel/uevent_helper", "/tmp/pwn"), "");
        umount2("/tmp/probe-sys", MNT_DETACH);
    }
    /* Our own limits, through a cgroup filesystem we mount ourselves. */
    mkdir("/tmp/probe-cg", 0755);
    const char *limit = NULL;
    r = mount("cgroup", "/tmp/probe-cg", "cgroup", 0, "pids");
    if (r == 0) limit = "/tmp/probe-cg/pids.max";
    else if ((r = mount("cgroup2", "/tmp/probe-cg", "cgroup2", 0, NULL)) == 0) limit = "/tmp/probe-cg/pids.max";
    report("mount-cgroup", r, "");
    if (limit) {
        report("raise-pids-limit", write_text(limit, "max"), "");
        umount2("/tmp/probe-cg", MNT_DETACH);
    }
    mkdir("/tmp/probe-tmp", 0755);
    r = mount("tmpfs", "/tmp/probe-tmp", "tmpfs", 0, "size=1m");
    report("mount-tmpfs", r, "");
    if (r == 0) umount2("/tmp/probe-tmp", MNT_DETACH);
}

/* `unshare -r` nesting: a fresh user namespace where we are "root" again. */
static void nested(void) {
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
            report("unshare-user", -1, "");
            _exit(0);
        }
        report("unshare-user", 0, "");
        write_text("/proc/self/setgroups", "deny");
        report("nested-uid-map", write_text("/proc/self/uid_map", "0 0 1"), "");
        report("nested-gid-map", write_text("/proc/self/gid_map", "0 0 1"), "");
        privileged("nested-");
        _exit(0);
    }
    waitpid(pid, NULL, 0);
}

/* An abstract unix socket the host listens on: network namespaces scope these. */
static void abstract_socket(const char *name) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t len = strlen(name);
    if (len > sizeof addr.sun_path - 2) len = sizeof addr.sun_path - 2;
    memcpy(addr.sun_path + 1, name, len);
    int r = connect(s, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len));
    report("host-abstract-socket", r, "");
    close(s);
}

/* A nested btrfs subvolume: its own qgroup, a way around a limit set on the root's alone. */
static void subvolume(const char *parent, const char *name) {
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct btrfs_ioctl_vol_args args;
    memset(&args, 0, sizeof args);
    snprintf(args.name, sizeof args.name, "%s", name);
    int r = fd < 0 ? -1 : ioctl(fd, BTRFS_IOC_SUBVOL_CREATE, &args);
    report("subvolume-create", r, "");
    if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: mitos-probe privileged|mounts|nested|abstract NAME|subvolume DIR NAME\n");
        return 2;
    }
    if (strcmp(argv[1], "privileged") == 0) {
        privileged("");
        init_holds();
    } else if (strcmp(argv[1], "mounts") == 0) mounts();
    else if (strcmp(argv[1], "nested") == 0) nested();
    else if (strcmp(argv[1], "abstract") == 0 && argc > 2) abstract_socket(argv[2]);
    else if (strcmp(argv[1], "subvolume") == 0 && argc > 3) subvolume(argv[2], argv[3]);
    else return 2;
    return 0;
}
