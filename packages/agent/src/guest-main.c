/*
 * mitos-guest: the agent inside a microVM. As pid 1 it boots the VM (guest-boot.c) and then
 * serves the host over one virtio-serial port (guest-mux.c). `--serve-fd N` runs only the
 * multiplexer over an inherited fd, so the host side can be tested without a VM. `--send-fd` is
 * a host-side helper (see guest-fdpass.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-boot.h"
#include "guest-fdpass.h"
#include "guest-mux.h"

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        puts(GUEST_VERSION);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "--send-fd") == 0) return send_fd_main(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "--serve-fd") == 0) {
        guest_identity_enabled = 0;
        mux_run(atoi(argv[2]));
    }
    if (getpid() != 1) {
        fprintf(stderr, "usage: mitos-guest (as a VM's init) | --serve-fd FD | --version\n");
        return 2;
    }
    mux_run(guest_boot());
}
