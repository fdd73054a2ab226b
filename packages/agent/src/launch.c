/*
 * `mitos-agent launch`: run as host root by the engine. Clones the sandbox init into fresh
 * user, pid, mount, uts, ipc and network namespaces, maps sandbox root to the sandbox's own
 * host uid range, joins the sandbox's cgroups, builds its root in a private mount namespace
 * first (launch-root.c: btrfs snapshot, idmapped when its on-disk ids differ from the range, or
 * an overlay; the host's own mount table never sees either), pivot_roots into it, installs
 * the seccomp filter (launch-seccomp.c), and execs the agent as the sandbox's pid 1 from a
 * path inside the sandbox (INIT_IN_SANDBOX), holding nothing from outside but its agent
 * socket, so the sandbox's whole process tree can be checkpointed (pid 1 then hands the socket
 * to the agent it forks and only reaps, launch-init.c). The launcher prints the init's
 * host pid once the agent is serving, then stays as its supervisor (reaping it); the sandbox
 * does not depend on the server that launched it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "fdpass.h"
#include "launch.h"




static void child_fail(struct launch_opts *o, const char *what) {
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s: %s\n", what, strerror(errno));
    if (n > 0) write_all(o->sync_to_parent[1], buf, (size_t)n);
    _exit(1);
}

static int child_main(void *arg) {
    struct launch_opts *o = arg;
    close(o->sync_to_child[1]);
    close(o->sync_to_parent[0]);
    /* "Go" comes with the agent's listening socket, made in our network namespace. */
    o->listen_fd = recv_fd(o->sync_to_child[0]);
    if (o->listen_fd < 0) _exit(1);
    close(o->sync_to_child[0]);
    return enter_sandbox(o);
}

/* From "go" on: the working directory is the root tree the launcher built, in our own mount
 * namespace (cloned with it, or entered by a slot's child). */
int enter_sandbox(struct launch_opts *o) {
    if (setgroups(0, NULL) < 0) child_fail(o, "setgroups");
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) child_fail(o, "become sandbox root");
    /* The uid change leaves the init non-dumpable with its memory in the host's user namespace;
     * the exec below keeps it so (see bind_init), and the agent pid 1 forks inherits that, so no
     * sandbox process may ptrace the agent or open its /proc files. pid 1 itself turns
     * dumpable only once it holds nothing (init_main). */
    /* Joined the sandbox cgroups already (parent did it), so the namespace roots there. */
    if (unshare(CLONE_NEWCGROUP) < 0) child_fail(o, "unshare cgroup namespace");
    if (setsid() < 0) child_fail(o, "setsid");
    hide_command_line("mitos-init");
    if (sethostname(o->hostname, strlen(o->hostname)) < 0) child_fail(o, "sethostname");

    /* The launcher built the tree at our working directory; it is locked here. A clone of
     * it is a fresh mount this namespace owns, which pivot_root accepts. */
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, ".", OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
    if (tree < 0) child_fail(o, "clone root tree");
    if (syscall(SYS_move_mount, tree, "", AT_FDCWD, ".", MOVE_MOUNT_F_EMPTY_PATH) < 0) child_fail(o, "attach root tree");
    if (fchdir(tree) < 0) child_fail(o, "enter root tree");
    close(tree);
    if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) child_fail(o, "mount /proc");
    if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
        child_fail(o, "mount devpts");
    char shm_opts[64];
    snprintf(shm_opts, sizeof shm_opts, "mode=1777,size=%llu", o->shm_bytes);
    if (mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, shm_opts) < 0) child_fail(o, "mount /dev/shm");
    /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only
     * the template visible. Never chroot: a chroot is escapable by its own root. */
    if (syscall(SYS_pivot_root, ".", ".") < 0) child_fail(o, "pivot_root");
    if (umount2(".", MNT_DETACH) < 0) child_fail(o, "detach old root");
    if (chdir("/") < 0) child_fail(o, "chdir /");
    loopback_up();

    /* The init holds nothing from outside the sandbox: stdio is the sandbox's own /dev/null
     * (it writes no log; the supervisor does), and every host descriptor the launcher opened
     * (the log, the host's mount namespace) is close-on-exec. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
        child_fail(o, "stdio on /dev/null");
    close(devnull);
    if (o->log_fd >= 0) close(o->log_fd);
    if (dup2(o->listen_fd, INIT_LISTEN_FD) < 0) child_fail(o, "agent socket descriptor");
    if (o->listen_fd != INIT_LISTEN_FD) close(o->listen_fd);
    else if (fcntl(INIT_LISTEN_FD, F_SETFD, 0) < 0) child_fail(o, "agent socket descriptor");

    if (o->seccomp && install_seccomp_filter() < 0) child_fail(o, "install seccomp filter");
    /* pid 1 runs a program inside the sandbox's own mount namespace, so the whole tree is one
     * a checkpoint can dump and a restore can rebuild. The sync pipe is close-on-exec: the
     * launcher reads "ok" only once the exec has happened (EOF with nothing means it failed). */
    char *init_argv[] = {INIT_ARGV0, NULL};
    char *init_env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    execve(INIT_IN_SANDBOX, init_argv, init_env);
    child_fail(o, "exec " INIT_IN_SANDBOX);
    return 1;
}


