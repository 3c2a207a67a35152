/*
 * proc - commands run off the event loop's critical path.  See proc.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "util/proc.h"
#include "util/xalloc.h"

extern char **environ;

/* One running child. */
struct proc {
	struct proc_runner *pr;
	struct proc *next;
	pid_t pid;
	struct event *timer;
	int64_t start_ms;
	bool timed_out;
	proc_done_cb *cb;
	void *arg;
};

struct proc_runner {
	struct event_base *base;
	struct event *sigchld;
	struct proc *kids;
};

/* Monotonic milliseconds. */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Unlink p from its runner and free it. */
static void proc_drop(struct proc *p)
{
	struct proc **pp;

	for (pp = &p->pr->kids; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	event_free(p->timer);
	free(p);
}

/* Reap every child of ours that has ended and report it. */
static void reap(struct proc_runner *pr)
{
	struct proc *p = pr->kids, *next;

	for (; p; p = next) {
		struct proc_result r = { .exit_status = -1 };
		int status;
		pid_t got;

		next = p->next;
		do
			got = waitpid(p->pid, &status, WNOHANG);
		while (got < 0 && errno == EINTR);
		if (got == 0)
			continue;
		if (got > 0 && WIFEXITED(status))
			r.exit_status = WEXITSTATUS(status);
		else if (got > 0 && WIFSIGNALED(status))
			r.signal = WTERMSIG(status);
		r.timed_out = p->timed_out;
		r.duration_ms = now_ms() - p->start_ms;
		/* The callback may start another child: unlink first. */
		{
			proc_done_cb *cb = p->cb;
			void *arg = p->arg;

			proc_drop(p);
			cb(arg, &r);
		}
		/* next may have been reaped by a nested run; start over. */
		next = pr->kids;
	}
}

/* SIGCHLD: some child ended. */
static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	reap(arg);
}

/* A child outlived its timeout: kill it; SIGCHLD reports it. */
static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct proc *p = arg;

	(void)fd;
	(void)what;
	p->timed_out = true;
	kill(-p->pid, SIGKILL);
	/* In case the signal was coalesced with an earlier one. */
	reap(p->pr);
}

struct proc_runner *proc_runner_new(struct event_base *base)
{
	struct proc_runner *pr = xcalloc(1, sizeof(*pr));

	pr->base = base;
	pr->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, pr);
	if (!pr->sigchld || evsignal_add(pr->sigchld, NULL) != 0) {
		if (pr->sigchld)
			event_free(pr->sigchld);
		free(pr);
		return NULL;
	}
	return pr;
}

void proc_runner_free(struct proc_runner *pr)
{
	if (!pr)
		return;
	while (pr->kids) {
		struct proc *p = pr->kids;

		kill(-p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
		proc_drop(p);
	}
	event_free(pr->sigchld);
	free(pr);
}

int proc_run(struct proc_runner *pr, char *const argv[], unsigned timeout_s,
	     proc_done_cb *cb, void *arg)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	struct timeval tv = { .tv_sec = timeout_s ? timeout_s : 1 };
	struct proc *p;
	sigset_t def, none;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_init(&at);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGCHLD);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	/* Its own process group, so that a timeout kills what it started
	 * too (a wrapper script's children). */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETPGROUP);
	r = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r != 0)
		return r;
	p = xcalloc(1, sizeof(*p));
	p->pr = pr;
	p->pid = pid;
	p->start_ms = now_ms();
	p->cb = cb;
	p->arg = arg;
	p->timer = evtimer_new(pr->base, on_timeout, p);
	if (p->timer)
		evtimer_add(p->timer, &tv);
	/* A child that ends before this line still finds itself on the
	 * list: libevent runs on_sigchld from the loop, not the handler. */
	p->next = pr->kids;
	pr->kids = p;
	return 0;
}
