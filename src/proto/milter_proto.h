/*
 * milter_proto - the milter protocol (version 6, as Postfix speaks it),
 * sans I/O: packet framing, the MTA's commands decoded, the filter's
 * replies built.  No sockets, no logging, no allocation beyond the bounded
 * packet buffer.
 *
 * Protocol (sendmail libmilter/docs, Postfix MILTER_README; the constants
 * are those of libmilter's mfdef.h): every packet is a 32-bit length in
 * network order, then that many bytes: a command byte and its data.
 * Strings in the data are NUL-terminated; a string that runs to the end of
 * the packet without its NUL is a protocol error (MILTER_E_SYNTAX), never
 * read past.  The MTA sends OPTNEG first (version, actions, protocol
 * steps), then per connection CONNECT and HELO, per message MAIL, RCPT,
 * DATA, HEADER..., EOH, BODY..., BODYEOB, ABORT between messages, QUIT at
 * the end (QUIT_NC: the next connection reuses the socket).  MACRO packets
 * carry macro values for the command that follows; they are never
 * answered.
 *
 * Limits: a packet's length (command byte included) is at most
 * MILTER_MAX_PACKET (1 MiB + 1 KiB: libmilter's largest negotiable data
 * size, SMFIP_MDS_1M, plus room for a command; Postfix's header fields are
 * at most header_size_limit, 100 KiB by default, and body chunks 64 KiB
 * unless a larger size is negotiated, which we never ask for).  A longer
 * or zero length is MILTER_E_TOO_LARGE / MILTER_E_SYNTAX before a byte of
 * the data is buffered.  MAIL and RCPT carry at most MILTER_MAX_ARGS
 * arguments (ESMTP parameters; RFC 5321 has no limit, Postfix sends a
 * handful); more is a protocol error.
 *
 * Threading: none; one parser per connection.  Reply builders append to a
 * caller's bounded buffer and may run on any thread.
 */
#ifndef MAMORI_MILTER_PROTO_H
#define MAMORI_MILTER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MILTER_MAX_PACKET ((size_t)1024 * 1024 + 1024)
#define MILTER_MAX_ARGS 64
#define MILTER_VERSION 6	/* the highest protocol version we speak */
#define MILTER_VERSION_MIN 2	/* the lowest with OPTNEG as we read it */

/* Commands from the MTA (SMFIC_*). */
#define MILTER_C_ABORT 'A'
#define MILTER_C_BODY 'B'
#define MILTER_C_CONNECT 'C'
#define MILTER_C_MACRO 'D'
#define MILTER_C_BODYEOB 'E'
#define MILTER_C_HELO 'H'
#define MILTER_C_QUIT_NC 'K'
#define MILTER_C_HEADER 'L'
#define MILTER_C_MAIL 'M'
#define MILTER_C_EOH 'N'
#define MILTER_C_OPTNEG 'O'
#define MILTER_C_QUIT 'Q'
#define MILTER_C_RCPT 'R'
#define MILTER_C_DATA 'T'
#define MILTER_C_UNKNOWN 'U'

/* Replies to the MTA (SMFIR_*). */
#define MILTER_R_ACCEPT 'a'
#define MILTER_R_CONTINUE 'c'
#define MILTER_R_DISCARD 'd'
#define MILTER_R_ADDHEADER 'h'
#define MILTER_R_INSHEADER 'i'
#define MILTER_R_CHGHEADER 'm'
#define MILTER_R_PROGRESS 'p'
#define MILTER_R_QUARANTINE 'q'
#define MILTER_R_REJECT 'r'
#define MILTER_R_TEMPFAIL 't'
#define MILTER_R_REPLYCODE 'y'

/* Actions the filter may take (SMFIF_*). */
#define MILTER_F_ADDHDRS 0x001u
#define MILTER_F_CHGBODY 0x002u
#define MILTER_F_ADDRCPT 0x004u
#define MILTER_F_DELRCPT 0x008u
#define MILTER_F_CHGHDRS 0x010u
#define MILTER_F_QUARANTINE 0x020u

/* Protocol steps the MTA may leave out or not wait on (SMFIP_*). */
#define MILTER_P_NOCONNECT 0x00000001u
#define MILTER_P_NOHELO 0x00000002u
#define MILTER_P_NOMAIL 0x00000004u
#define MILTER_P_NORCPT 0x00000008u
#define MILTER_P_NOBODY 0x00000010u
#define MILTER_P_NOHDRS 0x00000020u
#define MILTER_P_NOEOH 0x00000040u
#define MILTER_P_NR_HDR 0x00000080u
#define MILTER_P_NOUNKNOWN 0x00000100u
#define MILTER_P_NODATA 0x00000200u
#define MILTER_P_NR_CONN 0x00001000u
#define MILTER_P_NR_HELO 0x00002000u
#define MILTER_P_NR_MAIL 0x00004000u
#define MILTER_P_NR_RCPT 0x00008000u
#define MILTER_P_NR_DATA 0x00010000u
#define MILTER_P_NR_UNKN 0x00020000u
#define MILTER_P_NR_EOH 0x00040000u
#define MILTER_P_NR_BODY 0x00080000u
#define MILTER_P_HDR_LEADSPC 0x00100000u

