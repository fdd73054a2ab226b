/*
 * `mitos-guest --send-fd LINE`: write LINE (a QMP `getfd` command) to fd 3 with fd 4 attached
 * as SCM_RIGHTS, then exit. The host engine is Node, which cannot send file descriptors, and
 * QEMU 7.2 takes an outgoing `fd:` migration channel only from `getfd`; the engine runs this
 * on the host with fd 3 = its QMP socket and fd 4 = a fresh socketpair end it reads from.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "guest-fdpass.h"

int send_fd_main(const char *line) {
    char text[4096];
    int n = snprintf(text, sizeof text, "%s\n", line);
    if (n <= 0 || (size_t)n >= sizeof text) return 2;
    struct iovec iov = {text, (size_t)n};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int fd = 4;
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    for (;;) {
        ssize_t w = sendmsg(3, &msg, MSG_NOSIGNAL);
        if (w == n) return 0;
        if (w < 0 && errno == EINTR) continue;
        perror("mitos-guest: sendmsg");
        return 1;
    }
}
