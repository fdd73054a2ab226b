#ifndef MITOS_LAUNCH_H
#define MITOS_LAUNCH_H
#include <stddef.h>
#include <sys/types.h>

#define MAX_BINDS 8

/* What the launcher builds before the sandbox's namespaces exist. */
struct root_spec {
    const char *rootfs;
    const char *ov_lower, *ov_upper, *ov_work;
    /* Host uid/gid of sandbox root, and the ids the root's files carry on disk: when they
     * differ, the root is an idmapped mount translating one range into the other. */
    unsigned long uid_base, uid_count, disk_base;
    char *const *binds; /* "HOSTDIR:SANDBOXDIR", mounted read-only */
    int n_binds;
    /* Host path of the agent binary the init execs, bound read-only at INIT_IN_SANDBOX. */
    const char *init_path;
    /* The root mount only (a restore): CRIU mounts the rest from its images, and it binds the
     * root without its submounts, which the kernel refuses for a root with locked ones. */
    int root_only;
};

/* Where the sandbox init's own program is: inside the sandbox's mount namespace, so its process
 * tree can be checkpointed and restored as a whole (a CRIU dump resolves every mapping there). */
#define INIT_IN_SANDBOX "/opt/mitos/init"

/* argv[0] the launcher execs the init with; main() runs init_main for it. */
#define INIT_ARGV0 "mitos-init"

/* The agent's process name (comm), as pid 1's first child. */
#define AGENT_NAME "mitos-agent"

/* The descriptor the init finds its listening agent socket on. */
#define INIT_LISTEN_FD 3

/* argv[0] the launcher execs a restored sandbox's fresh agent with; main() runs agent_join_main. */
#define AGENT_JOIN_ARGV0 "mitos-agent-join"

/* A restored sandbox's fresh agent: serves INIT_LISTEN_FD (launch-init.c); returns only on misuse. */
int agent_join_main(void);

/* The sandbox's pid 1 after the exec: forks the agent (serving INIT_LISTEN_FD), then reaps. */
int init_main(void);

/* The agent's listening socket at path, in the network namespace of pid (launch-init.c). */
int listener_in_netns(int pid, const char *path);


/*
 * Run as host root. Moves the launcher into a mount namespace of its own and builds the
 * sandbox's root tree at spec->rootfs there: the root mount (idmapped when needed), /dev with
 * bound host device nodes, and the read-only host binds, every host-sourced mount read-only.
 * The sandbox's mount namespace is created later by a less privileged user namespace, so the
 * kernel locks all of these (they cannot be remounted read-write or unmounted inside).
 * Leaves the working directory at the root, and an fd of the host's mount namespace in
 * *host_ns: the launcher returns there once the sandbox holds its own copy, since its private
 * namespace also holds a copy of every host mount (which would keep other servers' volumes
 * and loop devices busy). On failure returns -1 with a message in err.
 */
int prepare_root(const struct root_spec *spec, int *host_ns, char *err, size_t errlen);

/* A checkpoint restored as a sandbox (launch-restore.c). */
struct restore_spec {
    char *const *criu_argv; /* the whole CRIU restore command, --root the prepared rootfs */
    const char *pidfile;    /* where that command writes the restored init's host pid */
    const char *const *cgroup_procs;
    int n_cgroups;
    const char *images_dir;  /* the child's images (CRIU reads them through a descriptor) */
    const char *ext_root;    /* where the external mounts' sources are staged (launch-restore.c) */
    char *const *ext;        /* "KEY:HOSTPATH" per keyed external mount */
    int n_ext;
    unsigned long uid_base;  /* the child's: owner of its fresh /dev */
    const char *init_path;   /* the unreadable init program the fresh agent is exec'd from */
    const char *socket_path; /* the child's agent socket */
    const char *hostname;
    int seccomp;
};

/* Run in the launcher's private mount namespace once the root is prepared: the restored
 * init's host pid (a child of the caller, now a subreaper), its fresh agent's host pid in
 * *agent (also the caller's child), or -1 with a message in err. */
int restore_tree(const struct restore_spec *spec, pid_t *agent, char *err, size_t errlen);
/* Run by CRIU as its action script (the variable names the step): brings the restored
 * network namespace's loopback up before sockets are restored into it. */
#define RESTORE_HOOK_ENV "CRTOOLS_SCRIPT_ACTION"
int restore_hook_main(void);

/* Write a whole string to a (proc or cgroup) file; -1 with errno on failure. */
int write_text(const char *path, const char *text);

/* Install the default sandbox seccomp filter on the calling thread (see launch-seccomp.c). */
int install_seccomp_filter(void);
/* Fork a child that writes its own pid into FILE (the engine's own cgroup.procs): launch-prime.c. */
void prime_cgroup_attach(const char *file);

#define MAX_CGROUPS 16

/* One launch's options (launch.c parses them; a slot takes the root's half later). */
struct launch_opts {
    const char *id;
    const char *hostname;
    const char *socket_path;
    const char *rootfs;
    const char *ov_lower, *ov_upper, *ov_work;
    const char *log_path;
    const char *init_path;
    const char *cgroup_prime; /* the engine's own cgroup.procs (prime_cgroup_attach) */
    struct restore_spec restore; /* pidfile set: restore a checkpoint instead of a fresh init */
    char *restore_ext[MAX_BINDS];
    unsigned long uid_base, uid_count, disk_base;
    int seccomp; /* 0 only for a template that opted out (the engine logs it) */
    /* /dev/shm is a tmpfs charged to the sandbox's memory cgroup: sized below the memory
     * limit, so filling it cannot leave the agent itself nothing to run in. */
    unsigned long long shm_bytes;
    const char *cgroup_procs[MAX_CGROUPS];
    int n_cgroups;
    char *binds[MAX_BINDS]; /* "HOSTDIR:SANDBOXDIR", mounted read-only */
    int n_binds;
    int listen_fd;
    int log_fd;
    int sync_to_child[2];   /* parent writes once maps and cgroups are in place */
    int sync_to_parent[2];  /* child writes "ok" or an error line */
    /* --slot: a child launched ahead, waiting for its root (launch-slot.c) */
    const char *slot_socket;
    pid_t slot_owner;
};

/* Parse `launch` options into o (getopt from the start); exits with usage on a bad one. */
void parse_launch_opts(struct launch_opts *o, int argc, char **argv);

/* The launch's child from its "go" on (launch.c): the sandbox's root entered, its pid 1 exec'd. */
int enter_sandbox(struct launch_opts *o);

/* Hand the child its agent socket and wait for its init's exec, then supervise it (launch.c). */
int start_child(struct launch_opts *o, pid_t pid, int host_ns, int slot);

/* Back in the host's mount namespace, the init's host pid on stdout, then supervise it. */
int serve_as_supervisor(pid_t pid, pid_t agent, int host_ns, int log_fd, const char *socket_path);

/* Clone the launch's child (namespaces plus `extra`), attach it (id maps, cgroups): launch.c. */
pid_t clone_child(struct launch_opts *o, int (*fn)(void *), int extra);
int attach_child(struct launch_opts *o, pid_t pid);

/* Print the usage and exit 2 (launch.c). */
void launch_usage(void);

/* `launch --slot` (launch-slot.c). */
int slot_main(struct launch_opts *o, int argc, char **argv);

/* What a slot's child learns at "go", after its descriptors (launch-slot.c). */
struct slot_go {
    char hostname[256];
    unsigned long long shm_bytes;
    int seccomp;
};

/* Blank our command line and name the process (launch.c). */
void hide_command_line(const char *name);

#endif
