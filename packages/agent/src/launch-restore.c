/*
 * `mitos-agent launch --restore-pidfile FILE ... -- CRIU-COMMAND...`: the launcher's side of a
 * fork that carries processes. The child's root is built exactly as for a fresh sandbox
 * (prepare_root: the child's own overlay, idmapped into its range, at a real path of the
 * launcher's private mount namespace), and CRIU restores the parent's checkpoint with that
 * path as its --root. A root that exists only as a detached mount or inside another mount
 * namespace cannot be the source of CRIU's bind of the container root (the kernel refuses a
 * bind whose source is not in the caller's mount namespace with EINVAL), which is where a
 * restore "into the parent's /proc/PID/root" stopped.
 *
 * The launcher becomes a child subreaper before CRIU runs: CRIU's --restore-detached leaves the
 * restored init orphaned, and it must be reparented to this supervisor (the host's pid 1 does
 * not reap on every host), not to the host's init.
 *
 * CRIU leaves the tree stopped (--leave-stopped). Before anything in it runs again, the
 * restored copy of the parent's agent is killed (its memory now belongs to the sandbox's user
 * namespace, so sandbox root could ptrace it) and a fresh agent is exec'd from the init program
 * inside the restored namespaces with a listening socket of the child's own; pid 1 is told its
 * pid (launch-init.c checks the claim), then the tree is continued.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grp.h>

#include "agent.h"
#include "launch.h"

/* The descriptors CRIU finds the stand-in for the parent agent's listening socket and the
 * images directory on (the engine's CRIU command names them: checkpoint/restore.ts). */
#define RESTORE_INHERIT_FD 3
#define RESTORE_IMAGES_FD 4
/* The key the dump records the sandbox's /dev under (checkpoint/dump.ts). */
#define DEV_EXT_KEY "mitos-dev"
/* Where CRIU run as root keeps its probe of the kernel's features, and only on a tmpfs. */
#define KERNEL_FEATURES_DIR "/run"

/*
 * The host sources of the sandbox's read-only binds (the init program, the kernels) sit in the
 * engine's root-only state directory, and CRIU binds them from inside the restored user
 * namespace, where root's directories cannot be searched. So this launcher's private mount
 * namespace gets a small tmpfs at ext_root (the fork's root-only work directory, searchable
 * here only) holding a bind of each source under its key, which the CRIU command maps the
 * dump's keyed external mounts to. The images are reached through a descriptor opened first.
 */
/*
 * The child's /dev, fresh (DEV_EXT_KEY): the parent's /dev tmpfs holds the bound host device
 * nodes, which a restore in a user namespace cannot make, and nothing else the sandbox needs.
 * The same tree as prepare_root's setup_dev, without the device binds: CRIU binds this tmpfs
 * alone (a clone with locked mounts below it is refused) and then restores each device bind
 * from the host's /dev, /dev/pts and /dev/shm from the images.
 */
static int stage_dev(const struct restore_spec *r, char *err, size_t errlen) {
    char dev[4096], opts[96], path[4200];
    snprintf(dev, sizeof dev, "%s/%s", r->ext_root, DEV_EXT_KEY);
    snprintf(opts, sizeof opts, "mode=755,size=65536k,uid=%lu,gid=%lu", r->uid_base, r->uid_base);
    if (mkdir(dev, 0755) < 0 || mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, opts) < 0) {
        snprintf(err, errlen, "stage /dev: %s", strerror(errno));
        return -1;
    }
    static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    static const char *dirs[] = {"pts", "shm"};
    static const char *links[][2] = {{"pts/ptmx", "ptmx"},
                                     {"/proc/self/fd", "fd"},
                                     {"/proc/self/fd/0", "stdin"},
                                     {"/proc/self/fd/1", "stdout"},
                                     {"/proc/self/fd/2", "stderr"}};
    setfsgid((gid_t)r->uid_base);
    setfsuid((uid_t)r->uid_base);
    int ok = 1;
    for (size_t i = 0; ok && i < sizeof nodes / sizeof nodes[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dev, nodes[i]);
        int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        ok = fd >= 0 && close(fd) == 0;
    }
    for (size_t i = 0; ok && i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dev, dirs[i]);
        ok = mkdir(path, i == 1 ? 01777 : 0755) == 0;
    }
    for (size_t i = 0; ok && i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dev, links[i][1]);
        ok = symlink(links[i][0], path) == 0;
    }
    int saved = errno;
    setfsuid(0);
    setfsgid(0);
    if (!ok) snprintf(err, errlen, "populate the staged /dev: %s", strerror(saved));
    return ok ? 0 : -1;
}