/* The sandbox's tree restored from a checkpoint (launch-restore.c) instead of a fresh init. */
static int launch_restored(struct launch_opts *o, char *const *criu_argv, int host_ns) {
    struct restore_spec *r = &o->restore;
    r->criu_argv = criu_argv, r->cgroup_procs = o->cgroup_procs, r->n_cgroups = o->n_cgroups, r->ext = o->restore_ext;
    r->uid_base = o->uid_base, r->init_path = o->init_path, r->socket_path = o->socket_path;
    r->hostname = o->hostname, r->seccomp = o->seccomp;
    char err[1024];
    pid_t agent = 0;
    pid_t pid = restore_tree(r, &agent, err, sizeof err);
    if (pid < 0) {
        fprintf(stderr, "mitos-agent: restore failed: %s\n", err);
        return 1;
    }
    return serve_as_supervisor(pid, agent, host_ns, o->log_fd, o->socket_path);
}

void launch_usage(void) {
    fprintf(stderr,
            "usage: mitos-agent launch --id ID --hostname NAME --socket PATH --init FILE --uid-base N [--uid-count N]\n"
            "         (--rootfs DIR | --rootfs DIR --overlay-lower L --overlay-upper U --overlay-work W)\n"
            "         [--cgroup-procs FILE]... [--bind-ro HOSTDIR:SANDBOXDIR]... [--log FILE] [--shm-bytes N]\n"
            "         [--disk-base N] [--no-seccomp] [--cgroup-prime FILE] [--restore-pidfile FILE --restore-images DIR --restore-ext-root DIR [--restore-ext KEY:HOSTPATH]... -- CRIU-RESTORE-COMMAND...]\n"
            "       mitos-agent launch --slot SOCKET --slot-owner PID --uid-base N [--uid-count N] [--cgroup-procs FILE]... [--cgroup-prime FILE]\n"
            "         (then the root's options on SOCKET, from PID only; launch-slot.c)\n");
    exit(2);
}

/*
 * Whatever started the server may have left descriptors without close-on-exec (a shell's pipe,
 * a service manager's socket), and Node hands those on to every child it spawns: without this
 * the sandbox init, its supervisor and every sandboxed command would hold them. Only stdio is
 * the launcher's; everything it needs later it opens itself.
 */
static int close_inherited_fds(void) {
    return (int)syscall(SYS_close_range, 3U, ~0U, 0U);
}

