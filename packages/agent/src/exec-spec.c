/*
 * What an exec request asks for, and the new process's side of starting it: shared by the
 * worker that serves an exec on its own connection (exec.c) and by the mux, which starts the
 * command of an exec channel itself (guest-mux-exec.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"

static const char *const base_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8",
    "USER=root", "SHELL=/bin/sh", NULL};

static int env_has_key(char **env, int n, const char *kv) {
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    for (int i = 0; i < n; i++) {
        if (strncmp(env[i], kv, klen) == 0 && env[i][klen] == '=') return i;
    }
    return -1;
}

static int env_put(char **env, int n, char *kv) {
    int at = env_has_key(env, n, kv);
    if (at >= 0) {
        env[at] = kv;
        return n;
    }
    if (n < EXEC_MAX_ENV - 1) env[n++] = kv;
    return n;
}

int exec_parse(struct frame *req, struct exec_spec *s, const char **what) {
    /* payload: timeout_ms, flags, cols, rows, cwd, command, [user when EXEC_FLAG_USER], then
     * KEY=VALUE env entries */
    char *f[7 + EXEC_MAX_ENV];
    int nf = split_fields(req->data, req->len, f, 7 + EXEC_MAX_ENV);
    s->flags = nf >= 2 ? atoi(f[1]) : 0;
    s->as_user = (s->flags & EXEC_FLAG_USER) != 0;
    int env_at = s->as_user ? 7 : 6;
    if (nf < env_at) {
        *what = "malformed exec request";
        errno = EINVAL;
        return -1;
    }
    s->timeout_ms = atoll(f[0]);
    s->cols = atoi(f[2]);
    s->rows = atoi(f[3]);
    s->cwd = f[4][0] ? f[4] : "/workspace";
    s->command = f[5];
    if (s->as_user && resolve_user(f[6], &s->user) < 0) {
        *what = errno == ESRCH ? "unknown user" : "read /etc/passwd";
        return -1;
    }

    int n = 0;
    for (int i = 0; base_env[i]; i++) s->env[n++] = (char *)base_env[i];
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    snprintf(s->hostname_kv, sizeof s->hostname_kv, "HOSTNAME=%s", host);
    n = env_put(s->env, n, s->hostname_kv);
    if (s->flags & EXEC_FLAG_PTY) n = env_put(s->env, n, "TERM=xterm-256color");
    /* What a login sets for the user; the caller's own entries below still win. */
    if (s->as_user) {
        snprintf(s->home_kv, sizeof s->home_kv, "HOME=%s", s->user.home);
        snprintf(s->user_kv, sizeof s->user_kv, "USER=%s", s->user.name);
        snprintf(s->logname_kv, sizeof s->logname_kv, "LOGNAME=%s", s->user.name);
        snprintf(s->shell_kv, sizeof s->shell_kv, "SHELL=%s", s->user.shell);
        n = env_put(s->env, n, s->home_kv);
        n = env_put(s->env, n, s->user_kv);
        n = env_put(s->env, n, s->logname_kv);
        n = env_put(s->env, n, s->shell_kv);
    }
    for (int i = env_at; i < nf; i++) {
        if (strchr(f[i], '=')) n = env_put(s->env, n, f[i]);
    }
    s->env[n] = NULL;
    return 0;
}

/* Signals whose disposition is not the default in this process: the only ones a command
 * must have reset (ignored ones would survive execve). Read once per process. */
static sigset_t not_default;

void exec_signals_init(void) {
    sigemptyset(&not_default);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) sigaddset(&not_default, sig);
    }
}

int exec_child(const struct exec_spec *s, const char *pty_slave, int in, int out, int err) {
    /* Raw system calls where libc would keep process-wide state: this may run in a child that
     * shares the parent's memory until it calls execve (the mux's vfork-style start). */
    syscall(SYS_setsid);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&not_default, sig)) sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (pty_slave) {
        int slave = open(pty_slave, O_RDWR);
        if (slave < 0) return 1;
        ioctl(slave, TIOCSCTTY, 0);
        if (s->as_user && fchown(slave, s->user.uid, (gid_t)-1) < 0) return 1;
        in = out = err = slave;
    }
    if (in < 0) in = open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    /* The command holds fds 0-2 and nothing else, whatever its starter had open (close on exec,
     * not closed: the starter may still report a failure through one of them). */
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    /* Groups, then gid, then uid: once the uid is not 0 nothing else may change, and the
     * kernel clears every capability, so the command cannot take root back. */
    if (s->as_user && (syscall(SYS_setgroups, (size_t)s->user.ngroups, s->user.groups) < 0 ||
                       syscall(SYS_setresgid, s->user.gid, s->user.gid, s->user.gid) < 0 ||
                       syscall(SYS_setresuid, s->user.uid, s->user.uid, s->user.uid) < 0))
        return 4;
    if (chdir(s->cwd) < 0) return 2;
    char *argv[] = {"sh", "-c", (char *)s->command, NULL};
    execve("/bin/sh", argv, s->env);
    return 3;
}

const char *exec_stage_name(int stage) {
    static const char *stages[] = {"spawn", "open pty slave", "working directory", "exec /bin/sh", "switch user"};
    return stages[stage >= 0 && stage <= 4 ? stage : 0];
}
