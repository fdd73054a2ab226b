#ifndef MITOS_GUEST_BOOT_H
#define MITOS_GUEST_BOOT_H
/* Bring a microVM from initramfs to the template's root filesystem; returns the open host port. */
int guest_boot(void);
#endif
