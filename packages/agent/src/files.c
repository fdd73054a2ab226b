/*
 * File operations. They run inside the sandbox after pivot_root, as the sandbox's root (an
 * unprivileged host uid), so every path, `..` and symlink resolves within the sandbox's own
 * root: there is no host file to reach.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

static int path_ok(int conn, const char *path) {
    if (path[0] != '/') {
        frame_fail(conn, EINVAL, "path must be absolute");
        return 0;
    }
    return 1;
}

void handle_read(int conn, struct frame *req) {
    const char *path = req->data;
    if (!path_ok(conn, path)) return;
    /* O_NONBLOCK so a FIFO cannot hang the worker; regular files ignore it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        frame_fail(conn, errno, "open");
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        frame_fail(conn, errno, "stat");
        close(fd);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        frame_fail(conn, EISDIR, "read");
        close(fd);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        frame_fail(conn, EINVAL, "not a regular file");
        close(fd);
        return;
    }
    char *buf = malloc(DATA_CHUNK);
    long long total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, DATA_CHUNK);
        if (n < 0) {
            if (errno == EINTR) continue;
            frame_fail(conn, errno, "read");
            free(buf);
            close(fd);
            return;
        }
        if (n == 0) break;
        if (frame_send(conn, OUT_DATA, buf, (size_t)n) < 0) break;
        total += n;
    }
    free(buf);
    close(fd);
    frame_sendf(conn, OUT_OK, "%lld", total);
}

/*
 * Refuse a write before its data arrived: the host is still sending the data frames, so read
 * them to the end first. Answering at once and closing made the host's next send fail with
 * EPIPE, and the reason (say, a relative path) was lost behind "connection failed".
 */
static void write_refused(int conn, int err, const char *what) {
    for (;;) {
        struct frame f;
        if (frame_recv(conn, &f) <= 0) break;
        free(f.data);
        if (f.type != IN_DATA) break;
    }
    frame_fail(conn, err, what);
}

void handle_write(int conn, struct frame *req) {
    /* payload: mode (octal text), path */
    char *f[2];
    if (split_fields(req->data, req->len, f, 2) < 2) {
        write_refused(conn, EINVAL, "malformed write request");
        return;
    }
    mode_t mode = (mode_t)strtoul(f[0], NULL, 8) & 07777;
    if (mode == 0) mode = 0644;
    const char *path = f[1];
    if (path[0] != '/') {
        write_refused(conn, EINVAL, "path must be absolute");
        return;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        write_refused(conn, EISDIR, "write");
        return;
    }
    char dir[4096], tmp[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *d = dirname(dir);
    if (mkdir_p(d, 0755) < 0) {
        write_refused(conn, errno, "create parent directories");
        return;
    }
    /* Write beside the target and rename: a reader never sees a half-written file. */
    char rnd[8];
    getrandom(rnd, sizeof rnd, 0);
    snprintf(tmp, sizeof tmp, "%s/.mitos-write-%02x%02x%02x%02x%02x%02x", strcmp(d, "/") == 0 ? "" : d,
             rnd[0] & 0xff, rnd[1] & 0xff, rnd[2] & 0xff, rnd[3] & 0xff, rnd[4] & 0xff, rnd[5] & 0xff);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        write_refused(conn, errno, "create");
        return;
    }
    int failed = 0;
    for (;;) {
        struct frame f2;
        int r = frame_recv(conn, &f2);
        if (r <= 0) {
            failed = EPIPE;
            break;
        }
        if (f2.type == IN_DATA) {
            if (!failed && write_all(fd, f2.data, f2.len) < 0) failed = errno;
            free(f2.data);
            continue;
        }
        free(f2.data);
        if (f2.type == IN_END) break;
        failed = EPROTO;
        break;
    }
    if (!failed && fchmod(fd, mode) < 0) failed = errno;
    if (close(fd) < 0 && !failed) failed = errno;
    if (!failed && rename(tmp, path) < 0) failed = errno;
    if (failed) {
        unlink(tmp);
        frame_fail(conn, failed, "write");
        return;
    }
    frame_send(conn, OUT_OK, "", 0);
}

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "dir";
    if (S_ISREG(m)) return "file";
    if (S_ISLNK(m)) return "symlink";
    return "other";
}

static void send_entry(int conn, const char *name, struct stat *st) {
    frame_sendf(conn, OUT_ENTRY, "%s%c%o%c%lld%c%lld%c%s", kind_of(st->st_mode), 0, (unsigned)(st->st_mode & 07777), 0,
                (long long)st->st_size, 0, (long long)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000, 0, name);
}

void handle_list(int conn, struct frame *req, int stat_only) {
    const char *path = req->data;
    if (!path_ok(conn, path)) return;
    struct stat st;
    if (stat(path, &st) < 0) {
        frame_fail(conn, errno, "stat");
        return;
    }
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    if (stat_only || !S_ISDIR(st.st_mode)) {
        send_entry(conn, basename(copy), &st);
        frame_send(conn, OUT_OK, "", 0);
        return;
    }
    DIR *dir = opendir(path);
    if (!dir) {
        frame_fail(conn, errno, "opendir");
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat est;
        if (fstatat(dirfd(dir), e->d_name, &est, AT_SYMLINK_NOFOLLOW) < 0) continue;
        send_entry(conn, e->d_name, &est);
    }
    closedir(dir);
    frame_send(conn, OUT_OK, "", 0);
}

void handle_mkdir(int conn, struct frame *req) {
    if (!path_ok(conn, req->data)) return;
    if (mkdir_p(req->data, 0755) < 0) {
        frame_fail(conn, errno, "mkdir");
        return;
    }
    frame_send(conn, OUT_OK, "", 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    int r = (flag == FTW_DP) ? rmdir(path) : unlink(path);
    return r < 0 && errno != ENOENT ? -1 : 0;
}

void handle_remove(int conn, struct frame *req) {
    const char *path = req->data;
    if (!path_ok(conn, path)) return;
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT) frame_send(conn, OUT_OK, "", 0);
        else frame_fail(conn, errno, "stat");
        return;
    }
    int r = S_ISDIR(st.st_mode) ? nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) : unlink(path);
    if (r < 0) {
        frame_fail(conn, errno, "remove");
        return;
    }
    frame_send(conn, OUT_OK, "", 0);
}

/* A fresh identity after a fork or a pool hand-out: new hostname, and fresh bytes mixed into
 * the entropy pool so sibling sandboxes never share a random stream. payload: hostname, seed
 * bytes. Returns 0, or an errno with *what naming the step that failed. */
int identity_apply(struct frame *req, const char **what) {
    char *f[2];
    if (split_fields(req->data, req->len, f, 2) < 1) {
        *what = "malformed identity request";
        return EINVAL;
    }
    if (f[0][0] && sethostname(f[0], strlen(f[0])) < 0) {
        *what = "sethostname";
        return errno;
    }
    int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        size_t hlen = strlen(f[0]) + 1;
        if (req->len > hlen) write_all(fd, req->data + hlen, req->len - hlen);
        close(fd);
    }
    return 0;
}

void handle_identity(int conn, struct frame *req) {
    const char *what = "";
    int err = identity_apply(req, &what);
    if (err) frame_fail(conn, err, what);
    else frame_send(conn, OUT_OK, "", 0);
}
