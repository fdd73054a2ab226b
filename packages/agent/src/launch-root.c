/*
 * Builds a sandbox's root tree as host root, before the sandbox's user namespace exists (see
 * launch.h). Why here and not inside the sandbox: mounts that a user namespace copies from a
 * more privileged mount namespace are locked by the kernel, so the read-only host binds and
 * device nodes made here stay read-only and in place whatever the sandbox's root does.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "launch.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < errlen) snprintf(err + n, errlen - (size_t)n, ": %s", strerror(saved));
    errno = saved;
    return -1;
}

/* Files made in the root belong to sandbox root, as if the sandbox had made them itself. */
static void act_as(unsigned long id) {
    setfsgid((gid_t)id);
    setfsuid((uid_t)id);
}

int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int wait_for_close(void *arg) {
    int *hold = arg;
    close(hold[1]);
    char c;
    (void)!read(hold[0], &c, 1);
    return 0;
}

/*
 * A user namespace whose id maps translate on-disk ids into this sandbox's host range. With
 * keep_root, on-disk 0 stays host 0 too: overlayfs does its own bookkeeping in the upper layer
 * (work directory, whiteouts, copy-up temporaries) as the mounter, host root, which an idmapped
 * layer must be able to represent. No sandbox file carries id 0 on disk (templates are shifted
 * into the range), and the sandbox's own user namespace cannot map host 0.
 */
static int idmap_userns(const struct root_spec *s, int keep_root, char *err, size_t errlen) {
    static char stack[16384] __attribute__((aligned(16)));
    int hold[2];
    if (pipe2(hold, O_CLOEXEC) < 0) return fail(err, errlen, "pipe");
    pid_t pid = clone(wait_for_close, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, hold);
    if (pid < 0) {
        close(hold[0]);
        close(hold[1]);
        return fail(err, errlen, "clone idmap user namespace");
    }
    char map[128], path[64];
    snprintf(map, sizeof map, "%s%lu %lu %lu\n", keep_root ? "0 0 1\n" : "", s->disk_base, s->uid_base, s->uid_count);
    int fd = -1;
    snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
    if (write_text(path, map) == 0) {
        snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
        if (write_text(path, map) == 0) {
            snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
            fd = open(path, O_RDONLY | O_CLOEXEC);
        }
    }
    int saved = errno;
    close(hold[1]);
    close(hold[0]);
    waitpid(pid, NULL, 0);
    errno = saved;
    return fd >= 0 ? fd : fail(err, errlen, "write idmap");
}

/* A detached clone of the tree at path, its ids translated through userns. */
static int idmapped_clone(const char *path, int userns) {
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return -1;
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (__u64)userns};
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
        int saved = errno;
        close(tree);
        errno = saved;
        return -1;
    }
    return tree;
}

#define MAX_LOWERS 16

/*
 * The overlay root with every layer idmapped into this sandbox's range: the read-only template
 * (lower) is the same inodes for every sandbox and fork, so its files sit in the page cache
 * once; the upper and work directories share one parent (the sandbox's own storage directory,
 * which a fork snapshots), so one idmapped clone of that parent carries both. The detached
 * clones are named through /proc/self/fd: they are never attached anywhere a path could reach.
 */
static int mount_idmapped_overlay(const struct root_spec *s, char *err, size_t errlen) {
    const char *slash = strrchr(s->ov_upper, '/');
    size_t parent_len = slash ? (size_t)(slash - s->ov_upper) : 0;
    if (!slash || parent_len == 0 || strncmp(s->ov_work, s->ov_upper, parent_len + 1) != 0 ||
        strchr(s->ov_work + parent_len + 1, '/') || strchr(slash + 1, '/')) {
        errno = EINVAL;
        return fail(err, errlen, "overlay upper and work must be siblings (%s, %s)", s->ov_upper, s->ov_work);
    }
    int userns = idmap_userns(s, 1, err, errlen);
    if (userns < 0) return -1;
    int fds[MAX_LOWERS + 1];
    int n_fds = 0, r = -1;
    char opts[4096], parent[4096];
    size_t used = (size_t)snprintf(opts, sizeof opts, "lowerdir=");
    const char *lower = s->ov_lower;
    while (*lower) {
        const char *end = strchr(lower, ':');
        size_t len = end ? (size_t)(end - lower) : strlen(lower);
        if (n_fds == MAX_LOWERS || len >= sizeof parent) {
            errno = E2BIG;
            fail(err, errlen, "overlay lower layers");
            goto out;
        }
        memcpy(parent, lower, len);
        parent[len] = 0;
        int fd = idmapped_clone(parent, userns);
        if (fd < 0) {
            fail(err, errlen, "idmap lower layer %s", parent);
            goto out;
        }
        fds[n_fds++] = fd;
        used += (size_t)snprintf(opts + used, sizeof opts - used, "%s/proc/self/fd/%d", n_fds > 1 ? ":" : "", fd);
        lower = end ? end + 1 : lower + len;
    }
    memcpy(parent, s->ov_upper, parent_len);
    parent[parent_len] = 0;
    int top = idmapped_clone(parent, userns);
    if (top < 0) {
        fail(err, errlen, "idmap upper layer %s", parent);
        goto out;
    }
    fds[n_fds++] = top;
    used += (size_t)snprintf(opts + used, sizeof opts - used, ",upperdir=/proc/self/fd/%d/%s,workdir=/proc/self/fd/%d/%s,userxattr",
                             top, slash + 1, top, s->ov_work + parent_len + 1);
    if (used >= sizeof opts) {
        errno = E2BIG;
        fail(err, errlen, "overlay options");
        goto out;
    }
    r = mount("overlay", s->rootfs, "overlay", MS_NOSUID | MS_NODEV, opts);
    if (r < 0) fail(err, errlen, "mount idmapped overlay root");
out:
    for (int i = 0; i < n_fds; i++) close(fds[i]);
    close(userns);
    return r;
}

