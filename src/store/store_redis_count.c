/*
 * store_redis_count - store_count on the redis store: counters and
 * distinct counts in buckets, fleet-wide, for the login engine.  See
 * store.h (struct store_cnt) for the meaning and docs/design/fleet.md.
 *
 * Keys: RDS_PREFIX "n:N:NS:H:K:LEN:IDX", N the namespace's length, H the
 * first 16 bytes (hex) of HMAC-SHA256(hash key, key), K the kind (s
 * counter, e exact set, h HyperLogLog), IDX = now / LEN.  Items are the
 * first 8 bytes (hex) of HMAC-SHA256(hash key, item).  So Redis holds
 * neither a login nor an address nor a pwhash: only keyed hashes, which a
 * reader without the deployment's key cannot test guesses against.
 *
 * One call is one EVAL of rds_count_lua on the asynchronous link
 * (pipelined with the windows, never blocking the loop): atomic, so two
 * hosts adding at once each count the other's add.  The script's text is
 * sent each time (Redis caches it compiled); the login engine calls it for
 * failures and for addresses already failing, not for every login.  A
 * bucket expires nb lengths and a minute after its last add; an exact set
 * takes at most STORE_CNT_SET_CAP items per bucket.  Answers later than
 * timeout_ms, a dropped link or a server that cannot serve report
 * STORE_E_RETRY (rds_tick, as for the windows).  Event-loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "store/store_redis-internal.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Used when the deployment set no key: hides, does not protect. */
static const char rds_count_default_key[] = "mamori store_count v1";

/*
 * KEYS: each count's nb buckets, newest first.  ARGV: per count six
 * values: kind (s, e, h, or R plus the kind: reset first), add, item (''
 * none), ttl, nb, set cap.
 * Answers one integer per count.
 */
static const char rds_count_lua[] =
	"local out, k, a = {}, 1, 1 "
	"while a <= #ARGV do "
	" local kind, add, item = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2] "
	" local ttl, nb = ARGV[a + 3], tonumber(ARGV[a + 4]) "
	" local cap = tonumber(ARGV[a + 5]) "
	" local cur = KEYS[k] "
	" if #kind == 2 then kind = string.sub(kind, 2) "
	"  redis.call('DEL', unpack(KEYS, k, k + nb - 1)) end "
	" if kind == 's' then "
	"  if add > 0 then redis.call('INCRBY', cur, add) "
	"   redis.call('EXPIRE', cur, ttl) end "
	"  local sum = 0 "
	"  for i = k, k + nb - 1 do "
	"   sum = sum + tonumber(redis.call('GET', KEYS[i]) or '0') end "
	"  out[#out + 1] = sum "
	" elseif kind == 'e' then "
	"  if item ~= '' and redis.call('SCARD', cur) < cap then "
	"   redis.call('SADD', cur, item) redis.call('EXPIRE', cur, ttl) end "
	"  out[#out + 1] = #redis.call('SUNION', unpack(KEYS, k, k + nb - 1)) "
	" else "
	"  if item ~= '' then redis.call('PFADD', cur, item) "
	"   redis.call('EXPIRE', cur, ttl) end "
	"  out[#out + 1] = redis.call('PFCOUNT', unpack(KEYS, k, k + nb - 1)) "
	" end "
	" k = k + nb a = a + 6 "
	"end return out";

void rds_count_key(struct rds_store *rs, const char *key)
{
	if (key == NULL || key[0] == '\0')
		key = rds_count_default_key;
	rs->hkeylen = strlen(key) < sizeof(rs->hkey) ? strlen(key) :
		      sizeof(rs->hkey);
	memcpy(rs->hkey, key, rs->hkeylen);
}

/* The first n bytes of HMAC-SHA256(key, s) in hex, into out (2n + 1). */
static void rds_hmac_hex(const struct rds_store *rs, const char *s,
			 size_t n, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HMAC(EVP_sha256(), rs->hkey, (int)rs->hkeylen,
	     (const unsigned char *)s, strlen(s), md, &mdlen);
	buf_hex(md, n < mdlen ? n : mdlen, out);
}

