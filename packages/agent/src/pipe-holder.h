#pragma once

/* Keeps a detached command's pipes open in a process of its own (stdin's write end held, the
 * output read and dropped) until the command's side closes them. -1: none. A pty's master goes
 * as out_fd. */
void hold_pipes(int in_fd, int out_fd, int err_fd);
