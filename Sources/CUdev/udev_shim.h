#ifndef FIELDGW_UDEV_SHIM_H
#define FIELDGW_UDEV_SHIM_H
// libudev from Debian's libudev-dev (installed by `make test` and `make demo`).
#include <libudev.h>
// eventfd, which Glibc does not export to Swift: wakes the monitor thread.
#include <sys/eventfd.h>
#endif
