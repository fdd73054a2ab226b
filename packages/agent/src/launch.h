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

#endif
