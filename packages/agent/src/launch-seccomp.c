/*
 * The sandbox's default seccomp filter, installed by its init just before it serves, so the
 * agent and every command it runs carry it. Docker's default profile is the reference for what
 * to refuse; it is written here as a deny list (the namespaces already take every capability
 * over the host away, so the filter only has to close kernel surfaces that ignore namespaces):
 *
 *   io_uring, perf_event_open, userfaultfd, bpf   large attack surface, no per-namespace scope
 *   AF_VSOCK, AF_PACKET sockets                   VM-global ports; raw frames on the netns
 *   kexec, kernel modules, swap, acct, syslog     host-global state
 *   fsopen/fsmount/fspick/open_tree/move_mount/mount_setattr
 *                                                 new-API mounts of filesystem types the
 *                                                 classic mount(2) path does not offer a userns
 *   unshare(CLONE_NEWTIME), clone3                time namespaces; clone3 flags cannot be
 *                                                 inspected, so it fails with ENOSYS and libc
 *                                                 falls back to clone(2)
 *   any non-native syscall ABI (i386, x32)        their numbers would slip past the list
 *
 * keyctl/add_key/request_key stay allowed: every sandbox runs under its own host uid range,
 * so keys and their quota are already private to it (see packages/hardening isolation tests).
 * A refused call fails with EPERM (ENOSYS for clone3), never kills the caller.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "launch.h"

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_SYSCALL_BIT 0x40000000
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "mitos-agent: no seccomp filter for this architecture"
#endif

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define NR_OFF offsetof(struct seccomp_data, nr)
#define ARCH_OFF offsetof(struct seccomp_data, arch)
/* Low 32 bits of the first argument (little-endian hosts only, as both arches above are). */
#define ARG0_OFF offsetof(struct seccomp_data, args[0])
#define ARG1_OFF offsetof(struct seccomp_data, args[1])

#define LOAD(off) ((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off)))
#define RET(v) ((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (v)))
#define JUMP(...) ((struct sock_filter)BPF_JUMP(__VA_ARGS__))
#define DENY_ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

static const int denied_calls[] = {
    SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register, SYS_perf_event_open,
    SYS_userfaultfd,    SYS_bpf,            SYS_kexec_load,        SYS_kexec_file_load,
    SYS_init_module,    SYS_finit_module,   SYS_delete_module,     SYS_swapon,
    SYS_swapoff,        SYS_acct,           SYS_syslog,            SYS_fsopen,
    SYS_fsconfig,       SYS_fsmount,        SYS_fspick,            SYS_open_tree,
    SYS_move_mount,     SYS_mount_setattr,  SYS_fanotify_init,     SYS_quotactl,
    SYS_quotactl_fd,    SYS_lookup_dcookie, SYS_open_by_handle_at,
#if defined(__x86_64__)
    SYS_iopl,           SYS_ioperm,         SYS_uselib,            SYS_ustat,
    SYS_sysfs,          SYS__sysctl,        SYS_nfsservctl,
#endif
};

#define N_DENIED (sizeof denied_calls / sizeof denied_calls[0])
/* Fixed prologue and epilogue around one compare-and-return pair per denied call. */
#define MAX_PROG (N_DENIED * 2 + 32)

int install_seccomp_filter(void) {
    struct sock_filter prog[MAX_PROG];
    size_t n = 0;
    prog[n++] = LOAD(ARCH_OFF);
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0);
    prog[n++] = RET(DENY_ERRNO(ENOSYS));
    prog[n++] = LOAD(NR_OFF);
#ifdef X32_SYSCALL_BIT
    prog[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
    prog[n++] = RET(DENY_ERRNO(ENOSYS));
#endif
    for (size_t i = 0; i < N_DENIED; i++) {
        prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied_calls[i], 0, 1);
        prog[n++] = RET(DENY_ERRNO(EPERM));
    }
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
    prog[n++] = RET(DENY_ERRNO(ENOSYS));
    /* socket(family, ...): refuse the families that reach outside the network namespace. */
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 5);
    prog[n++] = LOAD(ARG0_OFF);
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_VSOCK, 2, 0);
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_PACKET, 1, 0);
    prog[n++] = RET(SECCOMP_RET_ALLOW);
    prog[n++] = RET(DENY_ERRNO(EPERM));
    /* unshare(flags) and setns(fd, nstype): no time namespaces. */
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 0, 4);
    prog[n++] = LOAD(ARG0_OFF);
    prog[n++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWTIME, 0, 1);
    prog[n++] = RET(DENY_ERRNO(EPERM));
    prog[n++] = RET(SECCOMP_RET_ALLOW);
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setns, 0, 4);
    prog[n++] = LOAD(ARG1_OFF);
    prog[n++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWTIME, 0, 1);
    prog[n++] = RET(DENY_ERRNO(EPERM));
    prog[n++] = RET(SECCOMP_RET_ALLOW);
    prog[n++] = RET(SECCOMP_RET_ALLOW);
    struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
}
