/*
 * `mitos-guest --send-fd LINE`: write LINE (a QMP `getfd` command) to fd 3 with fd 4 attached
 * as SCM_RIGHTS, then exit. The host engine is Node, which cannot send file descriptors, and
 * QEMU 7.2 takes an outgoing `fd:` migration channel only from `getfd`; the engine runs this
 * on the host with fd 3 = its QMP socket and fd 4 = a fresh socketpair end it reads from.
 */
#include <stdio.h>
#include <string.h>

#include "fdpass.h"
#include "guest-fdpass.h"

int send_fd_main(const char *line) {
    char text[4096];
    int n = snprintf(text, sizeof text, "%s\n", line);
    if (n <= 0 || (size_t)n >= sizeof text) return 2;
    if (send_with_fd(3, text, (size_t)n, 4) == 0) return 0;
    perror("mitos-guest: sendmsg");
    return 1;
}
