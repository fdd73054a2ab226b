#ifndef MITOS_AGENT_H
#define MITOS_AGENT_H
#include <sys/types.h>

#include "frame.h"

/* Handlers for one connection, run in a worker process forked per connection. */
void handle_exec(int conn, struct frame *req);
void handle_read(int conn, struct frame *req);
void handle_write(int conn, struct frame *req);
void handle_list(int conn, struct frame *req, int stat_only);
void handle_mkdir(int conn, struct frame *req);
void handle_remove(int conn, struct frame *req);
void handle_identity(int conn, struct frame *req);
int identity_apply(struct frame *req, const char **what);
void handle_connect_tcp(int conn, struct frame *req);
void handle_connect_unix(int conn, struct frame *req);
void handle_list_processes(int conn, struct frame *req);
void handle_signal_process(int conn, struct frame *req);

/* Serve the one operation a connection carries (the guest agent's workers call this too). */
void agent_serve_connection(int conn);

/* The agent's loop: accept connections on listen_fd forever. */
void agent_serve(int listen_fd) __attribute__((noreturn));

/* The serving agent's pid in its sandbox (0 where agent_serve does not run, a microVM guest):
 * its workers never list or signal it, since the sandbox ends with it. */
extern pid_t agent_pid;

/* Where a connection's mux lists the process groups (one per slot, 0 = free) of the commands
 * that must end with it; the agent kills those left when the mux dies. NULL in a microVM guest,
 * whose mux is pid 1 (the sandbox ends with it). */
#define MUX_GROUPS 1024
extern pid_t *mux_groups;

/* A user a command runs as (users.c): from the sandbox's /etc/passwd and /etc/group. */
#define EXEC_USER_MAX_GROUPS 256
struct exec_user {
    uid_t uid;
    gid_t gid;
    int ngroups;
    gid_t groups[EXEC_USER_MAX_GROUPS];
    char name[64];
    char home[1024];
    char shell[256];
};
/* 0 = found; -1 with errno ESRCH for a name neither file knows, or the open's errno. */
int resolve_user(const char *name, struct exec_user *u);

/* An exec request (exec-spec.c), parsed: its fields point into the request frame's data. */
#define EXEC_MAX_ENV 512
struct exec_spec {
    long long timeout_ms;
    int flags, cols, rows;
    const char *cwd, *command;
    int as_user;
    struct exec_user user;
    char *env[EXEC_MAX_ENV];
    char hostname_kv[300], home_kv[1100], user_kv[80], logname_kv[80], shell_kv[300];
};
/* 0, or -1 with errno set and *what naming the failure ("unknown user" for ESRCH). */
int exec_parse(struct frame *req, struct exec_spec *s, const char **what);
/* Once per process that starts commands, before the first: which signal dispositions the
 * command must have reset. */
void exec_signals_init(void);
/* In the new process: its own session, default signals, stdio (a pty slave, or in/out/err with
 * in < 0 meaning /dev/null), only fds 0-2, the user, the working directory, then execve of
 * `/bin/sh -c`. Returns only on failure: the stage (see exec_stage_name), errno set. */
int exec_child(const struct exec_spec *s, const char *pty_slave, int in, int out, int err);
const char *exec_stage_name(int stage);

/* mkdir -p with mode for every missing component. */
int mkdir_p(const char *path, mode_t mode);

/* Bring the loopback interface of the current network namespace up (the sandbox init and the
 * microVM guest both start in a namespace whose lo is down). */
void loopback_up(void);
#endif