static int mount_root(const struct root_spec *s, char *err, size_t errlen) {
    if (s->ov_lower && s->disk_base != s->uid_base) return mount_idmapped_overlay(s, err, errlen);
    if (s->ov_lower) {
        char opts[8192];
        snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s,userxattr", s->ov_lower, s->ov_upper,
                 s->ov_work);
        if (mount("overlay", s->rootfs, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
            return fail(err, errlen, "mount overlay root");
        return 0;
    }
    if (s->disk_base == s->uid_base) {
        if (mount(s->rootfs, s->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) return fail(err, errlen, "bind root");
        return 0;
    }
    int userns = idmap_userns(s, 0, err, errlen);
    if (userns < 0) return -1;
    int tree = idmapped_clone(s->rootfs, userns);
    int r = tree < 0 ? -1 : (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, s->rootfs, MOVE_MOUNT_F_EMPTY_PATH);
    int saved = errno;
    if (tree >= 0) close(tree);
    close(userns);
    errno = saved;
    return r == 0 ? 0 : fail(err, errlen, "idmapped root mount");
}

/* A host device node, bound read-only: writable as a device, but never chmod/chown-able. */
static int bind_device(const struct root_spec *s, const char *name, char *err, size_t errlen) {
    char source[64], target[64];
    snprintf(source, sizeof source, "/dev/%s", name);
    snprintf(target, sizeof target, "dev/%s", name);
    struct stat st;
    if (stat(source, &st) < 0) return fail(err, errlen, "%s", source);
    if (!S_ISCHR(st.st_mode) || st.st_uid != 0) {
        errno = EPERM;
        return fail(err, errlen, "refusing to bind %s: host inode is not a root-owned character device (uid %u)",
                    source, (unsigned)st.st_uid);
    }
    act_as(s->uid_base);
    int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    act_as(0);
    if (fd < 0) return fail(err, errlen, "create %s mountpoint", target);
    close(fd);
    if (mount(source, target, NULL, MS_BIND, NULL) < 0) return fail(err, errlen, "bind %s", source);
    if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
        return fail(err, errlen, "make %s read-only", target);
    return 0;
}

static int setup_dev(const struct root_spec *s, char *err, size_t errlen) {
    act_as(s->uid_base);
    int r = mkdir("dev", 0755);
    act_as(0);
    if (r < 0 && errno != EEXIST) return fail(err, errlen, "mkdir /dev");
    char opts[96];
    snprintf(opts, sizeof opts, "mode=755,size=65536k,uid=%lu,gid=%lu", s->uid_base, s->uid_base);
    if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, opts) < 0) return fail(err, errlen, "mount /dev tmpfs");
    static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
        if (bind_device(s, nodes[i], err, errlen) < 0) return -1;
    static const char *links[][2] = {{"pts/ptmx", "dev/ptmx"},
                                     {"/proc/self/fd", "dev/fd"},
                                     {"/proc/self/fd/0", "dev/stdin"},
                                     {"/proc/self/fd/1", "dev/stdout"},
                                     {"/proc/self/fd/2", "dev/stderr"}};
    act_as(s->uid_base);
    r = mkdir("dev/pts", 0755) == 0 && mkdir("dev/shm", 01777) == 0 ? 0 : -1;
    for (size_t i = 0; r == 0 && i < sizeof links / sizeof links[0]; i++) r = symlink(links[i][0], links[i][1]);
    act_as(0);
    return r == 0 ? 0 : fail(err, errlen, "populate /dev");
}

/*
 * The directory at path below the root being built (the working directory), made as sandbox
 * root where missing, walked one component at a time without following any symlink: the root
 * is the sandbox's (or, for a fork, its parent's), so a planted `/opt -> /tmp` must not send a
 * mountpoint onto the host. An O_PATH descriptor, or -1 with errno.
 */
