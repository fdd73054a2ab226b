/*
 * mitos-isolation-probe: attacks on what sandboxes share with each other and with the host
 * (kernel keyrings, per-user counters, kernel surfaces a namespace does not scope, host mounts
 * and device nodes, cgroup hierarchies). Same line format as probe.c:
 * `name ok|denied errno detail`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEY_SPEC_SESSION_KEYRING -3
#define KEY_SPEC_USER_KEYRING -4
#define KEYCTL_DESCRIBE 6
#define KEYCTL_LINK 8
#define KEYCTL_READ 11
#define AF_VSOCK_ 40
#define CLONE_NEWTIME_ 0x80

static void report(const char *name, long r, const char *detail) {
    if (r < 0) printf("%s denied %d %s\n", name, errno, detail ? detail : "");
    else printf("%s ok 0 %s\n", name, detail ? detail : "");
    fflush(stdout);
}

static void seccomp_surface(void) {
    char params[120];
    memset(params, 0, sizeof params);
    errno = 0;
    report("io-uring", syscall(SYS_io_uring_setup, 4, params), "io_uring_setup");
    char attr[128];
    memset(attr, 0, sizeof attr);
    ((unsigned *)attr)[1] = 112; /* perf_event_attr.size; type 0 (hardware), config 0 (cycles) */
    report("perf-event", syscall(SYS_perf_event_open, attr, 0, -1, -1, 0), "perf_event_open on self");
    report("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC), "userfaultfd");
    char bpf_attr[128];
    memset(bpf_attr, 0, sizeof bpf_attr);
    report("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, bpf_attr, sizeof bpf_attr), "bpf map create");
    report("af-vsock", socket(AF_VSOCK_, SOCK_STREAM, 0), "socket(AF_VSOCK)");
    report("af-packet", socket(AF_PACKET, SOCK_RAW, 0), "socket(AF_PACKET)");
    report("fsopen", syscall(SYS_fsopen, "tmpfs", 0), "fsopen(tmpfs)");
    report("open-tree", syscall(SYS_open_tree, AT_FDCWD, "/tmp", 1 /* OPEN_TREE_CLONE */), "open_tree clone");
    report("time-namespace", unshare(CLONE_NEWTIME_), "unshare(CLONE_NEWTIME)");
    report("kexec", syscall(SYS_kexec_load, 0, 0, NULL, 0), "kexec_load");
    report("finit-module", syscall(SYS_finit_module, -1, "", 0), "finit_module");
    report("inet-socket", socket(AF_INET, SOCK_STREAM, 0), "socket(AF_INET) (must work)");
}

static void locked_mounts(const char *ro_dir) {
    report("remount-bind-rw", mount(NULL, ro_dir, NULL, MS_REMOUNT | MS_BIND, NULL), ro_dir);
    report("umount-bind", umount2(ro_dir, MNT_DETACH), ro_dir);
    report("chmod-dev-null", chmod("/dev/null", 0777), "chmod 0777 /dev/null");
    report("chown-dev-null", chown("/dev/null", 0, 0), "chown 0:0 /dev/null");
    report("remount-dev-null-rw", mount(NULL, "/dev/null", NULL, MS_REMOUNT | MS_BIND, NULL), "/dev/null");
    report("umount-dev-null", umount2("/dev/null", MNT_DETACH), "/dev/null");
    int fd = open("/dev/null", O_WRONLY);
    report("write-dev-null", fd < 0 ? -1 : write(fd, "x", 1), "write to /dev/null (must work)");
}

static void key_add(const char *desc) {
    long serial = syscall(SYS_add_key, "user", desc, "secret-payload", 14, KEY_SPEC_USER_KEYRING);
    char detail[32];
    snprintf(detail, sizeof detail, "%ld", serial);
    report("key-add", serial, detail);
}

static void key_steal(long serial) {
    char buf[256];
    report("key-describe", syscall(SYS_keyctl, KEYCTL_DESCRIBE, serial, buf, sizeof buf), "KEYCTL_DESCRIBE");
    report("key-link", syscall(SYS_keyctl, KEYCTL_LINK, serial, KEY_SPEC_SESSION_KEYRING), "KEYCTL_LINK");
    report("key-read", syscall(SYS_keyctl, KEYCTL_READ, serial, buf, sizeof buf), "KEYCTL_READ");
}

static void key_fill(void) {
    int n = 0;
    for (; n < 5000; n++) {
        char desc[32];
        snprintf(desc, sizeof desc, "fill-%d", n);
        if (syscall(SYS_add_key, "user", desc, "0123456789abcdef0123456789abcdef", 32, KEY_SPEC_USER_KEYRING) < 0) break;
    }
    char detail[32];
    snprintf(detail, sizeof detail, "%d", n);
    report("key-fill", -1, detail);
}

static void inotify_hold(int n) {
    int held = 0;
    while (held < n && inotify_init1(IN_CLOEXEC) >= 0) held++;
    printf("inotify-hold ok 0 %d\n", held);
    fflush(stdout);
    pause();
}

static void inotify_count(void) {
    int n = 0;
    while (n < 5000 && inotify_init1(IN_CLOEXEC) >= 0) n++;
    char detail[32];
    snprintf(detail, sizeof detail, "%d", n);
    report("inotify-count", -1, detail);
}

/* Mount a v1 hierarchy inside: it must show the sandbox's own cgroup, not the host's root. */
static void cgroup_v1(const char *controller) {
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "/tmp/probe-cg-%s", controller);
    mkdir(dir, 0755);
    report("cgroup-mount", mount("cgroup", dir, "cgroup", 0, controller), controller);
    snprintf(path, sizeof path, "%s/release_agent", dir);
    report("cgroup-release-agent", access(path, F_OK), path);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr,
                "usage: mitos-isolation-probe seccomp | locked DIR | key-add DESC | key-steal SERIAL | key-fill\n"
                "       | inotify-hold N | inotify-count | cgroup-v1 CONTROLLER\n");
        return 2;
    }
    if (strcmp(argv[1], "seccomp") == 0) seccomp_surface();
    else if (strcmp(argv[1], "locked") == 0 && argc > 2) locked_mounts(argv[2]);
    else if (strcmp(argv[1], "key-add") == 0 && argc > 2) key_add(argv[2]);
    else if (strcmp(argv[1], "key-steal") == 0 && argc > 2) key_steal(strtol(argv[2], NULL, 10));
    else if (strcmp(argv[1], "key-fill") == 0) key_fill();
    else if (strcmp(argv[1], "inotify-hold") == 0 && argc > 2) inotify_hold(atoi(argv[2]));
    else if (strcmp(argv[1], "inotify-count") == 0) inotify_count();
    else if (strcmp(argv[1], "cgroup-v1") == 0 && argc > 2) cgroup_v1(argv[2]);
    else return 2;
    return 0;
}