static int stage_external_mounts(const struct restore_spec *r, char *err, size_t errlen) {
    int images = open(r->images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (images < 0 || dup2(images, RESTORE_IMAGES_FD) < 0) {
        snprintf(err, errlen, "open images %s: %s", r->images_dir, strerror(errno));
        return -1;
    }
    if (images != RESTORE_IMAGES_FD) close(images);
    fcntl(RESTORE_IMAGES_FD, F_SETFD, FD_CLOEXEC);
    if (mount("tmpfs", r->ext_root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0711,size=64k") < 0) {
        snprintf(err, errlen, "mount tmpfs at %s: %s", r->ext_root, strerror(errno));
        return -1;
    }
    if (stage_dev(r, err, errlen) < 0) return -1;
    for (int i = 0; i < r->n_ext; i++) {
        const char *sep = strchr(r->ext[i], ':');
        char target[4096];
        struct stat st;
        if (!sep || (size_t)snprintf(target, sizeof target, "%s/%.*s", r->ext_root, (int)(sep - r->ext[i]), r->ext[i]) >= sizeof target ||
            stat(sep + 1, &st) < 0) {
            snprintf(err, errlen, "external mount %s: %s", r->ext[i], strerror(errno ? errno : EINVAL));
            return -1;
        }
        int made = S_ISDIR(st.st_mode) ? mkdir(target, 0755) : close(open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        if (made < 0 || mount(sep + 1, target, NULL, MS_BIND | MS_REC, NULL) < 0) {
            snprintf(err, errlen, "stage %s: %s", r->ext[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

static pid_t read_pidfile(const char *path) {
    char buf[32] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    long pid = strtol(buf, NULL, 10);
    return pid > 1 ? (pid_t)pid : -1;
}

static int read_small(const char *path, char *buf, size_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return 0;
}

/*
 * The restored copy of the parent's agent: pid 1's child named AGENT_NAME that holds its
 * listening socket (INIT_LISTEN_FD). Other processes forked from the agent carry its name too
 * and may be pid 1's children (a detached command's pipe holder, pipe-holder.c, reparented
 * there): they hold no descriptor past stdio, and must live on in the child.
 */
static pid_t restored_agent(pid_t init) {
    char path[96], children[4096], comm[32], link[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", init, init);
    if (read_small(path, children, sizeof children) < 0) return -1;
    for (char *p = children; *p;) {
        long pid = strtol(p, &p, 10);
        if (pid <= 0) break;
        snprintf(path, sizeof path, "/proc/%ld/comm", pid);
        if (read_small(path, comm, sizeof comm) != 0 || strcmp(comm, AGENT_NAME "\n") != 0) continue;
        snprintf(path, sizeof path, "/proc/%ld/fd/%d", pid, INIT_LISTEN_FD);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0 && (link[n] = 0, strncmp(link, "socket:", 7) == 0)) return (pid_t)pid;
    }
    return -1;
}

/* The pid a host pid has in the innermost pid namespace it belongs to (NSpid's last field). */
static pid_t innermost_pid(pid_t pid) {
    char path[64], status[4096];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (read_small(path, status, sizeof status) < 0) return -1;
    char *line = strstr(status, "\nNSpid:");
    if (!line) return -1;
    line += 7;
    long last = -1;
    for (char *end = line; *end && *end != '\n';) {
        long v = strtol(end, &end, 10);
        if (v > 0) last = v;
        while (*end == ' ' || *end == '\t') end++;
    }
    return (pid_t)last;
}

static const struct {
    const char *name;
    int type;
} joined_ns[] = {{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
                 {"pid", CLONE_NEWPID},       {"mnt", CLONE_NEWNS},   {"user", CLONE_NEWUSER}};
#define N_JOINED (sizeof joined_ns / sizeof joined_ns[0])
#define PID_NS 4

/* In the forked agent before its exec: say what failed on the sync pipe and end. */
static void child_exit(int sync, const char *what) {
    dprintf(sync, "%s: %s", what, strerror(errno));
    _exit(1);
}

/*
 * The fresh agent, forked by the launcher into the restored pid namespace (so it stays the
 * launcher's child, and the supervisor ends the sandbox when it dies), then moved into the
 * tree's cgroups and other namespaces (the user namespace last: host root's privileges are
 * needed for the others and for the hostname), as sandbox root, and exec'd from the init
 * program. Returns its host pid once the exec has happened.
 */
static pid_t inject_agent(const struct restore_spec *r, pid_t init, char *err, size_t errlen) {
    int fds[N_JOINED];
    for (size_t i = 0; i < N_JOINED; i++) {
        char path[96];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", init, joined_ns[i].name);
        if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
            snprintf(err, errlen, "open %s: %s", path, strerror(errno));
            for (size_t k = 0; k < i; k++) close(fds[k]);
            return -1;
        }
    }
    /* The unreadable init program, opened here as host root: exec'd through this descriptor by
     * sandbox root (who cannot read it), it leaves the agent non-dumpable with its memory owned
     * by the host's user namespace. The restored tree's /opt/mitos/init is a readable copy,
     * which CRIU needs to map the restored processes' code. */
    int program = open(r->init_path, O_RDONLY | O_CLOEXEC);
    if (program < 0) {
        snprintf(err, errlen, "open %s: %s", r->init_path, strerror(errno));
        for (size_t k = 0; k < N_JOINED; k++) close(fds[k]);
        return -1;
    }
    int listen_fd = listener_in_netns(init, r->socket_path);
    int exec_sync[2] = {-1, -1};
    pid_t agent = -1;
    if (listen_fd < 0) {
        snprintf(err, errlen, "listen on %s: %s", r->socket_path, strerror(errno));
    } else if (pipe2(exec_sync, O_CLOEXEC) < 0 || setns(fds[PID_NS], CLONE_NEWPID) < 0) {
        snprintf(err, errlen, "enter the restored pid namespace: %s", strerror(errno));
    } else if ((agent = fork()) == 0) {
        close(exec_sync[0]);
        for (int i = 0; i < r->n_cgroups; i++)
            if (write_text(r->cgroup_procs[i], "0\n") < 0) child_exit(exec_sync[1], "join cgroup");
        for (size_t i = 0; i < N_JOINED; i++) {
            if (i != PID_NS && setns(fds[i], joined_ns[i].type) < 0) child_exit(exec_sync[1], joined_ns[i].name);
            /* The network namespace is restored empty (--empty-ns net): loopback comes up here, as
             * for a fresh sandbox, before the tree continues (already up where CRIU's action
             * script did it for a loopback connection: launch-restore-hook.c). */
            if (joined_ns[i].type == CLONE_NEWNET) loopback_up();
            if (joined_ns[i].type == CLONE_NEWUTS && sethostname(r->hostname, strlen(r->hostname)) < 0)
                child_exit(exec_sync[1], "sethostname");
        }
        if (chdir("/") < 0 || setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
            child_exit(exec_sync[1], "become sandbox root");
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
            child_exit(exec_sync[1], "stdio on /dev/null");
        if (dup2(listen_fd, INIT_LISTEN_FD) < 0) child_exit(exec_sync[1], "agent socket descriptor");
        setsid();
        if (r->seccomp && install_seccomp_filter() < 0) child_exit(exec_sync[1], "install seccomp filter");
        char *argv[] = {AGENT_JOIN_ARGV0, NULL};
        char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        syscall(SYS_execveat, program, "", argv, env, AT_EMPTY_PATH);
        child_exit(exec_sync[1], "exec the init program");
    } else if (agent < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
    }
    for (size_t i = 0; i < N_JOINED; i++) close(fds[i]);
    close(program);
    if (listen_fd >= 0) close(listen_fd);
    if (exec_sync[1] >= 0) close(exec_sync[1]);
    if (agent > 0) {
        /* EOF with nothing: the exec happened (the pipe is close-on-exec). */
        char why[256] = {0};
        ssize_t n;
        while ((n = read(exec_sync[0], why, sizeof why - 1)) < 0 && errno == EINTR) {
        }
        if (n > 0) {
            snprintf(err, errlen, "start the restored sandbox's agent: %s", why);
            waitpid(agent, NULL, 0);
            agent = -1;
        }
    }
    if (exec_sync[0] >= 0) close(exec_sync[0]);
    return agent;
}

/* Continue every task of the restored tree (every process in init's pid namespace). */
static void continue_tree(pid_t init) {
    char path[64];
    struct stat want, st;
    snprintf(path, sizeof path, "/proc/%d/ns/pid", init);
    if (stat(path, &want) < 0) return;
    DIR *proc = opendir("/proc");
    if (!proc) return;
    for (struct dirent *d; (d = readdir(proc));) {
        char *end;
        long pid = strtol(d->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        snprintf(path, sizeof path, "/proc/%ld/ns/pid", pid);
        if (stat(path, &st) == 0 && st.st_ino == want.st_ino && st.st_dev == want.st_dev) kill((pid_t)pid, SIGCONT);
    }
    closedir(proc);
}

static pid_t criu_restore(const struct restore_spec *r, char *err, size_t errlen) {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        snprintf(err, errlen, "become child subreaper: %s", strerror(errno));
        return -1;
    }
    pid_t criu = fork();
    if (criu < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (criu == 0) {
        /* The restored tree starts in the child's cgroups: CRIU is told to leave cgroups alone. */
        char pidtext[32];
        snprintf(pidtext, sizeof pidtext, "%d\n", getpid());
        for (int i = 0; i < r->n_cgroups; i++) {
            if (write_text(r->cgroup_procs[i], pidtext) < 0) {
                fprintf(stderr, "mitos-agent: join cgroup %s: %s\n", r->cgroup_procs[i], strerror(errno));
                _exit(1);
            }
        }
        /* The parent agent's listening socket was external to the checkpoint: the restored copy
         * gets an unconnected stand-in (the child's agent has a socket of its own). */
        int stand_in = socket(AF_UNIX, SOCK_STREAM, 0);
        if (stand_in < 0 || (stand_in != RESTORE_INHERIT_FD && dup2(stand_in, RESTORE_INHERIT_FD) < 0)) _exit(1);
        if (fcntl(RESTORE_IMAGES_FD, F_SETFD, 0) < 0) _exit(1);
        /* CRIU's own output goes to its log file; its stderr is the engine's error channel. */
        execv(r->criu_argv[0], r->criu_argv);
        fprintf(stderr, "mitos-agent: exec %s: %s\n", r->criu_argv[0], strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(criu, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "wait for criu: %s", strerror(errno));
            return -1;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "criu restore failed (%s %d)", WIFEXITED(status) ? "status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    pid_t pid = read_pidfile(r->pidfile);
    if (pid < 0) snprintf(err, errlen, "criu restore wrote no pid to %s", r->pidfile);
    return pid;
}

/*
 * CRIU probes the kernel's features on every run (a throwaway veth, the vDSO: tens of
 * milliseconds) unless /run/criu.kdat holds the result, which it keeps only on a tmpfs. For the
 * restore only, this namespace's /run is the child's images directory (in /dev/shm): the
 * engine puts the file there when an earlier restore left one (checkpoint/kernel-features.ts).
 * Best effort: without it CRIU probes.
 */
static int kernel_features_at_run(void) {
    char images[32];
    snprintf(images, sizeof images, "/proc/self/fd/%d", RESTORE_IMAGES_FD);
    return mount(images, KERNEL_FEATURES_DIR, NULL, MS_BIND, NULL) == 0;
}

pid_t restore_tree(const struct restore_spec *r, pid_t *agent_out, char *err, size_t errlen) {
    if (stage_external_mounts(r, err, errlen) < 0) return -1;
    int features = kernel_features_at_run();
    pid_t init = criu_restore(r, err, errlen);
    if (features) umount2(KERNEL_FEATURES_DIR, MNT_DETACH);
    if (init < 0) return -1;
    pid_t old = restored_agent(init);
    if (old < 0) {
        snprintf(err, errlen, "the restored tree has no agent to replace");
    } else {
        kill(old, SIGKILL);
        pid_t agent = inject_agent(r, init, err, errlen);
        pid_t in_sandbox = agent > 0 ? innermost_pid(agent) : -1;
        union sigval claim = {.sival_int = in_sandbox};
        if (in_sandbox > 1 && sigqueue(init, SIGUSR1, claim) == 0) {
            continue_tree(init);
            *agent_out = agent;
            return init;
        }
        if (agent > 0) kill(agent, SIGKILL);
        if (agent > 0) snprintf(err, errlen, "name the restored sandbox's agent to its init: %s", strerror(errno));
    }
    kill(init, SIGKILL);
    waitpid(init, NULL, 0);
    return -1;
}
