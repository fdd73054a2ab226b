/*
 * mitos-watch: reports changes under a directory as inotify sees them, for the E2B surface's
 * WatchDir (a watcher driven by the kernel's events rather than by listing the tree again and
 * again). It runs inside the sandbox as the account that asked, so it sees exactly what that
 * account may see.
 *
 *   mitos-watch [-r] DIR
 *
 * Output on stdout: one record per event, `<kind><path>\0`, where kind is C (created or moved
 * in), W (written), R (removed), N (renamed away), A (attributes changed) and path is relative
 * to DIR. The first record is `S\0`, written once every watch is in place, so a change made
 * after it is never missed. With -r, directories created later are watched too.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_WATCHES 10000
#define MASK (IN_CREATE | IN_MOVED_TO | IN_MODIFY | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF)

struct watch {
	int wd;
	char *rel; /* "" for the root */
};

static struct watch watches[MAX_WATCHES];
static int nwatches;
static int ifd;
static int recursive;
static char root[PATH_MAX];

static char out[1 << 16];
static size_t outlen;

static void flush_out(void) {
	size_t off = 0;
	while (off < outlen) {
		ssize_t n = write(STDOUT_FILENO, out + off, outlen - off);
		if (n < 0) {
			if (errno == EINTR) continue;
			exit(0); /* the reader went away: nothing left to report to */
		}
		off += (size_t)n;
	}
	outlen = 0;
}

static void emit(char kind, const char *rel) {
	size_t len = strlen(rel);
	if (outlen + len + 2 > sizeof(out)) flush_out();
	if (len + 2 > sizeof(out)) return; /* cannot happen with PATH_MAX paths */
	out[outlen++] = kind;
	memcpy(out + outlen, rel, len);
	outlen += len;
	out[outlen++] = '\0';
}

static const char *rel_of(int wd) {
	for (int i = 0; i < nwatches; i++)
		if (watches[i].wd == wd) return watches[i].rel;
	return NULL;
}

static void forget(int wd) {
	for (int i = 0; i < nwatches; i++) {
		if (watches[i].wd != wd) continue;
		free(watches[i].rel);
		watches[i] = watches[--nwatches];
		return;
	}
}

/* A directory moved away keeps its watches under its old name: drop them (and its subtree's). */
static void forget_tree(const char *rel) {
	size_t len = strlen(rel);
	for (int i = 0; i < nwatches;) {
		const char *r = watches[i].rel;
		if (strcmp(r, rel) == 0 || (strncmp(r, rel, len) == 0 && r[len] == '/')) {
			inotify_rm_watch(ifd, watches[i].wd);
			free(watches[i].rel);
			watches[i] = watches[--nwatches];
		} else {
			i++;
		}
	}
}

/* Paths longer than PATH_MAX are cut; inotify names are at most NAME_MAX. */
static void join(char *dst, size_t size, const char *a, const char *b) {
	size_t la = strlen(a), lb = strlen(b);
	if (la == 0) {
		snprintf(dst, size, "%.*s", (int)(size - 1), b);
		return;
	}
	if (la + 1 + lb + 1 > size) lb = size > la + 2 ? size - la - 2 : 0;
	snprintf(dst, size, "%.*s/%.*s", (int)la, a, (int)lb, b);
}

/* Watch the directory at rel (relative to root) and, when recursive, everything below it. */
static int add_tree(const char *rel, int fail_hard) {
	char path[2 * PATH_MAX + 2];
	if (rel[0] == '\0') snprintf(path, sizeof(path), "%s", root);
	else snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (nwatches >= MAX_WATCHES) {
		if (fail_hard) return -1;
		return 0;
	}
	uint32_t mask = MASK | IN_ONLYDIR | (rel[0] == '\0' ? 0 : IN_DONT_FOLLOW);
	int wd = inotify_add_watch(ifd, path, mask);
	if (wd < 0) return fail_hard ? -1 : 0;
	if (rel_of(wd) == NULL) {
		watches[nwatches].wd = wd;
		watches[nwatches].rel = strdup(rel);
		nwatches++;
	}
	if (!recursive) return 0;
	DIR *d = opendir(path);
	if (d == NULL) return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
		if (e->d_type != DT_DIR) continue;
		char child[PATH_MAX];
		join(child, sizeof(child), rel, e->d_name);
		add_tree(child, 0);
	}
	closedir(d);
	return 0;
}

int main(int argc, char **argv) {
	int arg = 1;
	if (arg < argc && strcmp(argv[arg], "-r") == 0) {
		recursive = 1;
		arg++;
	}
	if (arg + 1 != argc) {
		fprintf(stderr, "usage: mitos-watch [-r] DIR\n");
		return 2;
	}
	snprintf(root, sizeof(root), "%s", argv[arg]);
	ifd = inotify_init1(IN_CLOEXEC);
	if (ifd < 0) {
		perror("inotify_init1");
		return 1;
	}
	if (add_tree("", 1) < 0) {
		fprintf(stderr, "cannot watch %s: %s\n", root, strerror(errno));
		return 1;
	}
	emit('S', "");
	flush_out();

	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(ifd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR) continue;
			perror("read");
			return 1;
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				fprintf(stderr, "inotify queue overflow\n");
				flush_out();
				return 1;
			}
			const char *dir = rel_of(ev->wd);
			if (dir == NULL) continue;
			if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) {
				int was_root = dir[0] == '\0';
				forget(ev->wd);
				if (was_root) {
					flush_out();
					return 0; /* the watched directory is gone */
				}
				continue;
			}
			if (ev->len == 0) continue;
			char rel[PATH_MAX];
			join(rel, sizeof(rel), dir, ev->name);
			if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
				emit('C', rel);
				if (recursive && (ev->mask & IN_ISDIR)) add_tree(rel, 0);
			}
			if (ev->mask & IN_MODIFY) emit('W', rel);
			if (ev->mask & IN_DELETE) emit('R', rel);
			if (ev->mask & IN_MOVED_FROM) {
				emit('N', rel);
				if (ev->mask & IN_ISDIR) forget_tree(rel);
			}
			if (ev->mask & IN_ATTRIB) emit('A', rel);
		}
		flush_out();
	}
}
