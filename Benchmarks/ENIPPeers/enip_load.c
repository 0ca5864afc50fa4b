/* A small EtherNet/IP load client for the benchmark: one TCP connection,
 * RegisterSession, then Read Tag requests of SCADA[i] (unconnected, in
 * SendRRData straight to the Message Router), `depth` in flight, for
 * `seconds`. Every reply is checked: encapsulation status 0, the sender
 * context it was sent with (replies come in order), CIP reply service 0xCC
 * with status 0 and an INT. Prints JSON: replies, seconds, errors, TPS.
 * With `zero`, every request carries a zero sender context: libplctag's
 * ab_server answers every request with the context of the RegisterSession.
 *
 * Usage: enip_load PORT DEPTH SECONDS [zero]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v & 0xFF; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xFFFF); put16(p + 2, v >> 16); }
static uint16_t get16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }

/* Reads exactly n bytes; 0 on end or error. */
static int read_all(int fd, uint8_t *buffer, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buffer + got, n - got);
        if (r <= 0) return 0;
        got += r;
    }
    return 1;
}

/* Reads one encapsulation message into buffer (header and data); its length, 0 on failure. */
static size_t read_message(int fd, uint8_t *buffer) {
    if (!read_all(fd, buffer, 24)) return 0;
    size_t length = get16(buffer + 2);
    if (length > 4000 || !read_all(fd, buffer + 24, length)) return 0;
    return 24 + length;
}

/* A SendRRData Read Tag of SCADA[element], count 1, context = sequence. */
static size_t read_request(uint8_t *out, uint32_t session, uint64_t sequence, uint8_t element) {
    static const uint8_t cip_template[] = {0x4C, 5, 0x91, 5, 'S', 'C', 'A', 'D', 'A', 0, 0x28, 0, 1, 0};
    uint8_t cip[sizeof cip_template];
    memcpy(cip, cip_template, sizeof cip);
    cip[11] = element;
    size_t data_length = 6 + 2 + 4 + 4 + sizeof cip;
    memset(out, 0, 24);
    put16(out, 0x6F);
    put16(out + 2, data_length);
    put32(out + 4, session);
    memcpy(out + 12, &sequence, 8);
    uint8_t *d = out + 24;
    memset(d, 0, 6);        /* interface handle, timeout */
    put16(d + 6, 2);        /* item count */
    put16(d + 8, 0);        /* null address item */
    put16(d + 10, 0);
    put16(d + 12, 0xB2);    /* unconnected data item */
    put16(d + 14, sizeof cip);
    memcpy(d + 16, cip, sizeof cip);
    return 24 + data_length;
}

/* 1 when the reply to `sequence` is a good Read Tag reply with an INT. */
static int good_reply(const uint8_t *m, size_t length, uint64_t sequence) {
    uint64_t context;
    memcpy(&context, m + 12, 8);
    if (length < 24 + 16 + 6 || get16(m) != 0x6F || get32(m + 8) != 0 || context != sequence) return 0;
    const uint8_t *cip = m + 24 + 16;
    return cip[0] == 0xCC && cip[2] == 0 && get16(cip + 4) == 0xC3;
}

static int zero_contexts;

/* The sender context of request number `sequence`. */
static uint64_t context_of(uint64_t sequence) { return zero_contexts ? 0 : sequence; }

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "zero") != 0)) {
        fprintf(stderr, "usage: enip_load PORT DEPTH SECONDS [zero]\n");
        return 2;
    }
    zero_contexts = argc == 5;
    int port = atoi(argv[1]), depth = atoi(argv[2]);
    double seconds = atof(argv[3]);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("connect"); return 1; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t request[128], reply[4096];
    memset(request, 0, 28);
    put16(request, 0x65);
    put16(request + 2, 4);
    /* A zero sender context, as real clients register: libplctag's ab_server refuses any other. */
    request[24] = 1;
    if (write(fd, request, 28) != 28 || !read_message(fd, reply) || get32(reply + 8) != 0) { fprintf(stderr, "no session\n"); return 1; }
    uint32_t session = get32(reply + 4);
    uint64_t sent = 0, received = 0, errors = 0;
    double start = now(), end = start + seconds;
    while (sent < (uint64_t)depth) {
        size_t n = read_request(request, session, context_of(sent), sent % 20);
        if (write(fd, request, n) != (ssize_t)n) return 1;
        sent++;
    }
    while (received < sent) {
        size_t n = read_message(fd, reply);
        if (!n) { fprintf(stderr, "connection lost\n"); return 1; }
        if (!good_reply(reply, n, context_of(received))) errors++;
        received++;
        if (now() < end) {
            size_t m = read_request(request, session, context_of(sent), sent % 20);
            if (write(fd, request, m) != (ssize_t)m) return 1;
            sent++;
        }
    }
    double elapsed = now() - start;
    printf("{\"replies\": %llu, \"seconds\": %.3f, \"errors\": %llu, \"tps\": %.0f}\n",
           (unsigned long long)received, elapsed, (unsigned long long)errors, received / elapsed);
    close(fd);
    return errors ? 1 : 0;
}
