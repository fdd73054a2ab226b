#ifndef MITOS_AGENT_H
#define MITOS_AGENT_H
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

/* The pid-1 loop: accept connections on listen_fd forever. */
void agent_serve(int listen_fd) __attribute__((noreturn));

/* mkdir -p with mode for every missing component. */
int mkdir_p(const char *path, mode_t mode);
#endif
