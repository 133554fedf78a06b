/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_sip.c -- bounded SIP parsing and validation on oSIP2, TCP framing,
 * UAS request checks and response construction (see mw_sip.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "mw_log.h"
#include "mw_sip.h"

/* methods the worker handles; everything else is refused */
#define MW_SIP_ALLOW "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE"
/* methods we know but do not allow here (405); others are 501 */
static const char *const known_methods[] = {"REGISTER", "SUBSCRIBE", "NOTIFY",
		"MESSAGE", "REFER", "PUBLISH", "PRACK", NULL};

/* oSIP's own diagnostics (a line per malformed message by default on
 * stderr) become debug lines of ours: a peer must not be able to flood
 * the log, and the refusal is logged once by the caller anyway. */
static void osip_trace_cb(const char *fi, int li, osip_trace_level_t level,
		const char *chfr, va_list ap)
{
	char msg[256];
	size_t n;

	if(mw_log_threshold < MW_LOG_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), chfr, ap);
	n = strlen(msg);
	while(n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	mw_log_write(MW_LOG_DEBUG, "osip %s:%d: %s", fi, li, msg);
}

void mw_sip_init(void)
{
	parser_init();
	osip_trace_initialize_func(OSIP_WARNING, osip_trace_cb);
}

static void verdict(struct mw_sip_verdict *v, int code, const char *reason)
{
	v->code = code;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
}

static int is_token_char(int c)
{
	return isalnum(c) || (c && strchr("-.!%*_+`'~", c));
}

int mw_sip_u31(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if(!s || !isdigit((unsigned char)*s))
		return 0;
	for(; *s; s++) {
		if(!isdigit((unsigned char)*s))
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
		if(v > 0x7fffffffULL)
			return 0;
	}
	if(out)
		*out = (uint32_t)v;
	return 1;
}

/* ---- raw scan ---------------------------------------------------------- */

/* Header names whose duplicates make a message invalid (RFC 3261 7.3). */
enum singular
{
	H_FROM,
	H_TO,
	H_CALLID,
	H_CSEQ,
	H_CLEN,
	H_CTYPE,
	H_MAXF,
	H__N
};

static int singular_of(const char *n, size_t l)
{
	static const struct
	{
		const char *full, *compact;
	} names[H__N] = {{"from", "f"}, {"to", "t"}, {"call-id", "i"},
			{"cseq", NULL}, {"content-length", "l"}, {"content-type", "c"},
			{"max-forwards", NULL}};
	int i;

	for(i = 0; i < H__N; i++) {
		if(strlen(names[i].full) == l && strncasecmp(n, names[i].full, l) == 0)
			return i;
		if(names[i].compact && l == 1 &&
				tolower((unsigned char)*n) == *names[i].compact)
			return i;
	}
	return -1;
}

struct scan
{
	size_t start;	 /* first byte of the start line */
	size_t sl_end;	 /* end of the start line (its CR or LF) */
	size_t body;	 /* first byte of the body */
	long clen;		 /* Content-Length, -1 when absent */
	int count[H__N]; /* occurrences of singular headers */
	char dup[32];	 /* name of a duplicated singular header */
};

static size_t skip_ws(const char *b, size_t i, size_t end)
{
	while(i < end && (b[i] == ' ' || b[i] == '\t'))
		i++;
	return i;
}

/* Strict decimal Content-Length in [0, max]. */
static long parse_clen(const char *b, size_t i, size_t end, long max)
{
	long v = 0;
	size_t n = 0;

	i = skip_ws(b, i, end);
	while(i < end && isdigit((unsigned char)b[i])) {
		v = v * 10 + (b[i++] - '0');
		if(v > max)
			return -2;
		n++;
	}
	i = skip_ws(b, i, end);
	return n && i == end ? v : -1;
}

/* Walks the start line and the header lines of buf[0..len). Fills 's';
 * 'fix' replaces a NUL in a quoted-pair by '0' (writes to buf). Returns 0,
 * 1 when the header section is not complete yet, or -EBADMSG /
 * -EMSGSIZE with 'v' set. */
static int scan_headers(char *buf, size_t len, int fix, struct scan *s,
		struct mw_sip_verdict *v)
{
	size_t i = 0, ls, le, nlines = 0, hstart = 0;
	long cl;
	int n;

	memset(s, 0, sizeof(*s));
	s->clen = -1;
	/* RFC 3261 7.5: CRLFs before the start line are ignored */
	while(i < len && (buf[i] == '\r' || buf[i] == '\n'))
		i++;
	s->start = i;
	for(;;) {
		ls = i;
		while(i < len && buf[i] != '\n') {
			if(buf[i] == 0) {
				/* legal only as a quoted-pair ("\" NUL) in a header */
				if(!fix || nlines == 0 || i == 0 || buf[i - 1] != '\\') {
					verdict(v, 400, "NUL byte in header");
					return -EBADMSG;
				}
				buf[i] = '0';
			}
			i++;
		}
		if(i >= len) {
			if(len - s->start > MW_SIP_MAX_MSG) {
				verdict(v, 513, "Message Too Large");
				return -EMSGSIZE;
			}
			return 1;
		}
		le = i > ls && buf[i - 1] == '\r' ? i - 1 : i;
		i++; /* past LF */
		if(nlines == 0) {
			s->sl_end = le;
			nlines++;
			continue;
		}
		if(le == ls) {
			s->body = i;
			break;
		}
		if(buf[ls] == ' ' || buf[ls] == '\t') {
			/* continuation of the previous header line */
			if(nlines == 1) {
				verdict(v, 400, "Bad header folding");
				return -EBADMSG;
			}
			if(le - hstart > MW_SIP_MAX_LINE) {
				verdict(v, 400, "Header line too long");
				return -EBADMSG;
			}
			continue;
		}
		hstart = ls;
		if(++nlines > MW_SIP_MAX_HEADERS + 1) {
			verdict(v, 400, "Too many headers");
			return -EBADMSG;
		}
		if(le - ls > MW_SIP_MAX_LINE) {
			verdict(v, 400, "Header line too long");
			return -EBADMSG;
		}
		{
			size_t ne = ls, colon;
			while(ne < le && is_token_char((unsigned char)buf[ne]))
				ne++;
			colon = skip_ws(buf, ne, le);
			if(ne == ls || colon >= le || buf[colon] != ':') {
				verdict(v, 400, "Malformed header line");
				return -EBADMSG;
			}
			n = singular_of(buf + ls, ne - ls);
			if(n < 0)
				continue;
			if(++s->count[n] > 1 && !s->dup[0])
				snprintf(s->dup, sizeof(s->dup), "%.*s", (int)(ne - ls),
						buf + ls);
			if(n == H_CLEN) {
				cl = parse_clen(buf, colon + 1, le, MW_SIP_MAX_MSG);
				if(cl == -2) {
					verdict(v, 513, "Message Too Large");
					return -EMSGSIZE;
				}
				if(cl < 0) {
					verdict(v, 400, "Bad Content-Length");
					return -EBADMSG;
				}
				s->clen = cl;
			}
		}
	}
	if(s->body - s->start > MW_SIP_MAX_MSG) {
		verdict(v, 513, "Message Too Large");
		return -EMSGSIZE;
	}
	return 0;
}

/* ---- start line ---------------------------------------------------------- */

static int scheme_ok(const char *uri, size_t len)
{
	return (len > 4 && strncasecmp(uri, "sip:", 4) == 0) ||
		   (len > 5 && strncasecmp(uri, "sips:", 5) == 0);
}

/* The host[:port] of a sip/sips Request-URI: a bracketed IPv6 reference
 * or a name/IPv4 without ':', then an optional all-digit port. oSIP takes
 * "sip:2001:db8::10" as host "2001:db8:" port "10" (RFC 5118 4.2). */
static int ruri_hostport_ok(const char *u, size_t len)
{
	const char *p = memchr(u, ':', len) + 1, *end = u + len, *at, *q;
	size_t n = 0;
	long port = 0;

	/* the userinfo ends at the last '@' (user parts may hold ';') */
	for(at = end; at > p; at--)
		if(at[-1] == '@')
			break;
	if(at > p)
		p = at;
	if(p < end && *p == '[') {
		q = memchr(p, ']', (size_t)(end - p));
		if(!q || q == p + 1)
			return 0;
		p = q + 1;
	} else {
		while(p < end && *p != ':' && *p != ';' && *p != '?')
			p++, n++;
		if(!n)
			return 0;
	}
	if(p < end && *p == ':') {
		p++;
		n = 0;
		while(p < end && isdigit((unsigned char)*p)) {
			port = port * 10 + (*p++ - '0');
			if(port > 65535)
				return 0;
			n++;
		}
		if(!n || (p < end && *p != ';' && *p != '?'))
			return 0;
	}
	return 1;
}

/* A '?' after the host part starts URI headers; one in the userinfo is
 * legal (RFC 4475 intmeth). The userinfo ends at the last '@'. */
static int ruri_has_headers(const char *u, size_t len)
{
	const char *p = u + len;

	while(p > u && p[-1] != '@')
		p--;
	return memchr(p, '?', len - (size_t)(p - u)) != NULL;
}

static int check_request_line(
		const char *b, size_t len, struct mw_sip_verdict *v)
{
	const char *sp1, *sp2, *uri, *ver;
	size_t ulen, i, vlen;

	sp1 = memchr(b, ' ', len);
	if(!sp1 || sp1 == b) {
		verdict(v, 400, "Malformed Request-Line");
		return -EBADMSG;
	}
	for(i = 0; b + i < sp1; i++)
		if(!is_token_char((unsigned char)b[i])) {
			verdict(v, 400, "Malformed method");
			return -EBADMSG;
		}
	uri = sp1 + 1;
	sp2 = memchr(uri, ' ', len - (size_t)(uri - b));
	if(!sp2 || sp2 == uri) {
		verdict(v, 400, "Malformed Request-Line");
		return -EBADMSG;
	}
	ulen = (size_t)(sp2 - uri);
	ver = sp2 + 1;
	vlen = len - (size_t)(ver - b);
	/* exactly one SP between elements, none at the end (lwsstart, trws,
	 * lwsruri) */
	if(memchr(ver, ' ', vlen) || memchr(ver, '\t', vlen) || vlen == 0) {
		verdict(v, 400, "Malformed Request-Line");
		return -EBADMSG;
	}
	for(i = 0; i < ulen; i++)
		if((unsigned char)uri[i] <= ' ' || uri[i] == '<' || uri[i] == '>' ||
				uri[i] == '"') {
			verdict(v, 400, "Malformed Request-URI");
			return -EBADMSG;
		}
	if(!(vlen == 7 && strncasecmp(ver, "SIP/2.0", 7) == 0)) {
		if(vlen > 4 && strncasecmp(ver, "SIP/", 4) == 0) {
			verdict(v, 505, "Version Not Supported");
			return -EBADMSG;
		}
		verdict(v, 400, "Malformed Request-Line");
		return -EBADMSG;
	}
	{
		/* scheme ":" ... with a valid scheme name */
		const char *c = memchr(uri, ':', ulen);
		if(!c || c == uri || !isalpha((unsigned char)uri[0])) {
			verdict(v, 400, "Malformed Request-URI");
			return -EBADMSG;
		}
		for(i = 0; uri + i < c; i++)
			if(!isalnum((unsigned char)uri[i]) && !strchr("+-.", uri[i])) {
				verdict(v, 400, "Malformed Request-URI");
				return -EBADMSG;
			}
	}
	if(!scheme_ok(uri, ulen)) {
		verdict(v, 416, "Unsupported URI Scheme");
		return -EBADMSG;
	}
	if(ruri_has_headers(uri, ulen)) {
		/* RFC 3261 19.1.5: headers are not allowed in a Request-URI */
		verdict(v, 400, "Headers in Request-URI");
		return -EBADMSG;
	}
	if(!ruri_hostport_ok(uri, ulen)) {
		verdict(v, 400, "Bad host or port in Request-URI");
		return -EBADMSG;
	}
	return 0;
}

static int check_status_line(
		const char *b, size_t len, struct mw_sip_verdict *v)
{
	int code;

	/* "SIP/2.0" SP 3DIGIT SP reason-phrase (maybe empty) */
	if(len < 12 || strncasecmp(b, "SIP/2.0 ", 8) != 0 ||
			!isdigit((unsigned char)b[8]) || !isdigit((unsigned char)b[9]) ||
			!isdigit((unsigned char)b[10]) || b[11] != ' ') {
		verdict(v, 400, "Malformed Status-Line");
		return -EBADMSG;
	}
	code = (b[8] - '0') * 100 + (b[9] - '0') * 10 + (b[10] - '0');
	if(code < 100 || code > 699) {
		verdict(v, 400, "Bad status code");
		return -EBADMSG;
	}
	return 0;
}

/* ---- checks after oSIP's parse ------------------------------------------ */

static int ip_literal_ok(const char *s)
{
	unsigned char b[16];
	char tmp[64];
	size_t l = strlen(s);

	if(inet_pton(AF_INET, s, b) == 1)
		return 1;
	if(l > 2 && l < sizeof(tmp) && s[0] == '[' && s[l - 1] == ']') {
		memcpy(tmp, s + 1, l - 2);
		tmp[l - 2] = 0;
		return inet_pton(AF_INET6, tmp, b) == 1;
	}
	return 0;
}

static int port_ok(const char *p)
{
	uint32_t n;

	return !p || (mw_sip_u31(p, &n) && n > 0 && n <= 65535);
}

static int check_top_via(osip_message_t *m, struct mw_sip_verdict *v)
{
	osip_via_t *via = osip_list_get(&m->vias, 0);
	osip_generic_param_t *p = NULL;

	if(!via || !via->version || strcmp(via->version, "2.0") != 0 ||
			!via->protocol || !via->host || !via->host[0] ||
			!port_ok(via->port)) {
		verdict(v, 400, "Bad Via");
		return -EBADMSG;
	}
	/* received must be an IP literal; an IPv6 one in brackets (RFC 5118
	 * 4.5, as this project's corpus classifies it). Only the top Via is
	 * ours to check: lower ones were written by other hops. */
	if(osip_via_param_get_byname(via, "received", &p) == 0 && p &&
			(!p->gvalue || !ip_literal_ok(p->gvalue))) {
		verdict(v, 400, "Bad Via received");
		return -EBADMSG;
	}
	p = NULL;
	if(osip_via_param_get_byname(via, "rport", &p) == 0 && p && p->gvalue &&
			!port_ok(p->gvalue)) {
		verdict(v, 400, "Bad Via rport");
		return -EBADMSG;
	}
	return 0;
}

/* An addr-spec without <> must not carry URI headers ('?'): RFC 3261
 * 20.10 requires angle brackets then (regbadct). */
static int check_raw_contacts(const char *b, size_t start, size_t end)
{
	size_t i = start;

	while(i < end) {
		size_t ls = i, le;
		while(i < end && b[i] != '\n')
			i++;
		le = i;
		i++;
		if((le - ls > 8 && strncasecmp(b + ls, "contact", 7) == 0 &&
				   (b[ls + 7] == ':' || b[ls + 7] == ' ')) ||
				(le - ls > 2 && (b[ls] == 'm' || b[ls] == 'M') &&
						(b[ls + 1] == ':' || b[ls + 1] == ' '))) {
			const char *lt = memchr(b + ls, '<', le - ls);
			const char *q = memchr(b + ls, '?', le - ls);
			if(q && !lt)
				return -1;
		}
	}
	return 0;
}

static int check_parsed(osip_message_t *m, const char *b, const struct scan *s,
		struct mw_sip_verdict *v)
{
	uint32_t n;
	osip_header_t *h = NULL;

	if(!m->call_id || !m->call_id->number || !m->from || !m->from->url ||
			!m->to || !m->to->url || !m->cseq || !m->cseq->number ||
			!m->cseq->method || osip_list_size(&m->vias) < 1) {
		verdict(v, 400, "Missing mandatory header");
		return -EBADMSG;
	}
	if(!mw_sip_u31(m->cseq->number, &n)) {
		verdict(v, 400, "Bad CSeq");
		return -EBADMSG;
	}
	if(MSG_IS_REQUEST(m) &&
			(!m->sip_method || strcmp(m->sip_method, m->cseq->method) != 0)) {
		verdict(v, 400, "CSeq method mismatch");
		return -EBADMSG;
	}
	if(check_top_via(m, v) < 0)
		return -EBADMSG;
	if(osip_message_get_max_forwards(m, 0, &h) >= 0 && h &&
			(!mw_sip_u31(h->hvalue, &n) || n > 255)) {
		verdict(v, 400, "Bad Max-Forwards");
		return -EBADMSG;
	}
	h = NULL;
	if(osip_message_header_get_byname(m, "expires", 0, &h) >= 0 && h &&
			!mw_sip_u31(h->hvalue, NULL)) {
		verdict(v, 400, "Bad Expires");
		return -EBADMSG;
	}
	h = NULL;
	if(osip_message_header_get_byname(m, "date", 0, &h) >= 0 && h &&
			(!h->hvalue || strlen(h->hvalue) < 4 ||
					strcmp(h->hvalue + strlen(h->hvalue) - 3, "GMT") != 0)) {
		/* RFC 3261 20.17: the only time zone is GMT (baddate) */
		verdict(v, 400, "Bad Date");
		return -EBADMSG;
	}
	if(check_raw_contacts(b, s->sl_end, s->body) < 0) {
		verdict(v, 400, "Contact with headers needs <>");
		return -EBADMSG;
	}
	return 0;
}

int mw_sip_parse(
		char *buf, size_t len, osip_message_t **out, struct mw_sip_verdict *v)
{
	struct scan s;
	osip_message_t *m = NULL;
	size_t msglen;
	int rc;

	*out = NULL;
	memset(v, 0, sizeof(*v));
	if(len > MW_SIP_MAX_MSG) {
		v->kind = len > 4 && strncmp(buf, "SIP/", 4) == 0 ? MW_SIP_RESPONSE
														  : MW_SIP_REQUEST;
		verdict(v, 513, "Message Too Large");
		return -EBADMSG;
	}
	buf[len] = 0;
	rc = scan_headers(buf, len, 1, &s, v);
	v->kind = len - s.start > 4 && strncasecmp(buf + s.start, "SIP/", 4) == 0
					  ? MW_SIP_RESPONSE
					  : MW_SIP_REQUEST;
	if(rc == 1) {
		verdict(v, 400, "Incomplete header section");
		return -EBADMSG;
	}
	if(rc < 0)
		return -EBADMSG;
	if(s.dup[0]) {
		char r[MW_SIP_REASON_MAX];
		snprintf(r, sizeof(r), "Duplicate %s", s.dup);
		verdict(v, 400, r);
		return -EBADMSG;
	}
	rc = v->kind == MW_SIP_RESPONSE
				 ? check_status_line(buf + s.start, s.sl_end - s.start, v)
				 : check_request_line(buf + s.start, s.sl_end - s.start, v);
	if(rc < 0)
		return -EBADMSG;
	/* datagram: Content-Length bounds the body, extra bytes are ignored,
	 * a short body is an error (RFC 3261 18.3) */
	if(s.clen >= 0) {
		if(s.body + (size_t)s.clen > len) {
			verdict(v, 400, "Body shorter than Content-Length");
			return -EBADMSG;
		}
		msglen = s.body + (size_t)s.clen;
	} else {
		msglen = len;
	}
	if(osip_message_init(&m) != 0) {
		verdict(v, 500, "Out of memory");
		return -EBADMSG;
	}
	if(osip_message_parse(m, buf + s.start, msglen - s.start) != 0) {
		osip_message_free(m);
		verdict(v, 400, "Malformed message");
		return -EBADMSG;
	}
	if(check_parsed(m, buf, &s, v) < 0) {
		osip_message_free(m);
		return -EBADMSG;
	}
	*out = m;
	return 0;
}

/* ---- UAS checks ---------------------------------------------------------- */

static int method_known(const char *m)
{
	int i;

	for(i = 0; known_methods[i]; i++)
		if(strcmp(m, known_methods[i]) == 0)
			return 1;
	return 0;
}

static int accepts_sdp(const osip_message_t *req)
{
	osip_accept_t *a;
	int i, any = 0;

	for(i = 0; (a = osip_list_get(&req->accepts, i)) != NULL; i++) {
		any = 1;
		if(!a->type)
			return 1; /* "Accept:" (empty) - treat as no preference */
		if(strcmp(a->type, "*") == 0)
			return 1;
		if(strcasecmp(a->type, "application") == 0 && a->subtype &&
				(strcmp(a->subtype, "*") == 0 ||
						strcasecmp(a->subtype, "sdp") == 0))
			return 1;
	}
	return !any;
}

int mw_sip_app_check(osip_message_t *req, struct mw_sip_verdict *v)
{
	const char *meth = req->sip_method;
	osip_header_t *h = NULL;
	char ctype[64];
	size_t blen;
	int i, n = 0;

	memset(v, 0, sizeof(*v));
	v->kind = MW_SIP_REQUEST;
	if(MSG_IS_ACK(req) || MSG_IS_CANCEL(req))
		return 0;
	if(!MSG_IS_INVITE(req) && !MSG_IS_BYE(req) && !MSG_IS_OPTIONS(req) &&
			!MSG_IS_INFO(req) && !MSG_IS_UPDATE(req)) {
		if(method_known(meth))
			verdict(v, 405, "Method Not Allowed");
		else
			verdict(v, 501, "Not Implemented");
		snprintf(v->hdr, sizeof(v->hdr), "Allow: %s\r\n", MW_SIP_ALLOW);
		return v->code;
	}
	if(!req->req_uri || !req->req_uri->scheme ||
			(strcasecmp(req->req_uri->scheme, "sip") != 0 &&
					strcasecmp(req->req_uri->scheme, "sips") != 0)) {
		verdict(v, 416, "Unsupported URI Scheme");
		return v->code;
	}
	if(osip_message_get_max_forwards(req, 0, &h) >= 0 && h && h->hvalue &&
			strcmp(h->hvalue, "0") == 0 && !MSG_IS_OPTIONS(req)) {
		verdict(v, 483, "Too Many Hops");
		return v->code;
	}
	/* we support no extension: every Require option is unsupported */
	{
		char list[sizeof(v->hdr) - 20];
		size_t l = 0;
		list[0] = 0;
		for(i = 0; (i = osip_message_header_get_byname(
							req, "require", i, &h)) >= 0;
				i++) {
			if(!h || !h->hvalue || !h->hvalue[0])
				continue;
			n++;
			if(l + strlen(h->hvalue) + 3 < sizeof(list))
				l += (size_t)snprintf(list + l, sizeof(list) - l, "%s%s",
						l ? ", " : "", h->hvalue);
		}
		if(n) {
			verdict(v, 420, "Bad Extension");
			snprintf(v->hdr, sizeof(v->hdr), "Unsupported: %s\r\n", list);
			return v->code;
		}
	}
	if((MSG_IS_INVITE(req) || MSG_IS_UPDATE(req)) &&
			mw_sip_body(req, &blen, ctype, sizeof(ctype)) &&
			strcmp(ctype, "application/sdp") != 0) {
		verdict(v, 415, "Unsupported Media Type");
		snprintf(v->hdr, sizeof(v->hdr), "Accept: application/sdp\r\n");
		return v->code;
	}
	if((MSG_IS_INVITE(req) || MSG_IS_UPDATE(req)) && !accepts_sdp(req)) {
		verdict(v, 406, "Not Acceptable");
		snprintf(v->hdr, sizeof(v->hdr), "Accept: application/sdp\r\n");
		return v->code;
	}
	return 0;
}

/* ---- TCP framing --------------------------------------------------------- */

int mw_sip_frame(const char *buf, size_t len, size_t *msglen, size_t *skip)
{
	struct mw_sip_verdict v;
	struct scan s;
	size_t body_len;
	int rc;

	*msglen = 0;
	*skip = 0;
	/* keep-alives (RFC 5626 "\r\n\r\n") and stray CRLFs */
	while(*skip < len && (buf[*skip] == '\r' || buf[*skip] == '\n'))
		(*skip)++;
	if(*skip == len)
		return 0;
	/* the scan does not write with fix = 0 */
	rc = scan_headers((char *)buf + *skip, len - *skip, 0, &s, &v);
	if(rc == 1)
		return 0;
	if(rc == -EMSGSIZE)
		return -EMSGSIZE;
	if(rc < 0) {
		/* malformed headers: frame by the blank line and let the parser
		 * refuse it; only a bad Content-Length breaks the framing */
		if(strstr(v.reason, "Content-Length"))
			return -EBADMSG;
		{
			const char *hb = buf + *skip, *e = NULL;
			size_t i, n = len - *skip;
			for(i = 0; i + 3 < n; i++)
				if(memcmp(hb + i, "\r\n\r\n", 4) == 0) {
					e = hb + i + 4;
					break;
				}
			if(!e)
				return n > MW_SIP_MAX_MSG ? -EMSGSIZE : 0;
			*msglen = (size_t)(e - hb);
			return 1;
		}
	}
	body_len = s.clen > 0 ? (size_t)s.clen : 0;
	if(s.body + body_len > MW_SIP_MAX_MSG)
		return -EMSGSIZE;
	if(len - *skip < s.body + body_len)
		return 0;
	*msglen = s.body + body_len;
	return 1;
}

/* ---- responses ----------------------------------------------------------- */

static int header_is(const char *line, size_t n, const char *full, char compact)
{
	size_t l = strlen(full), i;

	if(n > l && strncasecmp(line, full, l) == 0) {
		i = l;
	} else if(compact && n > 1 && tolower((unsigned char)line[0]) == compact) {
		i = 1;
	} else {
		return 0;
	}
	while(i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < n && line[i] == ':';
}

int mw_sip_raw_reply(const char *req, size_t len, int code, const char *reason,
		const char *to_tag, const char *extra_hdrs, char *out, size_t outlen)
{
	size_t i = 0, o = 0;
	int nvia = 0, r, first = 1;

#define PUT(...)                                        \
	do {                                                \
		r = snprintf(out + o, outlen - o, __VA_ARGS__); \
		if(r < 0 || (size_t)r >= outlen - o)            \
			return -ENOSPC;                             \
		o += (size_t)r;                                 \
	} while(0)

	if(!reason)
		reason = osip_message_get_reason(code);
	PUT("SIP/2.0 %d %s\r\n", code, reason ? reason : "Error");
	while(i < len && (req[i] == '\r' || req[i] == '\n'))
		i++;
	if(len - i > 4 && strncmp(req + i, "SIP/", 4) == 0)
		return -EBADMSG;
	while(i < len) {
		size_t ls = i, le;
		while(i < len && req[i] != '\n')
			i++;
		le = i > ls && req[i - 1] == '\r' ? i - 1 : i;
		i++;
		if(first) {
			first = 0;
			continue;
		}
		if(le == ls)
			break;
		if(le - ls > MW_SIP_MAX_LINE || memchr(req + ls, 0, le - ls))
			continue;
		if(header_is(req + ls, le - ls, "via", 'v')) {
			nvia++;
			PUT("%.*s\r\n", (int)(le - ls), req + ls);
		} else if(header_is(req + ls, le - ls, "from", 'f') ||
				  header_is(req + ls, le - ls, "call-id", 'i') ||
				  header_is(req + ls, le - ls, "cseq", 0)) {
			PUT("%.*s\r\n", (int)(le - ls), req + ls);
		} else if(header_is(req + ls, le - ls, "to", 't')) {
			int has_tag = 0;
			size_t k;
			for(k = ls; k + 4 <= le; k++)
				if(strncasecmp(req + k, "tag=", 4) == 0 && k > ls &&
						req[k - 1] == ';')
					has_tag = 1;
			if(to_tag && !has_tag && code > 100)
				PUT("%.*s;tag=%s\r\n", (int)(le - ls), req + ls, to_tag);
			else
				PUT("%.*s\r\n", (int)(le - ls), req + ls);
		}
	}
	if(!nvia)
		return -EBADMSG;
	if(extra_hdrs && *extra_hdrs)
		PUT("%s", extra_hdrs);
	PUT("Server: byoc-media-worker\r\nContent-Length: 0\r\n\r\n");
#undef PUT
	return (int)o;
}

int mw_sip_response(const osip_message_t *req, int code, const char *reason,
		const char *to_tag, int with_rr, osip_message_t **out)
{
	osip_message_t *r = NULL;
	osip_generic_param_t *tag = NULL;
	int i;

	*out = NULL;
	if(osip_message_init(&r) != 0)
		return -ENOMEM;
	osip_message_set_version(r, osip_strdup("SIP/2.0"));
	osip_message_set_status_code(r, code);
	if(!reason)
		reason = osip_message_get_reason(code);
	osip_message_set_reason_phrase(r, osip_strdup(reason ? reason : "Unknown"));
	if(osip_list_clone(&req->vias, &r->vias,
			   (int (*)(void *, void **))osip_via_clone) != 0 ||
			osip_from_clone(req->from, &r->from) != 0 ||
			osip_to_clone(req->to, &r->to) != 0 ||
			osip_call_id_clone(req->call_id, &r->call_id) != 0 ||
			osip_cseq_clone(req->cseq, &r->cseq) != 0)
		goto fail;
	osip_to_get_tag(r->to, &tag);
	if(!tag && to_tag && code > 100)
		osip_to_set_tag(r->to, osip_strdup(to_tag));
	if(with_rr) {
		osip_record_route_t *rr;
		for(i = 0; (rr = osip_list_get(&req->record_routes, i)) != NULL; i++) {
			osip_record_route_t *c = NULL;
			if(osip_record_route_clone(rr, &c) != 0)
				goto fail;
			osip_list_add(&r->record_routes, c, -1);
		}
	}
	osip_message_set_header(r, "Server", "byoc-media-worker");
	osip_message_set_content_length(r, "0");
	*out = r;
	return 0;
fail:
	osip_message_free(r);
	return -ENOMEM;
}

int mw_sip_add_header(osip_message_t *m, const char *name, const char *value)
{
	return osip_message_set_header(m, name, value) == 0 ? 0 : -ENOMEM;
}

int mw_sip_set_body(
		osip_message_t *m, const char *ctype, const char *body, size_t len)
{
	char cl[16];

	if(osip_message_set_body(m, body, len) != 0 ||
			osip_message_set_content_type(m, ctype) != 0)
		return -ENOMEM;
	if(m->content_length) {
		osip_content_length_free(m->content_length);
		m->content_length = NULL;
	}
	snprintf(cl, sizeof(cl), "%zu", len);
	return osip_message_set_content_length(m, cl) == 0 ? 0 : -ENOMEM;
}

const char *mw_sip_header(const osip_message_t *m, const char *name)
{
	osip_header_t *h = NULL;

	if(osip_message_header_get_byname(m, name, 0, &h) < 0 || !h)
		return NULL;
	return h->hvalue ? h->hvalue : "";
}

const char *mw_sip_body(
		const osip_message_t *m, size_t *len, char *ctype, size_t ctlen)
{
	osip_body_t *b = osip_list_get(&m->bodies, 0);
	size_t i;

	if(ctype && ctlen) {
		ctype[0] = 0;
		if(m->content_type && m->content_type->type)
			snprintf(ctype, ctlen, "%s/%s", m->content_type->type,
					m->content_type->subtype ? m->content_type->subtype : "");
		for(i = 0; ctype[i]; i++)
			ctype[i] = (char)tolower((unsigned char)ctype[i]);
	}
	if(!b || !b->body || b->length == 0) {
		*len = 0;
		return NULL;
	}
	*len = b->length;
	return b->body;
}

int mw_sip_call_id(const osip_message_t *m, char *out, size_t len)
{
	int n;

	if(!m->call_id || !m->call_id->number)
		return -EINVAL;
	if(m->call_id->host)
		n = snprintf(out, len, "%s@%s", m->call_id->number, m->call_id->host);
	else
		n = snprintf(out, len, "%s", m->call_id->number);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int mw_sip_to_str(osip_message_t *m, char **out)
{
	size_t len = 0;

	*out = NULL;
	if(osip_message_to_str(m, out, &len) != 0 || !*out)
		return -EINVAL;
	return (int)len;
}

void mw_sip_token(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[32];
	size_t i;

	if(n > 2 * sizeof(rnd))
		n = 2 * sizeof(rnd);
	if(getrandom(rnd, (n + 1) / 2, 0) != (ssize_t)((n + 1) / 2))
		memset(rnd, 0x5a, sizeof(rnd));
	for(i = 0; i < n; i++)
		out[i] = hex[(rnd[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[n] = 0;
}
