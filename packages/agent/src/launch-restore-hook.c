/*
 * The program CRIU runs as its action script during a carried fork's restore
 * (`mitos-agent` with CRTOOLS_SCRIPT_ACTION set; engine/src/checkpoint/restore.ts).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "launch.h"

/*
 * CRIU's action script (`--action-script` names this program): at "setup-namespaces", once the
 * restored tree's namespaces exist and before any socket is restored, loopback comes up in its
 * network namespace. The checkpoint holds no network configuration (--empty-ns net), and a
 * connection on loopback (a client of a local server) is restored by connecting it again in
 * repair mode, which needs a route to 127.0.0.1. Every other step is nothing to do. Run by CRIU
 * as host root; anyone else cannot enter another sandbox's network namespace.
 */
int restore_hook_main(void) {
    const char *action = getenv(RESTORE_HOOK_ENV);
    const char *init = getenv("CRTOOLS_INIT_PID");
    if (!action || strcmp(action, "setup-namespaces") != 0) return 0;
    char path[64];
    char *end = NULL;
    long pid = init ? strtol(init, &end, 10) : 0;
    if (pid <= 1 || !end || *end) {
        fprintf(stderr, "mitos-agent: restore hook: no init pid\n");
        return 1;
    }
    snprintf(path, sizeof path, "/proc/%ld/ns/net", pid);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
        fprintf(stderr, "mitos-agent: restore hook: enter %s: %s\n", path, strerror(errno));
        return 1;
    }
    close(ns);
    loopback_up();
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || !(ifr.ifr_flags & IFF_UP)) {
        fprintf(stderr, "mitos-agent: restore hook: loopback is not up: %s\n", strerror(errno));
        return 1;
    }
    close(s);
    return 0;
}

