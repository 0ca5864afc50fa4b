/*
 * modbus_load: the one load client of the Modbus/TCP server benchmark, the
 * same for every server measured. Opens CONNECTIONS connections to
 * 127.0.0.1:PORT, keeps DEPTH requests in flight on each (read holding
 * registers 0-9 of unit 1, or with UNITS, connection i of unit i % UNITS + 1),
 * and counts the replies that come back whole, in order, with their
 * transaction ids and ten registers. Warms up for half a second, then counts
 * for SECONDS.
 *
 * usage: modbus_load PORT CONNECTIONS DEPTH SECONDS [UNITS]
 * prints: {"replies": N, "seconds": S, "errors": E, "requests_per_second": R,
 *          "p50_us": P, "p99_us": Q}   (each reply's time since its request was sent)
 *
 * Written in C so that the client is never what limits the figure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_BYTES 12
#define REPLY_BYTES (9 + 20)
#define MAX_DEPTH 256
#define MAX_SAMPLES (4 << 20)

struct connection {
    int fd;
    uint16_t next_sent;     /* transaction id of the next request */
    uint16_t next_expected; /* transaction id the next reply must carry */
    unsigned char buffer[MAX_DEPTH * REPLY_BYTES * 2];
    size_t filled;
    unsigned char unit;     /* the unit its requests are for */
    double sent_at[MAX_DEPTH]; /* by transaction id modulo MAX_DEPTH: at most DEPTH are in flight */
};

static double *samples;
static long sampled;
static int sampling;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void fail(const char *what) {
    perror(what);
    exit(2);
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double fraction) {
    if (sampled == 0) return 0;
    return samples[(long)(fraction * (sampled - 1))] * 1e6;
}

static int open_connection(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) fail("socket");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) fail("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Writes `count` requests in one send: a pipelined burst. */
static void send_requests(struct connection *c, int count) {
    unsigned char bytes[MAX_DEPTH * REQUEST_BYTES];
    for (int i = 0; i < count; i++) {
        unsigned char *r = bytes + i * REQUEST_BYTES;
        uint16_t id = c->next_sent++;
        c->sent_at[id % MAX_DEPTH] = now();
        unsigned char request[REQUEST_BYTES] = {id >> 8, id & 0xFF, 0, 0, 0, 6, c->unit, 3, 0, 0, 0, 10};
        memcpy(r, request, REQUEST_BYTES);
    }
    size_t length = (size_t)count * REQUEST_BYTES, sent = 0;
    while (sent < length) {
        ssize_t n = write(c->fd, bytes + sent, length - sent);
        if (n < 0 && errno != EINTR) fail("write");
        if (n > 0) sent += n;
    }
}

/* Reads what has come; returns the whole replies taken off the buffer, and
 * counts in *errors those that were not the reply expected. */
static int take_replies(struct connection *c, long *errors) {
    ssize_t n = read(c->fd, c->buffer + c->filled, sizeof c->buffer - c->filled);
    if (n <= 0) {
        fprintf(stderr, "modbus_load: the server closed a connection\n");
        exit(2);
    }
    c->filled += n;
    int replies = 0;
    size_t at = 0;
    while (c->filled - at >= 6) {
        unsigned char *r = c->buffer + at;
        size_t length = 6 + ((r[4] << 8) | r[5]);
        if (c->filled - at < length) break;
        uint16_t id = (r[0] << 8) | r[1];
        if (length != REPLY_BYTES || id != c->next_expected || r[7] != 3 || r[8] != 20) (*errors)++;
        if (sampling && sampled < MAX_SAMPLES) samples[sampled++] = now() - c->sent_at[id % MAX_DEPTH];
        c->next_expected = id + 1;
        at += length;
        replies++;
    }
    memmove(c->buffer, c->buffer + at, c->filled - at);
    c->filled -= at;
    return replies;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: modbus_load PORT CONNECTIONS DEPTH SECONDS [UNITS]\n");
        return 2;
    }
    int units = argc == 6 ? atoi(argv[5]) : 1;
    int port = atoi(argv[1]), count = atoi(argv[2]), depth = atoi(argv[3]);
    double duration = atof(argv[4]);
    if (count < 1 || depth < 1 || depth > MAX_DEPTH) {
        fprintf(stderr, "modbus_load: CONNECTIONS >= 1, DEPTH 1-%d\n", MAX_DEPTH);
        return 2;
    }
    struct connection *connections = calloc(count, sizeof *connections);
    samples = malloc(MAX_SAMPLES * sizeof *samples);
    int epoll = epoll_create1(0);
    for (int i = 0; i < count; i++) {
        connections[i].fd = open_connection(port);
        connections[i].unit = (unsigned char)(i % (units < 1 ? 1 : units) + 1);
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = &connections[i]};
        epoll_ctl(epoll, EPOLL_CTL_ADD, connections[i].fd, &event);
        send_requests(&connections[i], depth);
    }
    long replies = 0, errors = 0;
    double start = now(), counting_from = start + 0.5, end = counting_from + duration;
    int counting = 0;
    struct epoll_event events[64];
    for (;;) {
        double t = now();
        if (!counting && t >= counting_from) { counting = sampling = 1; replies = 0; errors = 0; }
        if (t >= end) break;
        int ready = epoll_wait(epoll, events, 64, 100);
        for (int i = 0; i < ready; i++) {
            struct connection *c = events[i].data.ptr;
            int got = take_replies(c, &errors);
            replies += got;
            if (got > 0) send_requests(c, got);
        }
    }
    double elapsed = now() - counting_from;
    qsort(samples, sampled, sizeof *samples, compare);
    printf("{\"replies\": %ld, \"seconds\": %.3f, \"errors\": %ld, \"requests_per_second\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f}\n",
           replies, elapsed, errors, replies / elapsed, percentile(0.5), percentile(0.99));
    return errors == 0 ? 0 : 1;
}
