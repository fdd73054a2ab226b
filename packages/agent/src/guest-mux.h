/*
 * The in-VM agent's stream multiplexer. A microVM has one byte pipe to the host (a
 * virtio-serial port; vsock is unavailable on the hosts we run on), but the agent protocol
 * wants one connection per operation. So the port carries mux frames, each naming a logical
 * channel, and the guest serves every channel like a unix-socket connection of the container
 * agent: an exec is run by the mux itself (guest-mux-exec.c); any other operation by a worker
 * process running agent_serve_connection() on one end of a socketpair.
 *
 * Mux frame: u32 LE length of (channel + kind + payload) | u32 LE channel | u8 kind | payload.
 * Channel 0 is control. See packages/engine/src/drivers/microvm/README.md for the whole state
 * machine, including the fence used to snapshot a VM with nothing in flight.
 */
#ifndef MITOS_GUEST_MUX_H
#define MITOS_GUEST_MUX_H
#include <stddef.h>
#include <stdint.h>

/* Bytes one side may send on a channel before the other acknowledges consuming them. */
#define MUX_WINDOW (256u * 1024u)
/* virtio_console copies at most 32 KiB per write(); larger frames only add partial writes. */
#define MUX_CHUNK (32u * 1024u)
#define MUX_MAX_FRAME (1u << 20)
#define MUX_MAX_CHANNELS 1024

/* per channel, both directions */
#define MUX_OPEN 'O'  /* host -> guest: a new operation */
#define MUX_DATA 'D'
#define MUX_EOF 'E'   /* the sender will send no more data (half close) */
#define MUX_ABORT 'X' /* the channel is gone */
#define MUX_ACK 'A'   /* payload: u32 LE bytes consumed */
/* channel 0 */
#define MUX_HELLO 'H'   /* guest -> host: booted and serving; payload: version */
#define MUX_FENCE 'F'   /* host -> guest: stop all channel traffic and confirm */
#define MUX_FENCED 'f'  /* guest -> host: the last byte before the fence is lifted */
#define MUX_RESUME 'R'  /* host -> guest: mode, realtime ns, hostname, token, pids max, seed bytes */
#define MUX_RESUMED 'r' /* guest -> host: resumed; channels kept or reset as asked */

#define GUEST_VERSION "mitos-guest 1"

/* Set once mux_run starts, so every channel's worker knows it already is multiplexed. */
extern int mux_serving;

/* Serve the port forever. The caller is pid 1; this never returns. */
void mux_run(int port_fd) __attribute__((noreturn));

/* guest-identity.c. Off (0) in --serve-fd mode: there the "guest" is the host itself. */
extern int guest_identity_enabled;
void guest_set_realtime(long long unix_ns);
void guest_set_hostname(const char *name);
void guest_write_token(const char *token);
/* Mix `len` seed bytes into the kernel pool, credited, and force a CRNG reseed so that VMs
 * restored from one snapshot stop sharing a random stream at once. */
void guest_reseed(const void *seed, size_t len);
/* Every worker (so every command) runs in the guest cgroup "sandbox"; its pids.max is the
 * sandbox's pids limit. The agent itself stays outside, so it can always serve. */
void guest_join_sandbox_cgroup(void);
void guest_set_pids_max(const char *value);
#endif
