/* What a refused connect() costs the kernel, three ways (issue 17, docs/benchmarks.md):
 *
 *   0: a socket per port: socket, connect, getsockopt(SO_ERROR), close
 *   1: one socket reused: connect, getsockopt(SO_ERROR), connect(AF_UNSPEC) to dissolve
 *   2: one socket reused: connect, connect again (reads the outcome and dissolves it)
 *
 * Ports 1-65535 of ADDR one after another on one thread; on veth and loopback the reset is
 * processed inside connect(), so each port is over when the second call returns. Run it in
 * the lab's scanner namespace, under /usr/bin/time for the system time:
 *
 *   cc -O2 -o /tmp/connect_reuse bench/connect_reuse.c
 *   ip netns exec ptb-vs /usr/bin/time -f "%U user %S sys" /tmp/connect_reuse 198.18.1.2 0
 *
 * Traffic goes only to ADDR, which must be a lab address (bench/lab.sh). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* The outcome of a connect() that said EINPROGRESS, from SO_ERROR: 0 still under way. */
static int so_error(int s) {
    int e = 0;
    socklen_t l = sizeof e;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
    return e;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: connect_reuse ADDR MODE(0|1|2)\n");
        return 2;
    }
    int mode = atoi(argv[2]);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
        fprintf(stderr, "not an IPv4 address: %s\n", argv[1]);
        return 2;
    }
    struct sockaddr unspec = {0};
    unspec.sa_family = AF_UNSPEC;
    int refused = 0, other = 0, s = -1;
    double t0 = now();
    for (int p = 1; p <= 65535; p++) {
        a.sin_port = htons(p);
        if (s < 0)
            s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP);
        int r = connect(s, (struct sockaddr *)&a, sizeof a);
        int e = r < 0 ? errno : 0;
        int refusal = 0;
        if (e == EINPROGRESS) {
            if (mode == 2) {
                r = connect(s, (struct sockaddr *)&a, sizeof a);
                refusal = r < 0 && errno == ECONNREFUSED;
            } else {
                refusal = so_error(s) == ECONNREFUSED;
            }
        } else {
            refusal = e == ECONNREFUSED;
        }
        refused += refusal;
        other += !refusal;
        if (mode == 0 || !refusal || (mode == 1 && connect(s, &unspec, sizeof unspec) < 0)) {
            close(s);
            s = -1;
        }
    }
    printf("mode %d: %.3f s, %d refused, %d other\n", mode, now() - t0, refused, other);
    return 0;
}
