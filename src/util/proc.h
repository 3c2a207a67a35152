/*
 * proc - run a command without blocking the event loop and hear when it
 * ends (the held-mail commands, postsuper -H / -d).
 *
 * A runner owns one SIGCHLD event on its event base (libevent evsignal:
 * only one base per process may handle signals) and the children it
 * started.  When SIGCHLD arrives it reaps each of its own children with
 * waitpid(pid, WNOHANG), never waitpid(-1), so children others start are
 * left alone.  A child runs in its own process group; one still running
 * after its timeout is killed with its group (SIGKILL) and reported as
 * timed out.
 *
 * No shell: argv is executed as it is (posix_spawn, no PATH search), stdin
 * from /dev/null, stdout and stderr inherited, SIGPIPE and SIGCHLD at
 * their defaults in the child.
 *
 * Threading: the event base's thread.  Lifetime: proc_runner_free() kills
 * and reaps the children still running; their callbacks do not run.
 */
#ifndef MAMORI_PROC_H
#define MAMORI_PROC_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct proc_runner;

/* How a command ended. */
struct proc_result {
	int exit_status;	/* 0..255 when it exited, else -1 */
	int signal;		/* the signal that ended it, else 0 */
	bool timed_out;		/* killed after its timeout */
	int64_t duration_ms;	/* from spawn to reaping */
};

typedef void proc_done_cb(void *arg, const struct proc_result *r);

/* A runner on base (borrowed); NULL if the signal event cannot be set. */
struct proc_runner *proc_runner_new(struct event_base *base);
void proc_runner_free(struct proc_runner *pr);

/*
 * Start argv[0] with argv (NULL-terminated, copied by the kernel at spawn);
 * cb runs once on the loop when it has ended, timeout_s (> 0) at most
 * after the start.  Returns 0, or a positive errno when it could not start
 * (cb then never runs).
 */
int proc_run(struct proc_runner *pr, char *const argv[], unsigned timeout_s,
	     proc_done_cb *cb, void *arg);

#endif
