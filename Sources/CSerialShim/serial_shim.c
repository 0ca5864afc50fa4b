#define _GNU_SOURCE
#include "serial_shim.h"

#include <asm/termbits.h>
#include <linux/serial.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <time.h>
#include <sys/eventfd.h>

int fgw_set_speed(int fd, unsigned int baud) {
    struct termios2 settings;
    if (ioctl(fd, TCGETS2, &settings) < 0) return -1;
    settings.c_cflag &= ~(CBAUD | (CBAUD << IBSHIFT));
    settings.c_cflag |= BOTHER | (BOTHER << IBSHIFT);
    settings.c_ispeed = baud;
    settings.c_ospeed = baud;
    return ioctl(fd, TCSETS2, &settings) < 0 ? -1 : 0;
}

int fgw_get_speed(int fd, unsigned int *input_baud, unsigned int *output_baud) {
    struct termios2 settings;
    if (ioctl(fd, TCGETS2, &settings) < 0) return -1;
    *input_baud = settings.c_ispeed;
    *output_baud = settings.c_ospeed;
    return 0;
}

int fgw_wait(int fd, short events, long long nanoseconds, short *revents) {
    struct pollfd request = { .fd = fd, .events = events, .revents = 0 };
    struct timespec timeout = { .tv_sec = nanoseconds / 1000000000LL, .tv_nsec = nanoseconds % 1000000000LL };
    int ready = ppoll(&request, 1, &timeout, NULL);
    *revents = request.revents;
    return ready;
}

int fgw_get_rs485(int fd, fgw_rs485 *settings) {
    struct serial_rs485 kernel = { 0 };
    if (ioctl(fd, TIOCGRS485, &kernel) < 0) return -1;
    settings->enabled = (kernel.flags & SER_RS485_ENABLED) != 0;
    settings->rts_on_send = (kernel.flags & SER_RS485_RTS_ON_SEND) != 0;
    settings->rts_after_send = (kernel.flags & SER_RS485_RTS_AFTER_SEND) != 0;
    settings->receive_during_transmit = (kernel.flags & SER_RS485_RX_DURING_TX) != 0;
    settings->delay_before_send_ms = kernel.delay_rts_before_send;
    settings->delay_after_send_ms = kernel.delay_rts_after_send;
    return 0;
}

int fgw_set_rs485(int fd, const fgw_rs485 *settings) {
    struct serial_rs485 kernel = { 0 };
    if (settings->enabled) kernel.flags |= SER_RS485_ENABLED;
    if (settings->rts_on_send) kernel.flags |= SER_RS485_RTS_ON_SEND;
    if (settings->rts_after_send) kernel.flags |= SER_RS485_RTS_AFTER_SEND;
    if (settings->receive_during_transmit) kernel.flags |= SER_RS485_RX_DURING_TX;
    kernel.delay_rts_before_send = settings->delay_before_send_ms;
    kernel.delay_rts_after_send = settings->delay_after_send_ms;
    return ioctl(fd, TIOCSRS485, &kernel) < 0 ? -1 : 0;
}

int fgw_get_low_latency(int fd) {
    struct serial_struct serial;
    if (ioctl(fd, TIOCGSERIAL, &serial) < 0) return -1;
    return (serial.flags & ASYNC_LOW_LATENCY) != 0;
}

int fgw_set_low_latency(int fd, int enabled) {
    struct serial_struct serial;
    if (ioctl(fd, TIOCGSERIAL, &serial) < 0) return -1;
    if (enabled) serial.flags |= ASYNC_LOW_LATENCY;
    else serial.flags &= ~ASYNC_LOW_LATENCY;
    return ioctl(fd, TIOCSSERIAL, &serial) < 0 ? -1 : 0;
}

int fgw_wait_many(struct pollfd *requests, unsigned long count, long long nanoseconds) {
    struct timespec timeout = { .tv_sec = nanoseconds / 1000000000LL, .tv_nsec = nanoseconds % 1000000000LL };
    return ppoll(requests, count, &timeout, NULL);
}

int fgw_event_descriptor(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

#include <sys/prctl.h>

int fgw_precise_timers(void) {
    return prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}
