/*
 * Who a command runs as when the engine names a user: the name is looked up in the sandbox's
 * own /etc/passwd and /etc/group (the template's files, not the host's), read directly because
 * the agent is static and must not load NSS modules from a template's root filesystem. The
 * supplementary groups are the primary group plus every group that lists the user, as
 * initgroups() would give a login.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* Split one colon-separated line in place; returns the field count (<= max). */
static int split_colons(char *line, char **out, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        out[n++] = p;
        char *c = strchr(p, ':');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    char *nl = strchr(out[n - 1], '\n');
    if (nl) *nl = 0;
    return n;
}

static int parse_id(const char *s, unsigned *out) {
    if (!*s) return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > 0xfffffffeUL) return -1;
    *out = (unsigned)v;
    return 0;
}

static int lists_member(char *members, const char *name) {
    for (char *m = strtok(members, ","); m; m = strtok(NULL, ","))
        if (strcmp(m, name) == 0) return 1;
    return 0;
}

static void add_group(struct exec_user *u, gid_t gid) {
    for (int i = 0; i < u->ngroups; i++)
        if (u->groups[i] == gid) return;
    if (u->ngroups < EXEC_USER_MAX_GROUPS) u->groups[u->ngroups++] = gid;
}

int resolve_user(const char *name, struct exec_user *u) {
    memset(u, 0, sizeof *u);
    FILE *f = fopen("/etc/passwd", "re");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    while (!found && getline(&line, &cap, f) > 0) {
        char *fl[7];
        if (split_colons(line, fl, 7) < 7 || strcmp(fl[0], name) != 0) continue;
        unsigned uid, gid;
        if (parse_id(fl[2], &uid) < 0 || parse_id(fl[3], &gid) < 0) continue;
        u->uid = uid;
        u->gid = gid;
        snprintf(u->name, sizeof u->name, "%s", fl[0]);
        snprintf(u->home, sizeof u->home, "%s", fl[5][0] ? fl[5] : "/");
        snprintf(u->shell, sizeof u->shell, "%s", fl[6][0] ? fl[6] : "/bin/sh");
        found = 1;
    }
    fclose(f);
    if (!found) {
        free(line);
        errno = ESRCH;
        return -1;
    }
    add_group(u, u->gid);
    f = fopen("/etc/group", "re");
    if (f) {
        while (getline(&line, &cap, f) > 0) {
            char *fl[4];
            unsigned gid;
            if (split_colons(line, fl, 4) < 4 || parse_id(fl[2], &gid) < 0) continue;
            if (lists_member(fl[3], name)) add_group(u, gid);
        }
        fclose(f);
    }
    free(line);
    return 0;
}
