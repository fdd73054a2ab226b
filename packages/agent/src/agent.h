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

/* mkdir -p with mode for every missing component. */
int mkdir_p(const char *path, mode_t mode);

/* Bring the loopback interface of the current network namespace up (the sandbox init and the
 * microVM guest both start in a namespace whose lo is down). */
void loopback_up(void);
#endif
