#include "frame.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int read_all(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) return p == (char *)buf ? 0 : -1;
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

int frame_send(int fd, uint8_t type, const void *payload, size_t len) {
    unsigned char hdr[5];
    uint32_t total = (uint32_t)len + 1;
    hdr[0] = total & 0xff;
    hdr[1] = (total >> 8) & 0xff;
    hdr[2] = (total >> 16) & 0xff;
    hdr[3] = (total >> 24) & 0xff;
    hdr[4] = type;
    /* One writev so a small frame is one segment: the host reads it in one event. */
    struct iovec iov[2] = {{hdr, 5}, {(void *)payload, len}};
    size_t left = 5 + len;
    int idx = 0;
    while (left > 0) {
        ssize_t n = writev(fd, &iov[idx], 2 - idx);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        left -= (size_t)n;
        while (idx < 2 && (size_t)n >= iov[idx].iov_len) {
            n -= (ssize_t)iov[idx].iov_len;
            idx++;
        }
        if (idx < 2) {
            iov[idx].iov_base = (char *)iov[idx].iov_base + n;
            iov[idx].iov_len -= (size_t)n;
        }
    }
    return 0;
}

int frame_sendf(int fd, uint8_t type, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
    return frame_send(fd, type, buf, (size_t)n);
}

int frame_fail(int fd, int err, const char *what) {
    return frame_sendf(fd, OUT_FAIL, "%d%c%s: %s", err, 0, what, strerror(err));
}

int frame_recv(int fd, struct frame *f) {
    unsigned char hdr[5];
    int r = read_all(fd, hdr, 5);
    if (r <= 0) return r;
    uint32_t total = (uint32_t)hdr[0] | ((uint32_t)hdr[1] << 8) | ((uint32_t)hdr[2] << 16) | ((uint32_t)hdr[3] << 24);
    if (total < 1 || total > FRAME_MAX + 1) {
        errno = EPROTO;
        return -1;
    }
    f->type = hdr[4];
    f->len = total - 1;
    f->data = malloc(f->len + 1);
    if (!f->data) return -1;
    if (f->len > 0 && read_all(fd, f->data, f->len) <= 0) {
        free(f->data);
        f->data = NULL;
        errno = EPROTO;
        return -1;
    }
    f->data[f->len] = 0;
    return 1;
}

int split_fields(char *data, uint32_t len, char **out, int max) {
    int n = 0;
    uint32_t start = 0;
    for (uint32_t i = 0; i < len && n < max; i++) {
        if (data[i] == 0) {
            out[n++] = data + start;
            start = i + 1;
        }
    }
    return n;
}
