#ifndef MITOS_FDPASS_H
#define MITOS_FDPASS_H
#include <stddef.h>

/* Send len bytes on a unix socket with fd attached (SCM_RIGHTS) in one message: 0, or -1 with
 * errno. */
int send_with_fd(int sock, const void *data, size_t len, int fd);

/* Receive one byte and the descriptor attached to it (close-on-exec): the fd, or -1. */
int recv_fd(int sock);
#endif
