/*
 * `mitos-agent launch --slot SOCKET --slot-owner PID ...`: a fork slot, a sandbox's child
 * launched ahead of the fork that will use it (engine drivers/linux/fork-slots.ts). The
 * launcher clones the child into its fresh namespaces, writes its id maps and joins it to its
 * cgroups, then prints the child's host pid and listens on SOCKET for one connection, from
 * PID (the engine) only. What is still unknown then (the sandbox's id, root, hostname, agent
 * socket, log, binds) arrives on that connection when a fork takes the slot, NUL-separated
 * and ended by an empty argument; the launcher then builds the root as a fresh launch does,
 * gives the child a mount namespace holding it (made in the child's own user namespace, so
 * the kernel locks every mount as it does for a fresh launch's clone), and answers on the
 * connection as `launch` does on stdout: the init's host pid, or why it failed. An end of the
 * connection before that (the engine closed or died) ends the slot: nothing outlives an
 * engine but its sandboxes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "fdpass.h"
#include "launch.h"

#define MAX_GO_BYTES 65536
#define OWNER_WAIT_MS 30000

static int slot_child_main(void *arg) {
    struct launch_opts *o = arg;
    close(o->sync_to_child[1]);
    close(o->sync_to_parent[0]);
    /* In order: the mount namespace holding the root, the root itself (a descriptor in that
     * namespace), the agent's listening socket, then the rest. Nothing means the slot ended. */
    int mnt = recv_fd(o->sync_to_child[0]);
    if (mnt < 0) _exit(0);
    int root = recv_fd(o->sync_to_child[0]);
    o->listen_fd = recv_fd(o->sync_to_child[0]);
    static struct slot_go go;
    if (root < 0 || o->listen_fd < 0 || read_all(o->sync_to_child[0], &go, sizeof go) != 1) _exit(1);
    close(o->sync_to_child[0]);
    go.hostname[sizeof go.hostname - 1] = 0;
    o->hostname = go.hostname;
    o->shm_bytes = go.shm_bytes;
    o->seccomp = go.seccomp;
    o->log_fd = -1;
    /* Needs CAP_SYS_ADMIN over the namespace's owner: ours, since it was made in our user ns. */
    if (setns(mnt, CLONE_NEWNS) < 0) _exit(1);
    close(mnt);
    if (fchdir(root) < 0) _exit(1);
    close(root);
    return enter_sandbox(o);
}

/*
 * A mount namespace that is a copy of ours (the root built in it), owned by the child's user
 * namespace: a helper joins that user namespace and unshares, exactly what the clone of a
 * fresh launch does in one step. The helper hands the child the namespace and its working
 * directory (the root tree) and exits.
 */
static int give_root(struct launch_opts *o, pid_t child) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", child);
    int userns = open(path, O_RDONLY | O_CLOEXEC);
    if (userns < 0) return -1;
    pid_t helper = fork();
    if (helper == 0) {
        if (setns(userns, CLONE_NEWUSER) < 0 || unshare(CLONE_NEWNS) < 0) _exit(1);
        int mnt = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        int root = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (mnt < 0 || root < 0) _exit(1);
        if (send_with_fd(o->sync_to_child[1], "m", 1, mnt) < 0) _exit(1);
        if (send_with_fd(o->sync_to_child[1], "r", 1, root) < 0) _exit(1);
        _exit(0);
    }
    close(userns);
    int status = 0;
    if (helper < 0 || waitpid(helper, &status, 0) != helper) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The root's options, NUL-separated and ended by an empty one; NULL when the connection ended. */
static char *read_go(int conn, int *argc_out, char ***argv_out) {
    char *buf = malloc(MAX_GO_BYTES);
    size_t len = 0;
    while (buf && len < MAX_GO_BYTES) {
        ssize_t n = read(conn, buf + len, MAX_GO_BYTES - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
        if (len >= 2 && buf[len - 1] == 0 && buf[len - 2] == 0) break;
    }
    if (!buf || len < 2 || buf[len - 1] != 0 || buf[len - 2] != 0) return NULL;
    int count = 0;
    for (size_t i = 0; i + 1 < len; i++) count += buf[i] == 0;
    char **argv = calloc((size_t)count + 2, sizeof *argv);
    if (!argv) return NULL;
    argv[0] = "launch";
    int k = 1;
    for (size_t i = 0; i + 1 < len && k <= count; i += strlen(buf + i) + 1) argv[k++] = buf + i;
    *argc_out = k;
    *argv_out = argv;
    return buf;
}

static int end_slot(pid_t child, int code) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return code;
}

