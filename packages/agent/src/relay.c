/*
 * Connections into the sandbox's own network namespace and filesystem: the host asks the agent
 * to connect to 127.0.0.1:PORT (port forwards, previews) or to a unix socket path (the code
 * kernel), then the worker relays bytes both ways until both directions have closed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"

static void relay(int a, int b) {
    char buf[DATA_CHUNK];
    int a_open = 1, b_open = 1;
    while (a_open || b_open) {
        struct pollfd p[2] = {{a, a_open ? POLLIN : 0, 0}, {b, b_open ? POLLIN : 0, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (!p[i].revents) continue;
            int from = i == 0 ? a : b, to = i == 0 ? b : a;
            ssize_t n = read(from, buf, sizeof buf);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                /* Half-close: the other side may still be sending. */
                shutdown(to, SHUT_WR);
                if (i == 0) a_open = 0;
                else b_open = 0;
                continue;
            }
            if (write_all(to, buf, (size_t)n) < 0) return;
        }
    }
}

void handle_connect_tcp(int conn, struct frame *req) {
    int port = atoi(req->data);
    if (port < 1 || port > 65535) {
        frame_fail(conn, EINVAL, "port");
        return;
    }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        frame_fail(conn, errno, "connect");
        return;
    }
    frame_send(conn, OUT_OK, "", 0);
    relay(conn, s);
    close(s);
}

void handle_connect_unix(int conn, struct frame *req) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (req->len == 0 || req->len >= sizeof addr.sun_path) {
        frame_fail(conn, ENAMETOOLONG, "socket path");
        return;
    }
    memcpy(addr.sun_path, req->data, req->len);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        frame_fail(conn, errno, "connect");
        return;
    }
    frame_send(conn, OUT_OK, "", 0);
    relay(conn, s);
    close(s);
}
