/*
 * null-milter - the ceiling of the milter benchmark: a libmilter filter
 * that does nothing and accepts every message.
 *
 * It negotiates what mamorid's milter negotiates (src/front/milter.c,
 * cb_negotiate): no RCPT, DATA, unknown-command and end-of-header steps,
 * no replies to CONNECT, HELO, MAIL, each header field and each body chunk,
 * header values with their leading space, each flag only if the MTA offers
 * it.  So the MTA sends it the same packets and waits for the same replies
 * (OPTNEG and end of message) as with mamorid; what is left is libmilter's
 * own cost: a thread per connection, a read and a callback per packet, one
 * reply per message.  It looks at nothing and allocates nothing per message.
 *
 * Usage: null-milter [-T SECONDS] SOCKET   (SOCKET as smfi_setconn:
 * unix:PATH or inet:PORT@127.0.0.1).  Exits after -T seconds (default
 * 3600) so a forgotten one does not linger, or on SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

/* The flags mamorid asks for (src/front/milter.c cb_negotiate). */
#define WANT (SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NORCPT | SMFIP_NOEOH | \
	      SMFIP_HDR_LEADSPC | SMFIP_NR_CONN | SMFIP_NR_HELO | \
	      SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_BODY)

/* Keep the steps mamorid keeps; ask only for offered flags. */
static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3,
			     unsigned long *pf0, unsigned long *pf1,
			     unsigned long *pf2, unsigned long *pf3)
{
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
	*pf1 = f1 & WANT;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

/* Steps with a no-reply flag must answer SMFIS_NOREPLY. */
static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	return SMFIS_NOREPLY;
}

/* HELO: no reply. */
static sfsistat cb_helo(SMFICTX *ctx, char *name)
{
	return SMFIS_NOREPLY;
}

/* MAIL: no reply. */
static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	return SMFIS_NOREPLY;
}

/* Each header field: no reply. */
static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	return SMFIS_NOREPLY;
}

/* Each body chunk: no reply. */
static sfsistat cb_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
	return SMFIS_NOREPLY;
}

/* End of message: accept. */
static sfsistat cb_eom(SMFICTX *ctx)
{
	return SMFIS_ACCEPT;
}

static struct smfiDesc desc = {
	.xxfi_name = "null-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = cb_connect,
	.xxfi_helo = cb_helo,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_header = cb_header,
	.xxfi_body = cb_body,
	.xxfi_eom = cb_eom,
	.xxfi_negotiate = cb_negotiate,
};

/* The -T time limit. */
static void on_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

int main(int argc, char **argv)
{
	unsigned limit = 3600;
	int ch;

	while ((ch = getopt(argc, argv, "T:")) != -1) {
		if (ch == 'T') {
			limit = (unsigned)strtoul(optarg, NULL, 10);
		} else {
			fprintf(stderr, "usage: null-milter [-T SECONDS] "
				"unix:PATH|inet:PORT@127.0.0.1\n");
			return 64;
		}
	}
	if (optind != argc - 1 || !limit) {
		fprintf(stderr, "usage: null-milter [-T SECONDS] "
			"unix:PATH|inet:PORT@127.0.0.1\n");
		return 64;
	}
	signal(SIGALRM, on_alarm);
	alarm(limit);
	if (!strncmp(argv[optind], "unix:", 5))
		unlink(argv[optind] + 5);
	if (smfi_setconn(argv[optind]) != MI_SUCCESS ||
	    smfi_register(desc) != MI_SUCCESS) {
		fprintf(stderr, "null-milter: cannot listen on %s\n",
			argv[optind]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
