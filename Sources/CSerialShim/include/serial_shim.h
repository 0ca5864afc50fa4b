#ifndef FIELDGW_SERIAL_SHIM_H
#define FIELDGW_SERIAL_SHIM_H

#include <poll.h>

/// termios2 (BOTHER) speed control, which Swift cannot reach: <asm/termbits.h>
/// clashes with glibc's <termios.h>, so it lives alone in serial_shim.c.

/// Sets input and output speed to any rate in baud. Returns 0, or -1 with errno set.
int fgw_set_speed(int fd, unsigned int baud);

/// Reads back the input and output speed in baud. Returns 0, or -1 with errno set.
int fgw_get_speed(int fd, unsigned int *input_baud, unsigned int *output_baud);

/// Waits for `events` on `fd` for at most `nanoseconds` (ppoll, which Swift's
/// Glibc does not export). Returns ppoll's result; `revents` gets what happened.
int fgw_wait(int fd, short events, long long nanoseconds, short *revents);

/// ppoll on `count` descriptors for at most `nanoseconds`. Returns ppoll's result.
int fgw_wait_many(struct pollfd *requests, unsigned long count, long long nanoseconds);

/// A non-blocking, close-on-exec eventfd, for waking a thread blocked in poll.
int fgw_event_descriptor(void);

/// Sets the calling thread's timer slack to 1 ns (PR_SET_TIMERSLACK): Linux
/// lets a normal thread's timed waits end up to 50 µs late by default, which
/// a line thread timing t3.5 silences would add to every transaction.
/// Returns 0, or -1 with errno set.
int fgw_precise_timers(void);

/// RS485 settings as the kernel's struct serial_rs485 holds them (delays in ms).
typedef struct {
    unsigned int enabled;
    unsigned int rts_on_send;
    unsigned int rts_after_send;
    unsigned int receive_during_transmit;
    unsigned int delay_before_send_ms;
    unsigned int delay_after_send_ms;
} fgw_rs485;

/// TIOCGRS485 into `settings`. Returns 0, or -1 with errno set (ENOTTY: not a serial_core UART).
int fgw_get_rs485(int fd, fgw_rs485 *settings);

/// TIOCSRS485 from `settings`; the kernel may adjust them, so read them back.
int fgw_set_rs485(int fd, const fgw_rs485 *settings);

/// Reads (TIOCGSERIAL) whether ASYNC_LOW_LATENCY is set: 1 or 0, or -1 with errno set.
int fgw_get_low_latency(int fd);

/// Sets or clears ASYNC_LOW_LATENCY (TIOCGSERIAL then TIOCSSERIAL). Returns 0, or -1 with errno set.
int fgw_set_low_latency(int fd, int enabled);
#endif