int slot_main(struct launch_opts *o, int argc, char **argv) {
    (void)argc, (void)argv;
    if (o->uid_base == 0 || o->slot_owner <= 0 || o->id || o->rootfs) launch_usage();
    if (o->cgroup_prime) prime_cgroup_attach(o->cgroup_prime);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, o->sync_to_child) < 0 ||
        pipe2(o->sync_to_parent, O_CLOEXEC) < 0) {
        perror("mitos-agent: pipe");
        return 1;
    }
    o->log_fd = -1;
    pid_t child = clone_child(o, slot_child_main, 0);
    if (child < 0 || attach_child(o, child) < 0) return 1;
    /* Not before the clone: an ignored signal stays ignored across exec, into the sandbox. An
     * engine gone while we answer must not kill us with the sandbox then unsupervised. */
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (ls < 0 || strlen(o->slot_socket) >= sizeof addr.sun_path) return end_slot(child, 1);
    strcpy(addr.sun_path, o->slot_socket);
    unlink(o->slot_socket);
    mode_t old = umask(077);
    int bound = bind(ls, (struct sockaddr *)&addr, sizeof addr);
    umask(old);
    if (bound < 0 || listen(ls, 4) < 0) {
        perror("mitos-agent: slot socket");
        return end_slot(child, 1);
    }
    printf("%d\n", child);
    fflush(stdout);
    int conn = -1;
    for (;;) {
        /* The engine connects as soon as it reads the pid: one that died first never will. */
        struct pollfd p = {.fd = ls, .events = POLLIN};
        int ready = poll(&p, 1, OWNER_WAIT_MS);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return end_slot(child, 1);
        conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0 && errno == EINTR) continue;
        if (conn < 0) return end_slot(child, 1);
        struct ucred cred;
        socklen_t cl = sizeof cred;
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cred.uid == 0 && cred.pid == o->slot_owner)
            break;
        close(conn); /* only the engine that made the slot may take it */
    }
    /* The socket file goes at once: no one else can come. */
    unlink(o->slot_socket);
    close(ls);
    /* From here the engine hears everything on the connection, as `launch` speaks on stdio. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(conn, 1) < 0 || dup2(conn, 2) < 0) return end_slot(child, 1);
    close(devnull);
    int go_argc = 0;
    char **go_argv = NULL;
    if (!read_go(conn, &go_argc, &go_argv)) return end_slot(child, 0);
    close(conn);
    parse_launch_opts(o, go_argc, go_argv);
    if (!o->id || !o->socket_path || !o->rootfs || !o->init_path || optind < go_argc ||
        (o->ov_lower != NULL) != (o->ov_upper != NULL) || (o->ov_lower != NULL) != (o->ov_work != NULL)) {
        fprintf(stderr, "mitos-agent: slot: bad root options\n");
        return end_slot(child, 2);
    }
    if (!o->hostname) o->hostname = o->id;
    if (o->disk_base == 0) o->disk_base = o->uid_base;
    o->log_fd = o->log_path ? open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    struct root_spec root = {.rootfs = o->rootfs, .ov_lower = o->ov_lower, .ov_upper = o->ov_upper,
                             .ov_work = o->ov_work, .uid_base = o->uid_base, .uid_count = o->uid_count,
                             .disk_base = o->disk_base, .binds = o->binds, .n_binds = o->n_binds,
                             .init_path = o->init_path};
    char err[1024];
    int host_ns = -1;
    if (prepare_root(&root, &host_ns, err, sizeof err) < 0) {
        fprintf(stderr, "mitos-agent: sandbox setup failed: %s\n", err);
        return end_slot(child, 1);
    }
    if (give_root(o, child) < 0) {
        fprintf(stderr, "mitos-agent: sandbox setup failed: give the child its root: %s\n", strerror(errno));
        return end_slot(child, 1);
    }
    return start_child(o, child, host_ns, 1);
}
