/*
 * detsim-learn - the "after mamori learn" mode of the detection evaluation
 * (docs/design/detection-eval.md): the world's month of benign mail
 * written as the Postfix mail log a provider already has (smtpd's
 * sasl_username line, qmgr's nrcpt line, one smtp delivery line per
 * recipient, qmgr's removed line; RFC 3339 stamps, as journald and
 * rsyslog's RFC 5424 template write them), then the real `mamori learn`
 * run on it into a private sqlite store, whose counter snapshot the
 * evaluation's core then loads at start like mamorid.
 *
 * Not in the log: message content (a mail log has none) and Dovecot's
 * logins (learn only suggests shared addresses from them; it persists
 * nothing of the login engine), so neither is learnt, as on a real
 * install.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detsim.h"

/* An RFC 3339 UTC stamp of t into out (40 bytes). */
static void stamp(uint32_t t, char out[40])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 40, "%Y-%m-%dT%H:%M:%S.000000+00:00", &tm);
}

/* Write the history's messages as Postfix logs them; 0 or -1. */
static int write_log(const struct ds_world *w, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;
	unsigned k;

	if (!f)
		return -1;
	for (i = 0; i < w->nev; i++) {
		const struct ds_event *e = &w->ev[i];
		char ts[40], ip[16], qid[16];

		if (e->type != DS_MSG || !(e->flags & DS_F_HISTORY))
			continue;
		stamp(e->t, ts);
		ds_ip_str(e->ip, ip);
		snprintf(qid, sizeof(qid), "%010X", e->seq);
		fprintf(f, "%s mx1 postfix/submission/smtpd[2211]: %s: "
			"client=unknown[%s], sasl_method=PLAIN, "
			"sasl_username=%s\n", ts, qid, ip,
			ds_str(w, w->acct[e->acct].login));
		fprintf(f, "%s mx1 postfix/qmgr[800]: %s: from=<%s>, "
			"size=4000, nrcpt=%u (queue active)\n", ts, qid,
			ds_str(w, e->sender), e->nrcpt);
		for (k = 0; k < e->nrcpt; k++)
			fprintf(f, "%s mx1 postfix/smtp[901]: %s: to=<%s>, "
				"relay=mx.example.net[192.0.2.25]:25, delay=0.4, "
				"delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent "
				"(250 2.0.0 Ok)\n", ts, qid, ds_rcpt(w, e, k));
		fprintf(f, "%s mx1 postfix/qmgr[800]: %s: removed\n", ts, qid);
	}
	return fclose(f) == 0 ? 0 : -1;
}

int ds_learn(const struct ds_world *w, const char *mamori, const char *conf,
	     char *dir, size_t dirsz, char *spec, size_t specsz)
{
	char log[300], cmd[1200];

	snprintf(dir, dirsz, "/tmp/detsim-learn-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(log, sizeof(log), "%s/mail.log", dir);
	snprintf(spec, specsz, "sqlite:%s/state.db", dir);
	if (write_log(w, log) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "'%s' learn --config '%s' --store '%s' "
		 "'%s' >'%s/learn.out' 2>&1", mamori, conf, spec, log, dir);
	return system(cmd) == 0 ? 0 : -1;
}

void ds_learn_cleanup(const char *dir)
{
	static const char *const files[] = { "mail.log", "learn.out",
		"state.db", "state.db-wal", "state.db-shm" };
	char p[300];
	size_t i;

	if (!dir[0])
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}