void parse_launch_opts(struct launch_opts *o, int argc, char **argv) {
    static struct option longopts[] = {
        {"id", required_argument, 0, 'i'},        {"hostname", required_argument, 0, 'h'},
        {"socket", required_argument, 0, 's'},    {"rootfs", required_argument, 0, 'r'},
        {"overlay-lower", required_argument, 0, 'L'}, {"overlay-upper", required_argument, 0, 'U'},
        {"overlay-work", required_argument, 0, 'W'}, {"uid-base", required_argument, 0, 'u'},
        {"uid-count", required_argument, 0, 'n'}, {"cgroup-procs", required_argument, 0, 'c'},
        {"log", required_argument, 0, 'l'},       {"bind-ro", required_argument, 0, 'b'},
        {"shm-bytes", required_argument, 0, 'm'}, {"disk-base", required_argument, 0, 'd'},
        {"no-seccomp", no_argument, 0, 'S'},     {"init", required_argument, 0, 'I'},
        {"restore-pidfile", required_argument, 0, 'R'}, {"restore-images", required_argument, 0, 'D'},
        {"restore-ext-root", required_argument, 0, 'E'}, {"restore-ext", required_argument, 0, 'X'},
        {"cgroup-prime", required_argument, 0, 'P'}, {"slot", required_argument, 0, 'T'},
        {"slot-owner", required_argument, 0, 'O'},   {0, 0, 0, 0}};
    int c;
    optind = 0; /* a full restart: a slot parses twice */
    /* Every string is copied: the argv area is blanked later (hide_command_line). */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (optarg) optarg = strdup(optarg);
        switch (c) {
        case 'i': o->id = optarg; break;
        case 'h': o->hostname = optarg; break;
        case 's': o->socket_path = optarg; break;
        case 'r': o->rootfs = optarg; break;
        case 'L': o->ov_lower = optarg; break;
        case 'U': o->ov_upper = optarg; break;
        case 'W': o->ov_work = optarg; break;
        case 'u': o->uid_base = strtoul(optarg, NULL, 10); break;
        case 'n': o->uid_count = strtoul(optarg, NULL, 10); break;
        case 'c':
            if (o->n_cgroups >= MAX_CGROUPS) launch_usage();
            o->cgroup_procs[o->n_cgroups++] = optarg;
            break;
        case 'l': o->log_path = optarg; break;
        case 'm': o->shm_bytes = strtoull(optarg, NULL, 10); break;
        case 'd': o->disk_base = strtoul(optarg, NULL, 10); break;
        case 'S': o->seccomp = 0; break;
        case 'I': o->init_path = optarg; break;
        case 'P': o->cgroup_prime = optarg; break;
        case 'T': o->slot_socket = optarg; break;
        case 'O': o->slot_owner = (pid_t)strtol(optarg, NULL, 10); break;
        case 'R': o->restore.pidfile = optarg; break;
        case 'D': o->restore.images_dir = optarg; break;
        case 'E': o->restore.ext_root = optarg; break;
        case 'X':
            if (o->restore.n_ext >= MAX_BINDS) launch_usage();
            o->restore_ext[o->restore.n_ext++] = optarg;
            break;
        case 'b':
            if (o->n_binds >= MAX_BINDS) launch_usage();
            o->binds[o->n_binds++] = optarg;
            break;
        default: launch_usage();
        }
    }
}

/*
 * Clone the sandbox's child into fresh user, pid, uts, ipc and network namespaces (plus
 * `extra`), as the sandbox's own host uid: the kernel charges per-user counters (inotify
 * instances, keys, user namespaces, processes) to the namespace's creator, so each sandbox gets
 * its own pool instead of sharing root's. The saved uid stays 0, so root comes back right after.
 */
pid_t clone_child(struct launch_opts *o, int (*fn)(void *), int extra) {
    size_t stack_size = 256 * 1024;
    char *stack = malloc(stack_size);
    if (!stack) return -1;
    int flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD | extra;
    if (setegid((gid_t)o->uid_base) < 0 || seteuid((uid_t)o->uid_base) < 0) {
        perror("mitos-agent: become sandbox uid");
        return -1;
    }
    pid_t pid = clone(fn, stack + stack_size, flags, o);
    int clone_errno = errno;
    if (seteuid(0) < 0 || setegid(0) < 0) {
        perror("mitos-agent: regain root");
        if (pid > 0) kill(pid, SIGKILL);
        return -1;
    }
    if (pid < 0) {
        fprintf(stderr, "mitos-agent: clone: %s\n", strerror(clone_errno));
        return -1;
    }
    close(o->sync_to_child[0]);
    close(o->sync_to_parent[1]);
    return pid;
}

/* The child's id maps, and the child in the sandbox's cgroups; on failure it is killed. */
int attach_child(struct launch_opts *o, pid_t pid) {
    char path[128], map[128];
    snprintf(map, sizeof map, "0 %lu %lu\n", o->uid_base, o->uid_count);
    snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
    int ok = write_text(path, map) == 0;
    snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
    ok = ok && write_text(path, map) == 0;
    if (!ok) fprintf(stderr, "mitos-agent: write id maps: %s\n", strerror(errno));
    char pidtext[32];
    snprintf(pidtext, sizeof pidtext, "%d\n", pid);
    for (int i = 0; ok && i < o->n_cgroups; i++) {
        if (write_text(o->cgroup_procs[i], pidtext) < 0) {
            fprintf(stderr, "mitos-agent: join cgroup %s: %s\n", o->cgroup_procs[i], strerror(errno));
            ok = 0;
        }
    }
    if (ok) return 0;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* "Go" with the agent's listening socket (and, for a slot's child, what it learns then); the
 * launcher waits for the init's exec, then supervises it. */
