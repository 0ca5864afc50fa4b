#define _GNU_SOURCE
#include "serial_shim.h"

#include <asm/termbits.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <time.h>

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