/* The answer to a store_count call. */
static void rds_count_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rds_creq *q = priv;
	redisReply *r = reply;
	size_t i;
	int got = rds_pend_answer(ac, r, &q->p, q->n, "count");

	if (got <= 0) {
		if (got == 0)
			q->cb(q->arg, STORE_E_RETRY, NULL, 0);
		free(q);
		return;
	}
	for (i = 0; i < q->n; i++) {
		const redisReply *e = r->element[i];

		q->c[i].count = e->type == REDIS_REPLY_INTEGER &&
				e->integer > 0 ? (uint64_t)e->integer : 0;
	}
	q->cb(q->arg, STORE_OK, q->c, q->n);
	free(q);
}

void rds_counts(struct store *st, const char *ns, uint32_t now,
	       const struct store_cnt *c, size_t n, store_cnt_cb *cb,
	       void *arg)
{
	static const char kinds[] = "seh";
	enum { KEYS_MAX = STORE_CNT_MAX * STORE_CNT_BUCKETS,
	       ARGS_MAX = 3 + KEYS_MAX + 6 * STORE_CNT_MAX };
	struct rds_store *rs = (struct rds_store *)st;
	const char **argv = xcalloc(ARGS_MAX, sizeof(*argv));
	size_t *len = xcalloc(ARGS_MAX, sizeof(*len));
	char **bufs = xcalloc(ARGS_MAX, sizeof(*bufs));
	char h[33], item[17], nk[24];
	struct rds_creq *q;
	size_t i, j, m = 0, nb = 0, nkeys = 0;
	int rc;

	/* Back since the last tick: open it now (calls queue until it is). */
	if (rs->ac == NULL && rds_up(rs))
		rds_async_up(rs);
	if (rs->ac == NULL) {
		cb(arg, STORE_E_RETRY, NULL, 0);
		goto out;
	}
	argv[m++] = "EVAL";
	argv[m++] = rds_count_lua;
	argv[m++] = nk;
	for (i = 0; i < n; i++) {
		uint32_t idx = now / c[i].len;

		rds_hmac_hex(rs, c[i].key, 16, h);
		for (j = 0; j < c[i].nb; j++) {
			bufs[nb] = xasprintf(RDS_PREFIX "n:%zu:%s:%s:%c:%u:%u",
					     strlen(ns), ns, h,
					     kinds[c[i].kind], c[i].len,
					     idx - (uint32_t)j);
			argv[m++] = bufs[nb++];
			nkeys++;
		}
	}
	snprintf(nk, sizeof(nk), "%zu", nkeys);
	for (i = 0; i < n; i++) {
		item[0] = '\0';
		if (c[i].kind != STORE_CNT_SUM && c[i].item != NULL)
			rds_hmac_hex(rs, c[i].item, 8, item);
		bufs[nb] = xasprintf("%s%c", c[i].reset ? "R" : "",
				     kinds[c[i].kind]);
		argv[m++] = bufs[nb++];
		bufs[nb] = xasprintf("%u", c[i].kind == STORE_CNT_SUM ?
				     c[i].add : 0);
		argv[m++] = bufs[nb++];
		bufs[nb] = xstrdup(item);
		argv[m++] = bufs[nb++];
		bufs[nb] = xasprintf("%u", c[i].nb * c[i].len + 60);
		argv[m++] = bufs[nb++];
		bufs[nb] = xasprintf("%u", (unsigned)c[i].nb);
		argv[m++] = bufs[nb++];
		argv[m++] = STORE_CNT_SET_CAP_STR;
	}
	for (i = 0; i < m; i++)
		len[i] = strlen(argv[i]);
	q = xcalloc(1, sizeof(*q));
	q->cb = cb;
	q->arg = arg;
	q->n = n;
	for (i = 0; i < n; i++) {
		q->c[i] = c[i];
		q->c[i].key = q->c[i].item = NULL;
		q->c[i].count = 0;
	}
	rc = redisAsyncCommandArgv(rs->ac, rds_count_reply, q, (int)m, argv,
				   len);
	if (rc != REDIS_OK) {
		free(q);
		rs->reset = true;
		cb(arg, STORE_E_RETRY, NULL, 0);
		goto out;
	}
	rds_pend_add(rs, &q->p);
out:
	for (i = 0; i < nb; i++)
		free(bufs[i]);
	free(bufs);
	free(argv);
	free(len);
}
