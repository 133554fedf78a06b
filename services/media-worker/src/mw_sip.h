/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_sip.h -- SIP messages for the worker on GNU oSIP2: bounded parsing
 * with the validation oSIP's lenient parser leaves out (RFC 4475 torture
 * cases), TCP stream framing, the application-level request checks of a
 * UAS (RFC 3261 8.2), and response construction. Pure: buffers in,
 * messages out, no sockets and no globals besides oSIP's parser tables
 * (mw_sip_init), so it is unit-tested against the torture corpus.
 *
 * Why a hand-written pre-scan: oSIP accepts several invalid messages
 * (bad version, overflowing scalars, method/CSeq mismatch, truncated
 * status codes) and has no size limits; it also cannot parse valid
 * messages that carry a NUL in a quoted string. The scan below enforces
 * the start-line grammar, sizes, header counts and Content-Length, and
 * the checks after oSIP's parse enforce the scalar and header rules.
 */
#ifndef MW_SIP_H
#define MW_SIP_H

#include <stddef.h>
#include <stdint.h>

#include <osipparser2/osip_message.h>

#define MW_SIP_MAX_MSG 16384   /* one message, UDP datagram or TCP frame */
#define MW_SIP_MAX_HEADERS 128 /* header lines */
#define MW_SIP_MAX_LINE 4096   /* one header line (with continuations) */
#define MW_SIP_REASON_MAX 64

enum mw_sip_kind
{
	MW_SIP_UNKNOWN = 0,
	MW_SIP_REQUEST,
	MW_SIP_RESPONSE
};

/* Why a message was refused, and how to answer (requests only). */
struct mw_sip_verdict
{
	int kind;						/* enum mw_sip_kind */
	int code;						/* 0 accepted, else the status */
	char reason[MW_SIP_REASON_MAX]; /* reason phrase / log text */
	char hdr[160]; /* extra response header line(s), "Name: v\r\n", or "" */
};

/* oSIP parser tables; once per process, before any thread parses. */
void mw_sip_init(void);

/* Parses and validates one message of 'len' bytes. 'buf' is modified in
 * place (a NUL in a quoted-pair is replaced, see above) and must hold
 * len + 1 bytes. For UDP the bytes past Content-Length are ignored
 * (RFC 3261 18.3). Returns 0 with *out set (free with osip_message_free),
 * or -EBADMSG with 'v' set: requests are answered v->code (400, 416, 505,
 * 513), responses dropped. On refusal *out is NULL. */
int mw_sip_parse(
		char *buf, size_t len, osip_message_t **out, struct mw_sip_verdict *v);

/* RFC 3261 8.2 checks of a valid request addressed to the worker, in the
 * RFC's order: 405/501 method, 416 URI scheme, 483 Max-Forwards 0 (not
 * OPTIONS), 420 Require, 415 body type, 406 Accept. Returns 0 (handle it)
 * or the status, with v->reason and v->hdr (Allow, Unsupported, Accept)
 * set. ACK and CANCEL are never refused here. */
int mw_sip_app_check(osip_message_t *req, struct mw_sip_verdict *v);

/* Stream framing (TCP): looks at the first 'len' bytes received. Returns
 * 1 when a whole message is there (*msglen bytes, after *skip bytes of
 * CRLF keep-alives to discard), 0 when more bytes are needed (*skip may
 * still be set), -EMSGSIZE when the headers or Content-Length exceed
 * MW_SIP_MAX_MSG, -EBADMSG for a malformed Content-Length. A missing
 * Content-Length counts as 0. */
int mw_sip_frame(const char *buf, size_t len, size_t *msglen, size_t *skip);

/* Builds a response to a request oSIP could not parse, from its raw
 * Via, From, To, Call-ID and CSeq lines (copied verbatim, To gets
 * 'to_tag' when it has none). Returns the length written (NUL-
 * terminated) or -ENOSPC, -EBADMSG (no Via or not a request). */
int mw_sip_raw_reply(const char *req, size_t len, int code, const char *reason,
		const char *to_tag, const char *extra_hdrs, char *out, size_t outlen);

/* Builds a response to 'req': Via list, From, To (with 'to_tag' added
 * when the request's To has none and code > 100), Call-ID, CSeq, and the
 * Record-Route list when 'with_rr' (18x/2xx to a dialog-creating
 * INVITE). 'reason' NULL gives the standard phrase. Returns 0 or
 * -ENOMEM; *out is freed by the caller (osip_message_free). */
int mw_sip_response(const osip_message_t *req, int code, const char *reason,
		const char *to_tag, int with_rr, osip_message_t **out);

/* Adds "Name: value" (both copied). Returns 0 or -ENOMEM. */
int mw_sip_add_header(osip_message_t *m, const char *name, const char *value);
/* Sets the body and its Content-Type. Returns 0 or -ENOMEM. */
int mw_sip_set_body(
		osip_message_t *m, const char *ctype, const char *body, size_t len);

/* First value of the header 'name' (case-insensitive, full name, not
 * for the headers oSIP parses into fields), or NULL. */
const char *mw_sip_header(const osip_message_t *m, const char *name);

/* The message body ('*len' bytes, not NUL-terminated in general) and its
 * MIME type "type/subtype" lower-cased into 'ctype' ("" when absent).
 * Returns NULL when there is no body. */
const char *mw_sip_body(
		const osip_message_t *m, size_t *len, char *ctype, size_t ctlen);

/* The whole Call-ID ("number@host"; oSIP keeps the two parts apart) into
 * 'out'. Returns its length, or -ENOSPC / -EINVAL (none). */
int mw_sip_call_id(const osip_message_t *m, char *out, size_t len);

/* Serialises 'm' into a malloc'ed buffer (*out, free with osip_free).
 * Returns the length or -EINVAL. */
int mw_sip_to_str(osip_message_t *m, char **out);

/* Random token of 'n' hex characters (tags, branches), NUL-terminated
 * ('out' holds n + 1 bytes). */
void mw_sip_token(char *out, size_t n);

/* 1 if 's' parses as an unsigned decimal < 2^31 ("0009" is fine). */
int mw_sip_u31(const char *s, uint32_t *out);

#endif
