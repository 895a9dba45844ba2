/* dapi-relayd: the relays of relay.c as a process of their own, for deploy/stack.sh's
 * cuttable cluster (`up --brokers N --cuttable`): the links between the last broker and
 * the others go through it, and `stack.sh cut|heal` send it a signal.
 *
 *   dapi-relayd LISTEN_PORT:TARGET_PORT...   (127.0.0.1 on both sides)
 *   SIGUSR1: hold every link (what either side sends waits, as on a link that stalls)
 *   SIGUSR2: let them flow again;  SIGTERM, SIGINT: stop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "relay.h"

#define MAX_RELAYS 32

static volatile sig_atomic_t want_hold, want_stop;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_hold = 1;
	else if (sig == SIGUSR2)
		want_hold = 0;
	else
		want_stop = 1;
}

int main(int argc, char **argv)
{
	struct relay *relays[MAX_RELAYS];
	int n = 0, listen_port, target_port;
	int held = 0;

	if (argc < 2 || argc - 1 > MAX_RELAYS) {
		fprintf(stderr, "usage: dapi-relayd LISTEN_PORT:TARGET_PORT... (at most %d)\n",
		        MAX_RELAYS);
		return 2;
	}
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	for (int i = 1; i < argc; i++) {
		if (sscanf(argv[i], "%d:%d", &listen_port, &target_port) != 2 ||
		    !(relays[n] = relay_start_at("127.0.0.1", target_port, listen_port))) {
			fprintf(stderr, "dapi-relayd: cannot relay %s\n", argv[i]);
			while (n > 0)
				relay_stop(relays[--n]);
			return 1;
		}
		n++;
	}
	fprintf(stderr, "dapi-relayd: %d links\n", n);
	while (!want_stop) {
		if (want_hold != held) {
			held = want_hold;
			for (int i = 0; i < n; i++)
				relay_hold(relays[i], held);
			fprintf(stderr, "dapi-relayd: links %s\n", held ? "held (cut)" : "flowing");
		}
		usleep(20000);
	}
	while (n > 0)
		relay_stop(relays[--n]);
	return 0;
}
