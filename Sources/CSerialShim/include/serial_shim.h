#ifndef FIELDGW_SERIAL_SHIM_H
#define FIELDGW_SERIAL_SHIM_H

/// termios2 (BOTHER) speed control, which Swift cannot reach: <asm/termbits.h>
/// clashes with glibc's <termios.h>, so it lives alone in serial_shim.c.

/// Sets input and output speed to any rate in baud. Returns 0, or -1 with errno set.
int fgw_set_speed(int fd, unsigned int baud);

/// Reads back the input and output speed in baud. Returns 0, or -1 with errno set.
int fgw_get_speed(int fd, unsigned int *input_baud, unsigned int *output_baud);

/// Waits for `events` on `fd` for at most `nanoseconds` (ppoll, which Swift's
/// Glibc does not export). Returns ppoll's result; `revents` gets what happened.
int fgw_wait(int fd, short events, long long nanoseconds, short *revents);
#endif
