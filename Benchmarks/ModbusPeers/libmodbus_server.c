/*
 * libmodbus_server: the libmodbus peer of the Modbus/TCP server benchmark.
 * Serves 100 holding registers on 127.0.0.1, on a port of its own, to any
 * number of connections, the way libmodbus's own many-client examples do: one
 * thread, select() over the listening socket and every client, and
 * modbus_receive / modbus_reply for each request.
 *
 * usage: libmodbus_server      prints "ready PORT", serves until killed
 */
#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    modbus_t *context = modbus_new_tcp("127.0.0.1", 0);
    modbus_mapping_t *mapping = modbus_mapping_new(0, 0, 100, 0);
    if (context == NULL || mapping == NULL) {
        fprintf(stderr, "libmodbus_server: %s\n", modbus_strerror(errno));
        return 2;
    }
    for (int i = 0; i < 100; i++) mapping->tab_registers[i] = i;
    int listener = modbus_tcp_listen(context, 256);
    if (listener < 0) {
        fprintf(stderr, "libmodbus_server: listen: %s\n", modbus_strerror(errno));
        return 2;
    }
    struct sockaddr_in bound;
    socklen_t size = sizeof bound;
    getsockname(listener, (struct sockaddr *)&bound, &size);
    printf("ready %d\n", ntohs(bound.sin_port));
    fflush(stdout);

    fd_set open_set;
    FD_ZERO(&open_set);
    FD_SET(listener, &open_set);
    int highest = listener;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    for (;;) {
        fd_set ready = open_set;
        if (select(highest + 1, &ready, NULL, NULL, NULL) < 0) {
            if (errno == EINTR) continue;
            perror("select");
            return 2;
        }
        for (int fd = 0; fd <= highest; fd++) {
            if (!FD_ISSET(fd, &ready)) continue;
            if (fd == listener) {
                int client = accept(listener, NULL, NULL);
                if (client < 0) continue;
                FD_SET(client, &open_set);
                if (client > highest) highest = client;
                continue;
            }
            modbus_set_socket(context, fd);
            int length = modbus_receive(context, query);
            if (length > 0) {
                modbus_reply(context, query, length, mapping);
            } else if (length == -1) {
                close(fd);
                FD_CLR(fd, &open_set);
            }
        }
    }
}