/* Results (positive module codes). */
enum {
	MILTER_NEED_MORE = 0,	/* consumed everything, no packet yet */
	MILTER_READY = 1,	/* a packet is complete: milter_parser_packet() */
	MILTER_E_TOO_LARGE = 2,	/* length over MILTER_MAX_PACKET */
	MILTER_E_SYNTAX = 3,	/* zero length, missing NUL, short data */
	MILTER_E_UNKNOWN_CMD = 4, /* a command byte we do not know */
	MILTER_E_VERSION = 5,	/* OPTNEG version below MILTER_VERSION_MIN */
};

/* A complete packet; data points into the parser. */
struct milter_packet {
	char cmd;
	const char *data;
	size_t len;		/* bytes after the command byte */
};

struct milter_parser {
	unsigned char head[4];	/* the length bytes read so far */
	size_t nhead;
	size_t want;		/* packet length (command byte included) */
	struct buf pkt;		/* the packet's bytes read so far */
	bool ready;		/* pkt complete, not yet consumed */
	int error;		/* sticky until reset */
	char sample[160];	/* escaped bytes around the last error */
};

/* A decoded command (fields by cmd; strings point into the packet). */
struct milter_cmd {
	char cmd;
	/* OPTNEG */
	uint32_t version, actions, protocol;
	/* CONNECT: host name, family ('U' unknown, 'L' unix, '4', '6'),
	 * port, address ("" unless '4' or '6').  HELO: host. */
	const char *host;
	char family;
	unsigned port;
	const char *addr;
	/* MAIL, RCPT (argv[0] the address, then ESMTP parameters); HEADER
	 * (argv[0] name, argv[1] value) */
	const char *argv[MILTER_MAX_ARGS];
	size_t argc;
	/* MACRO: the command the macros are for; pairs start at body */
	char macro_cmd;
	/* BODY, BODYEOB, MACRO pairs, UNKNOWN: the raw data */
	const char *body;
	size_t body_len;
};

/* A parser for one connection (its buffer grows up to MILTER_MAX_PACKET
 * as packets need it). */
void milter_parser_init(struct milter_parser *p);
/* Free the buffer; p may be initialised again. */
void milter_parser_deinit(struct milter_parser *p);
/* Forget any partial packet and error. */
void milter_parser_reset(struct milter_parser *p);

/*
 * Feed n bytes.  *used is how many were consumed: on MILTER_READY the
 * parser stops right after the packet, and the caller feeds the rest after
 * handling it.  On an error the parser is unusable until reset; the caller
 * logs milter_parser_sample() and closes the connection.
 */
int milter_parser_feed(struct milter_parser *p, const void *data, size_t n,
		       size_t *used);
/* The completed packet, valid until the next feed; NULL if none. */
const struct milter_packet *milter_parser_packet(const struct milter_parser *p,
						 struct milter_packet *out);
/* Is a packet partly read (some of its bytes received)? */
bool milter_parser_busy(const struct milter_parser *p);
/* Escaped sample of the input around the last error, for a log line. */
const char *milter_parser_sample(const struct milter_parser *p);
const char *milter_error_str(int code);

/*
 * Decode pkt into c (strings point into pkt's data).  Returns 0, or
 * MILTER_E_SYNTAX (a string without its NUL, short OPTNEG or CONNECT data,
 * a bad family, too many arguments), MILTER_E_UNKNOWN_CMD, or
 * MILTER_E_VERSION.
 */
int milter_decode(const struct milter_packet *pkt, struct milter_cmd *c);

/*
 * Walk the name/value pairs of a MACRO command: *off starts at 0; each call
 * sets *name and *value and returns true, false at the end.  Names are
 * given as sent ("i", "{auth_authen}").  A pair cut short ends the walk
 * (milter_decode() has refused such packets already).
 */
bool milter_macro_next(const struct milter_cmd *c, size_t *off,
		       const char **name, const char **value);

/*
 * Negotiation: what we answer to an OPTNEG offering actions and protocol
 * steps.  *actions gets want_actions & offered, *protocol want_steps &
 * offered, *version the lower of ours and the MTA's.
 */
void milter_negotiate(const struct milter_cmd *offer, uint32_t want_actions,
		      uint32_t want_steps, uint32_t *version,
		      uint32_t *actions, uint32_t *protocol);

/*
 * Reply builders: append one packet to out.  Each returns 0, or
 * BUF_E_TOO_LARGE when out is full (out is then unchanged).
 */
int milter_put_optneg(struct buf *out, uint32_t version, uint32_t actions,
		      uint32_t protocol);
/* A reply with no data: CONTINUE, ACCEPT, REJECT, TEMPFAIL, DISCARD,
 * PROGRESS. */
int milter_put_simple(struct buf *out, char reply);
/*
 * REPLYCODE: "RCODE XCODE TEXT".  rcode is three digits, 4xx or 5xx;
 * xcode NULL means "4.0.0" or "5.0.0" by rcode's class.  CR, LF and '%' in
 * text become spaces (no header injection into the SMTP reply, no format
 * directive for the MTA).
 */
int milter_put_replycode(struct buf *out, const char *rcode,
			 const char *xcode, const char *text);
/* INSHEADER at index (0: on top), CHGHEADER of the index-th (from 1)
 * field named name (value NULL: delete it), ADDHEADER at the end. */
int milter_put_insheader(struct buf *out, uint32_t index, const char *name,
			 const char *value);
int milter_put_chgheader(struct buf *out, uint32_t index, const char *name,
			 const char *value);
int milter_put_addheader(struct buf *out, const char *name,
			 const char *value);
/* QUARANTINE (Postfix: the hold queue) with a reason. */
int milter_put_quarantine(struct buf *out, const char *reason);

#endif