int start_child(struct launch_opts *o, pid_t pid, int host_ns, int slot) {
    int ok = 1;
    o->listen_fd = listener_in_netns(pid, o->socket_path);
    if (o->listen_fd < 0) {
        fprintf(stderr, "mitos-agent: listen on %s: %s\n", o->socket_path, strerror(errno));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return 1;
    }
    if (send_with_fd(o->sync_to_child[1], "g", 1, o->listen_fd) < 0) ok = 0;
    if (ok && slot) {
        struct slot_go go = {.shm_bytes = o->shm_bytes, .seccomp = o->seccomp};
        snprintf(go.hostname, sizeof go.hostname, "%s", o->hostname);
        if (write_all(o->sync_to_child[1], &go, sizeof go) < 0) ok = 0;
    }
    close(o->sync_to_child[1]);
    close(o->listen_fd);

    char reply[1024];
    ssize_t n = 0, r;
    while ((size_t)n < sizeof reply - 1 && (r = read(o->sync_to_parent[0], reply + n, sizeof reply - 1 - (size_t)n)) > 0) {
        n += r;
        if (memchr(reply, '\n', (size_t)n)) break;
    }
    close(o->sync_to_parent[0]);
    reply[n > 0 ? n : 0] = 0;
    /* Nothing before EOF: the exec closed the pipe. A dead init says why in its exit status. */
    int status = 0;
    if (n == 0 && waitpid(pid, &status, WNOHANG) == pid)
        snprintf(reply, sizeof reply, "init exited (%s %d)\n", WIFEXITED(status) ? "status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    else if (n == 0) strcpy(reply, ok ? "ok\n" : "go not delivered\n");
    if (strcmp(reply, "ok\n") != 0) {
        fprintf(stderr, "mitos-agent: sandbox setup failed: %s", reply);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        unlink(o->socket_path);
        return 1;
    }
    /* The sandbox holds its own copy of the tree now. */
    return serve_as_supervisor(pid, 0, host_ns, o->log_fd, o->socket_path);
}

int launch_main(int argc, char **argv) {
    /* close_range is 5.9; the launcher needs 5.12 anyway (mount_setattr). */
    if (close_inherited_fds() < 0) {
        perror("mitos-agent: close inherited descriptors");
        return 1;
    }
    struct launch_opts o;
    memset(&o, 0, sizeof o);
    o.uid_count = 65536;
    o.shm_bytes = 256ULL << 20;
    o.seccomp = 1;
    parse_launch_opts(&o, argc, argv);
    if (o.slot_socket) return slot_main(&o, argc, argv);
    if (!o.id || !o.socket_path || !o.rootfs || !o.init_path || o.uid_base == 0) launch_usage();
    if ((o.restore.pidfile != NULL) != (optind < argc)) launch_usage();
    if (o.restore.pidfile && (!o.restore.images_dir || !o.restore.ext_root)) launch_usage();
    if ((o.ov_lower != NULL) != (o.ov_upper != NULL) || (o.ov_lower != NULL) != (o.ov_work != NULL)) launch_usage();
    if (!o.hostname) o.hostname = o.id;
    if (o.disk_base == 0) o.disk_base = o.uid_base;

    /* Before anything is opened: the child must hold none of the launch's pipes. */
    if (o.cgroup_prime && !o.restore.pidfile) prime_cgroup_attach(o.cgroup_prime);
    /* Errors of the launch itself go to our stderr (the engine reads them); the running
     * sandbox's init and supervisor log to this file instead. */
    o.log_fd = o.log_path ? open(o.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, o.sync_to_child) < 0 ||
        pipe2(o.sync_to_parent, O_CLOEXEC) < 0) {
        perror("mitos-agent: pipe");
        return 1;
    }
    struct root_spec root = {.rootfs = o.rootfs, .ov_lower = o.ov_lower, .ov_upper = o.ov_upper, .ov_work = o.ov_work,
                             .uid_base = o.uid_base, .uid_count = o.uid_count, .disk_base = o.disk_base,
                             .binds = o.binds, .n_binds = o.n_binds, .init_path = o.init_path,
                             .root_only = o.restore.pidfile != NULL};
    char err[1024];
    int host_ns = -1;
    if (prepare_root(&root, &host_ns, err, sizeof err) < 0) {
        fprintf(stderr, "mitos-agent: sandbox setup failed: %s\n", err);
        return 1;
    }
    if (o.restore.pidfile) return launch_restored(&o, argv + optind, host_ns);
    pid_t pid = clone_child(&o, child_main, CLONE_NEWNS);
    if (pid < 0 || attach_child(&o, pid) < 0) return 1;
    return start_child(&o, pid, host_ns, 0);
}
