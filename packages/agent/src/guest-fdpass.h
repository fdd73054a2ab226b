#ifndef MITOS_GUEST_FDPASS_H
#define MITOS_GUEST_FDPASS_H
/* Host helper mode of the guest binary; see guest-fdpass.c. */
int send_fd_main(const char *line);
#endif