static int open_dir_in_root(const struct root_spec *s, const char *path) {
    act_as(s->uid_base);
    int dir = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (const char *p = path; dir >= 0 && *p;) {
        while (*p == '/') p++;
        size_t len = strcspn(p, "/");
        if (len == 0) break;
        char name[256];
        if (len >= sizeof name || (len == 2 && p[0] == '.' && p[1] == '.')) {
            close(dir);
            dir = -1;
            errno = EINVAL;
            break;
        }
        memcpy(name, p, len);
        name[len] = 0;
        p += len;
        int next = -1;
        if (mkdirat(dir, name, 0755) == 0 || errno == EEXIST)
            next = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(dir);
        errno = saved;
        dir = next;
    }
    act_as(0);
    return dir;
}

/* A read-only, nosuid, nodev clone of source attached at the object target_fd names. */
static int attach_readonly(const char *source, int target_fd) {
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    int r = tree < 0 ? -1 : (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr);
    if (r == 0)
        r = (int)syscall(SYS_move_mount, tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    int saved = errno;
    if (tree >= 0) close(tree);
    errno = saved;
    return r;
}

/*
 * The init's program, bound read-only over an empty file the sandbox owns. The host file must be
 * root's and not readable by others (the engine keeps such a copy): an exec of a file the
 * sandbox's root cannot read leaves the init non-dumpable with its memory owned by the host's
 * user namespace, so no sandbox process can ptrace it or open its /proc files, exactly as
 * before the init exec'd anything.
 */
static int bind_init(const struct root_spec *s, char *err, size_t errlen) {
    struct stat st;
    if (stat(s->init_path, &st) < 0) return fail(err, errlen, "init program %s", s->init_path);
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0044) != 0) {
        errno = EPERM;
        return fail(err, errlen, "refusing init program %s: not a root-owned file closed to reading by others (mode %o)",
                    s->init_path, (unsigned)(st.st_mode & 07777));
    }
    char parent[64];
    snprintf(parent, sizeof parent, "%s", INIT_IN_SANDBOX);
    char *base = strrchr(parent, '/');
    *base++ = 0;
    int dir = open_dir_in_root(s, parent);
    if (dir < 0) return fail(err, errlen, "create %s mountpoint", INIT_IN_SANDBOX);
    /* O_NONBLOCK: a FIFO planted there must not hang the launch; it is refused below. */
    act_as(s->uid_base);
    int fd = openat(dir, base, O_CREAT | O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0644);
    act_as(0);
    close(dir);
    if (fd < 0) return fail(err, errlen, "create %s mountpoint", INIT_IN_SANDBOX);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EEXIST;
        return fail(err, errlen, "%s exists and is not a file", INIT_IN_SANDBOX);
    }
    int r = attach_readonly(s->init_path, fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return r == 0 ? 0 : fail(err, errlen, "bind %s read-only", INIT_IN_SANDBOX);
}

static int bind_host_dirs(const struct root_spec *s, char *err, size_t errlen) {
    for (int i = 0; i < s->n_binds; i++) {
        char source[4096];
        const char *sep = strchr(s->binds[i], ':');
        if (!sep || sep == s->binds[i] || sep[1] != '/' || (size_t)(sep - s->binds[i]) >= sizeof source) {
            errno = EINVAL;
            return fail(err, errlen, "bad bind %s", s->binds[i]);
        }
        memcpy(source, s->binds[i], (size_t)(sep - s->binds[i]));
        source[sep - s->binds[i]] = 0;
        int dir = open_dir_in_root(s, sep + 1);
        if (dir < 0) return fail(err, errlen, "create bind mountpoint %s", sep + 1);
        int r = attach_readonly(source, dir);
        int saved = errno;
        close(dir);
        errno = saved;
        if (r < 0) return fail(err, errlen, "bind %s read-only", sep + 1);
    }
    return 0;
}

int prepare_root(const struct root_spec *s, int *host_ns, char *err, size_t errlen) {
    *host_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (*host_ns < 0) return fail(err, errlen, "open host mount namespace");
    if (unshare(CLONE_NEWNS) < 0) return fail(err, errlen, "unshare mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return fail(err, errlen, "make mounts private");
    if (mount_root(s, err, errlen) < 0) return -1;
    if (chdir(s->rootfs) < 0) return fail(err, errlen, "chdir root");
    if (s->root_only) return 0;
    act_as(s->uid_base);
    int r = mkdir("proc", 0555);
    if (r == 0 || errno == EEXIST) r = mkdir("tmp", 01777);
    if (r == 0 || errno == EEXIST) r = mkdir("workspace", 0755);
    act_as(0);
    if (r < 0 && errno != EEXIST) return fail(err, errlen, "create /proc, /tmp, /workspace");
    if (setup_dev(s, err, errlen) < 0) return -1;
    if (s->init_path && bind_init(s, err, errlen) < 0) return -1;
    return bind_host_dirs(s, err, errlen);
}
