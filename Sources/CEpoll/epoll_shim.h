// Linux's epoll and eventfd, which Swift's Glibc module does not export:
// the Modbus/TCP server's event loop uses them directly.
#include <sys/epoll.h>
#include <sys/eventfd.h>
