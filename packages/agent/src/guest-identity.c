/*
 * A VM restored from a snapshot wakes up as an exact copy: same hostname, same random pool,
 * and the wall clock of the moment the snapshot was taken. The host fixes all three (and
 * hands over a per-sandbox token) in the resume message, before any operation is served.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "guest-mux.h"

int guest_identity_enabled = 1;

void guest_set_realtime(long long unix_ns) {
    if (!guest_identity_enabled || unix_ns <= 0) return;
    struct timespec ts = {.tv_sec = unix_ns / 1000000000LL, .tv_nsec = unix_ns % 1000000000LL};
    if (clock_settime(CLOCK_REALTIME, &ts) < 0) perror("mitos-guest: clock_settime");
}

void guest_set_hostname(const char *name) {
    if (!guest_identity_enabled) return;
    if (sethostname(name, strlen(name)) < 0) perror("mitos-guest: sethostname");
}

void guest_write_token(const char *token) {
    if (!guest_identity_enabled) return;
    mkdir_p("/run/mitos", 0755);
    const char *tmp = "/run/mitos/.token.tmp";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        perror("mitos-guest: token");
        return;
    }
    write_all(fd, token, strlen(token));
    close(fd);
    rename(tmp, "/run/mitos/token");
}

#define SANDBOX_CGROUP "/sys/fs/cgroup/sandbox"

static void write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_all(fd, text, strlen(text)) < 0) fprintf(stderr, "mitos-guest: %s: %s\n", path, strerror(errno));
    if (fd >= 0) close(fd);
}

void guest_join_sandbox_cgroup(void) {
    if (!guest_identity_enabled) return;
    write_text(SANDBOX_CGROUP "/cgroup.procs", "0");
}

void guest_set_pids_max(const char *value) {
    if (!guest_identity_enabled) return;
    write_text(SANDBOX_CGROUP "/pids.max", value);
}

void guest_reseed(const void *seed, size_t len) {
    if (!guest_identity_enabled) return;
    int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        perror("mitos-guest: /dev/urandom");
        return;
    }
    if (len > 512) len = 512;
    struct {
        struct rand_pool_info info;
        unsigned char bytes[512];
    } req;
    req.info.entropy_count = (int)(len * 8);
    req.info.buf_size = (int)len;
    memcpy(req.bytes, seed, len);
    /* Credited entropy from the host's CSPRNG; a plain write would mix without crediting. */
    if (ioctl(fd, RNDADDENTROPY, &req.info) < 0) write_all(fd, seed, len);
    /* Without this the CRNG keeps its snapshot state until its next scheduled reseed. */
    if (ioctl(fd, RNDRESEEDCRNG) < 0) perror("mitos-guest: RNDRESEEDCRNG");
    close(fd);
}
