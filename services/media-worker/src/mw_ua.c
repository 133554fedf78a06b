/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_ua.c -- SIP transports, oSIP2 transactions and request dispatch on
 * the SIP thread (see mw_ua.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "mw_call.h"
#include "mw_config.h"
#include "mw_dial.h"
#include "mw_log.h"
#include "mw_metrics.h"
#include "mw_registry.h"
#include "mw_sip.h"
#include "mw_thread.h"
#include "mw_ua.h"

#define MW_UA_MAX_CONNS 256		/* TCP connections (the edge uses few) */
#define MW_UA_UDP_BATCH 32		/* datagrams per wake-up */
#define MW_UA_BUCKETS 1024		/* Call-ID hash */
#define MW_UA_RUN_PASSES 8		/* oSIP execute passes per run */
#define MW_UA_RETRY_AFTER "5"	/* s, in 503s for capacity and draining */
#define MW_UA_DRAIN_BYE_MS 5000 /* after the grace: wait for our BYEs */

struct mw_sip_conn
{
	uint64_t id; /* 0: free slot */
	struct mw_ua *ua;
	struct bufferevent *bev;
	struct sockaddr_storage ss;
	socklen_t len;
};

struct mw_ua
{
	const struct mw_config *cfg;
	struct mw_status *st;
	struct mw_thread *threads;
	unsigned nthreads;
	struct mw_registry *reg;
	struct mw_record *rec; /* events and call records (may be NULL) */
	struct ssl_ctx_st *ssl;
	struct event_base *base;
	osip_t *osip;
	evutil_socket_t udp;
	struct event *udp_ev;
	struct evconnlistener *lst;
	struct mw_sip_conn conns[MW_UA_MAX_CONNS];
	uint64_t next_conn_id;
	struct event *osip_timer; /* oSIP timers and 2xx retransmissions */
	struct event *run_ev;	  /* deferred run of the state machines */
	int running;			  /* inside run_machines */
	int kicked;				  /* a run was requested during a run */
	osip_list_t dead;		  /* transactions to free after the run */
	struct mw_call *calls;	  /* list of all calls */
	struct mw_call *buckets[MW_UA_BUCKETS];
	unsigned ncalls;
	char contact_udp[160], contact_tcp[160];
	/* draining */
	int draining;
	int drain_forced; /* grace expired: calls were hung up */
	struct event *drain_ev;
	void (*drained)(void *);
	void *drained_arg;
	char rxbuf[MW_SIP_MAX_MSG + 2];
};

/* The UA of the process, for oSIP's transaction-less 2xx retransmissions
 * (their send callback gets no transaction and no context). */
static struct mw_ua *ua_current;

static struct mw_ua *ua_of(osip_transaction_t *tr)
{
	return osip_get_application_context((osip_t *)tr->config);
}

/* ---- call table ---------------------------------------------------------- */

static unsigned hash_callid(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for(; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % MW_UA_BUCKETS;
}

static struct mw_call *find_call(struct mw_ua *ua, osip_message_t *req)
{
	char cid[MW_SIP_MAX_LINE];
	struct mw_call *c;

	if(mw_sip_call_id(req, cid, sizeof(cid)) < 0)
		return NULL;
	for(c = ua->buckets[hash_callid(cid)]; c; c = c->hnext)
		if(strcmp(c->call_id, cid) == 0 && c->state != MW_CALL_ENDED &&
				mw_call_match(c, req))
			return c;
	return NULL;
}

/* The call an initial INVITE (no To-tag) with a Call-ID and From-tag we
 * already know belongs to, or NULL. */
static struct mw_call *same_call(struct mw_ua *ua, osip_message_t *req)
{
	char cid[MW_SIP_MAX_LINE];
	osip_generic_param_t *tag = NULL;
	struct mw_call *c;

	osip_from_get_tag(req->from, &tag);
	if(!tag || !tag->gvalue)
		return NULL;
	if(mw_sip_call_id(req, cid, sizeof(cid)) < 0)
		return NULL;
	for(c = ua->buckets[hash_callid(cid)]; c; c = c->hnext)
		if(strcmp(c->call_id, cid) == 0 &&
				strcmp(c->from_tag, tag->gvalue) == 0 &&
				c->state != MW_CALL_ENDED)
			return c;
	return NULL;
}

/* The live call with the Call-ID of 'm', or NULL. */
static struct mw_call *call_by_id(struct mw_ua *ua, osip_message_t *m)
{
	char cid[MW_SIP_MAX_LINE];
	struct mw_call *c;

	if(mw_sip_call_id(m, cid, sizeof(cid)) < 0)
		return NULL;
	for(c = ua->buckets[hash_callid(cid)]; c; c = c->hnext)
		if(strcmp(c->call_id, cid) == 0 && c->state != MW_CALL_ENDED)
			return c;
	return NULL;
}

static void link_call(struct mw_ua *ua, struct mw_call *c)
{
	unsigned h = hash_callid(c->call_id);

	c->hnext = ua->buckets[h];
	ua->buckets[h] = c;
	c->prev = NULL;
	c->next = ua->calls;
	if(ua->calls)
		ua->calls->prev = c;
	ua->calls = c;
	ua->ncalls++;
	atomic_store(&ua->st->active, ua->ncalls);
}

static void unlink_call(struct mw_ua *ua, struct mw_call *c)
{
	struct mw_call **pp = &ua->buckets[hash_callid(c->call_id)];

	while(*pp && *pp != c)
		pp = &(*pp)->hnext;
	if(*pp)
		*pp = c->hnext;
	if(c->prev)
		c->prev->next = c->next;
	else
		ua->calls = c->next;
	if(c->next)
		c->next->prev = c->prev;
	ua->ncalls--;
	atomic_store(&ua->st->active, ua->ncalls);
}

/* ---- transports ---------------------------------------------------------- */

static void peer_ip(const struct mw_peer *p, char *ip, size_t iplen, int *port)
{
	if(getnameinfo((const struct sockaddr *)&p->ss, p->len, ip,
			   (socklen_t)iplen, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(ip, iplen, "?");
	*port = ntohs(p->ss.ss_family == AF_INET6
						  ? ((const struct sockaddr_in6 *)&p->ss)->sin6_port
						  : ((const struct sockaddr_in *)&p->ss)->sin_port);
}

static struct mw_sip_conn *conn_find(struct mw_ua *ua, uint64_t id)
{
	unsigned i;

	if(!id)
		return NULL;
	for(i = 0; i < MW_UA_MAX_CONNS; i++)
		if(ua->conns[i].id == id)
			return &ua->conns[i];
	return NULL;
}

static void conn_close(struct mw_sip_conn *c)
{
	/* safe inside the bufferevent's own callbacks (libevent defers) */
	if(c->bev)
		bufferevent_free(c->bev);
	c->bev = NULL;
	c->id = 0;
}

static void ua_input(
		struct mw_ua *ua, char *buf, size_t len, const struct mw_peer *peer);

static void conn_flushed_cb(struct bufferevent *bev, void *arg)
{
	struct mw_sip_conn *c = arg;

	if(evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_close(c);
}

/* Closes once the output is sent (libevent le-proxy's pattern): the
 * last response before giving up on a stream must not be lost. */
static void conn_close_after_flush(struct mw_sip_conn *c)
{
	bufferevent_disable(c->bev, EV_READ);
	if(evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_close(c);
		return;
	}
	bufferevent_setcb(c->bev, NULL, conn_flushed_cb, NULL, c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct mw_sip_conn *c = arg;
	struct mw_ua *ua = c->ua;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct mw_peer peer;
	size_t len, n, msglen, skip;
	unsigned char *p;
	int rc;

	memset(&peer, 0, sizeof(peer));
	peer.tp = MW_TP_TCP;
	memcpy(&peer.ss, &c->ss, c->len);
	peer.len = c->len;
	peer.conn = c->id;
	/* each iteration consumes bytes, and the input is bounded by the
	 * read watermark: the loop ends */
	while((len = evbuffer_get_length(in)) > 0) {
		n = len < MW_SIP_MAX_MSG + 64 ? len : MW_SIP_MAX_MSG + 64;
		p = evbuffer_pullup(in, (ssize_t)n);
		rc = mw_sip_frame((const char *)p, n, &msglen, &skip);
		if(skip && rc != 1) {
			/* keep-alive CRLFs before an incomplete or bad message */
			evbuffer_drain(in, skip);
			continue;
		}
		if(rc == 0) {
			if(len > MW_SIP_MAX_MSG + 64)
				rc = -EMSGSIZE;
			else
				break;
		}
		if(rc < 0) {
			char out[1024];
			int r = mw_sip_raw_reply((const char *)p + skip, n - skip,
					rc == -EMSGSIZE ? 513 : 400,
					rc == -EMSGSIZE ? NULL : "Bad Content-Length", NULL, NULL,
					out, sizeof(out));
			/* a last word before closing a stream we cannot frame */
			if(r > 0)
				bufferevent_write(bev, out, (size_t)r);
			MW_COUNT(rc == -EMSGSIZE ? MW_C_SIP_OVERSIZE : MW_C_SIP_TCP_ERRORS);
			MW_LOG_LIMIT(MW_LOG_WARN,
					"sip tcp: %s from connection %llu, closing it",
					rc == -EMSGSIZE ? "oversized message" : "bad framing",
					(unsigned long long)c->id);
			conn_close_after_flush(c);
			return;
		}
		memcpy(ua->rxbuf, p + skip, msglen);
		evbuffer_drain(in, skip + msglen);
		ua_input(ua, ua->rxbuf, msglen, &peer);
		if(!c->id)
			return; /* closed meanwhile */
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mw_sip_conn *c = arg;

	if(what & BEV_EVENT_CONNECTED)
		return;
	if(what & BEV_EVENT_ERROR)
		MW_COUNT(MW_C_SIP_TCP_ERRORS);
	MW_DBG("sip tcp: connection %llu closed%s", (unsigned long long)c->id,
			what & BEV_EVENT_ERROR ? " (error)" : "");
	conn_close(c);
}

static struct mw_sip_conn *conn_add(struct mw_ua *ua, struct bufferevent *bev,
		const struct sockaddr *sa, socklen_t len)
{
	unsigned i;
	struct mw_sip_conn *c = NULL;

	for(i = 0; i < MW_UA_MAX_CONNS; i++)
		if(!ua->conns[i].id) {
			c = &ua->conns[i];
			break;
		}
	if(!c)
		return NULL;
	c->id = ++ua->next_conn_id;
	c->ua = ua;
	c->bev = bev;
	memcpy(&c->ss, sa, len);
	c->len = len;
	bufferevent_setcb(bev, conn_read_cb, NULL, conn_event_cb, c);
	/* stop reading past two messages' worth of unparsed bytes */
	bufferevent_setwatermark(bev, EV_READ, 0, 2 * (MW_SIP_MAX_MSG + 64));
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return c;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
		struct sockaddr *sa, int socklen, void *arg)
{
	struct mw_ua *ua = arg;
	struct bufferevent *bev;

	bev = bufferevent_socket_new(ua->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if(!bev) {
		close(fd);
		return;
	}
	if(!conn_add(ua, bev, sa, (socklen_t)socklen)) {
		MW_LOG_LIMIT(MW_LOG_WARN, "sip tcp: %d connections, refusing one",
				MW_UA_MAX_CONNS);
		MW_COUNT(MW_C_SIP_TCP_ERRORS);
		bufferevent_free(bev);
	}
}

/* The SIP address (port 0) as a socket address. */
static int local_addr(
		const struct mw_ua *ua, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if(inet_pton(AF_INET, ua->cfg->sip_ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		*len = sizeof(*s4);
		return 0;
	}
	if(inet_pton(AF_INET6, ua->cfg->sip_ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

/* A new outgoing TCP connection (a request whose connection is gone). */
static struct mw_sip_conn *conn_connect(
		struct mw_ua *ua, const struct sockaddr *sa, socklen_t len)
{
	struct bufferevent *bev;
	struct mw_sip_conn *c;
	struct sockaddr_storage src;
	socklen_t srclen;
	evutil_socket_t fd;

	/* from the SIP address: the edge recognises workers by source */
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if(fd < 0)
		return NULL;
	if(local_addr(ua, &src, &srclen) == 0 && src.ss_family == sa->sa_family &&
			bind(fd, (struct sockaddr *)&src, srclen) < 0)
		MW_LOG_LIMIT(MW_LOG_WARN, "sip tcp: cannot bind to %s: %s",
				ua->cfg->sip_ip, strerror(errno));
	bev = bufferevent_socket_new(ua->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if(!bev) {
		close(fd);
		return NULL;
	}
	c = conn_add(ua, bev, sa, len);
	if(!c) {
		bufferevent_free(bev);
		return NULL;
	}
	if(bufferevent_socket_connect(bev, (struct sockaddr *)sa, (int)len) < 0) {
		conn_close(c);
		return NULL;
	}
	return c;
}

static int transport_send(struct mw_ua *ua, const struct mw_peer *peer,
		const char *data, size_t len, int is_request)
{
	struct mw_sip_conn *c;

	if(peer->tp == MW_TP_UDP) {
		if(sendto(ua->udp, data, len, 0, (const struct sockaddr *)&peer->ss,
				   peer->len) < 0) {
			MW_LOG_LIMIT(MW_LOG_WARN, "sip udp send: %s", strerror(errno));
			return -errno;
		}
		MW_COUNT(MW_C_SIP_TX);
		return 0;
	}
	c = conn_find(ua, peer->conn);
	if(!c && is_request)
		c = conn_connect(ua, (const struct sockaddr *)&peer->ss, peer->len);
	if(!c || !c->bev) {
		MW_LOG_LIMIT(MW_LOG_WARN,
				"sip tcp: connection %llu is gone, message dropped",
				(unsigned long long)peer->conn);
		return -ENOTCONN;
	}
	if(bufferevent_write(c->bev, data, len) < 0)
		return -EIO;
	MW_COUNT(MW_C_SIP_TX);
	return 0;
}

/* oSIP's send callback: responses of server transactions go back to
 * where the request came from (its connection for TCP; the source
 * address for UDP, which rport makes the RFC 3581 answer); requests of
 * client transactions to the peer we set; 2xx retransmissions
 * (transaction NULL) to the Via address oSIP computed. */
static int osip_send_cb(osip_transaction_t *tr, osip_message_t *sip, char *host,
		int port, int sock)
{
	struct mw_ua *ua;
	struct mw_peer tmp, *peer = tr ? osip_transaction_get_reserved2(tr) : NULL;
	char *s = NULL;
	int len, rc;

	/* a 2xx retransmission has no transaction: the process has one UA */
	ua = tr ? ua_of(tr) : ua_current;
	if(!peer) {
		memset(&tmp, 0, sizeof(tmp));
		tmp.tp = MW_TP_UDP;
		if(host && inet_pton(AF_INET, host,
						   &((struct sockaddr_in *)&tmp.ss)->sin_addr) == 1) {
			((struct sockaddr_in *)&tmp.ss)->sin_family = AF_INET;
			((struct sockaddr_in *)&tmp.ss)->sin_port = htons((uint16_t)port);
			tmp.len = sizeof(struct sockaddr_in);
		} else if(host &&
				  inet_pton(AF_INET6, host,
						  &((struct sockaddr_in6 *)&tmp.ss)->sin6_addr) == 1) {
			((struct sockaddr_in6 *)&tmp.ss)->sin6_family = AF_INET6;
			((struct sockaddr_in6 *)&tmp.ss)->sin6_port = htons((uint16_t)port);
			tmp.len = sizeof(struct sockaddr_in6);
		} else {
			MW_LOG_LIMIT(MW_LOG_WARN, "sip: no address to send to (%s)",
					host ? host : "-");
			return -1;
		}
		peer = &tmp;
	}
	len = mw_sip_to_str(sip, &s);
	if(len < 0)
		return -1;
	rc = transport_send(ua, peer, s, (size_t)len, MSG_IS_REQUEST(sip));
	if(mw_log_threshold >= MW_LOG_DEBUG)
		MW_DBG("sip >> %.*s", len > 200 ? 200 : len, s);
	osip_free(s);
	return rc < 0 ? -1 : 0;
}

/* Note: oSIP 5 keeps "your_instance" (our call) in reserved1; the
 * transaction's peer (struct mw_peer, malloc'ed, freed with the
 * transaction) lives in reserved2. */

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_ua *ua = arg;
	struct mw_peer peer;
	ssize_t n;
	int i;

	for(i = 0; i < MW_UA_UDP_BATCH; i++) {
		memset(&peer, 0, sizeof(peer));
		peer.tp = MW_TP_UDP;
		peer.len = sizeof(peer.ss);
		/* MSG_TRUNC: the real size of an oversized datagram */
		n = recvfrom(fd, ua->rxbuf, MW_SIP_MAX_MSG + 1, MSG_TRUNC,
				(struct sockaddr *)&peer.ss, &peer.len);
		if(n < 0) {
			if(errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				MW_LOG_LIMIT(MW_LOG_WARN, "sip udp recv: %s", strerror(errno));
			return;
		}
		if(n == 0)
			continue;
		if((size_t)n > MW_SIP_MAX_MSG) {
			char out[2048];
			int r;
			MW_COUNT(MW_C_SIP_OVERSIZE);
			r = mw_sip_raw_reply(ua->rxbuf, MW_SIP_MAX_MSG, 513, NULL, NULL,
					NULL, out, sizeof(out));
			if(r > 0)
				transport_send(ua, &peer, out, (size_t)r, 0);
			continue;
		}
		ua_input(ua, ua->rxbuf, (size_t)n, &peer);
	}
}

/* ---- running oSIP --------------------------------------------------------- */

static void arm_timer(struct mw_ua *ua)
{
	struct timeval tv;

	osip_timers_gettimeout(ua->osip, &tv);
	if(tv.tv_sec > 1) {
		tv.tv_sec = 1;
		tv.tv_usec = 0;
	}
	/* 2xx retransmissions (T1 = 500 ms, doubling) are not in
	 * osip_timers_gettimeout */
	if(osip_list_size(&ua->osip->ixt_retransmissions) > 0 &&
			(tv.tv_sec > 0 || tv.tv_usec > 50000)) {
		tv.tv_sec = 0;
		tv.tv_usec = 50000;
	}
	if(tv.tv_sec == 0 && tv.tv_usec < 5000)
		tv.tv_usec = 5000; /* never spin */
	event_add(ua->osip_timer, &tv);
}

static void free_dead(struct mw_ua *ua)
{
	osip_transaction_t *tr;

	while((tr = osip_list_get(&ua->dead, 0)) != NULL) {
		osip_list_remove(&ua->dead, 0);
		free(osip_transaction_get_reserved2(tr));
		osip_transaction_free2(tr);
	}
}

/* Runs the timers and the state machines until no transaction has work
 * left (events queued by our callbacks to another transaction need a new
 * pass), then frees the transactions that ended. Never re-entered. */
static void run_machines(struct mw_ua *ua)
{
	int pass;

	if(ua->running) {
		ua->kicked = 1;
		return;
	}
	ua->running = 1;
	osip_timers_ict_execute(ua->osip);
	osip_timers_ist_execute(ua->osip);
	osip_timers_nict_execute(ua->osip);
	osip_timers_nist_execute(ua->osip);
	osip_retransmissions_execute(ua->osip);
	for(pass = 0; pass < MW_UA_RUN_PASSES; pass++) {
		ua->kicked = 0;
		osip_ict_execute(ua->osip);
		osip_ist_execute(ua->osip);
		osip_nict_execute(ua->osip);
		osip_nist_execute(ua->osip);
		if(!ua->kicked)
			break;
	}
	free_dead(ua);
	ua->running = 0;
	if(ua->kicked)
		event_active(ua->run_ev, 0, 0);
	arm_timer(ua);
}

static void run_cb(evutil_socket_t fd, short what, void *arg)
{
	run_machines(arg);
}

void mw_ua_kick(struct mw_ua *ua)
{
	if(ua->running)
		ua->kicked = 1;
	else
		event_active(ua->run_ev, 0, 0);
}

/* ---- oSIP callbacks ------------------------------------------------------- */

static void cb_kill(int type, osip_transaction_t *tr)
{
	struct mw_ua *ua = ua_of(tr);
	struct mw_call *c = osip_transaction_get_your_instance(tr);

	/* removed now, freed after the run (the execute loop still holds
	 * a pointer to it) */
	osip_remove_transaction(ua->osip, tr);
	if(c) {
		osip_transaction_set_your_instance(tr, NULL);
		mw_call_on_transaction_gone(c, tr);
	}
	osip_list_add(&ua->dead, tr, -1);
}

static void cb_transport_error(int type, osip_transaction_t *tr, int error)
{
	struct mw_call *c = osip_transaction_get_your_instance(tr);

	MW_LOG_LIMIT(
			MW_LOG_WARN, "sip: transport error %d on a transaction", error);
	if(type == OSIP_NICT_TRANSPORT_ERROR && c)
		mw_call_on_request_done(c, tr, 503);
}

static void respond_simple(struct mw_ua *ua, osip_transaction_t *tr, int code,
		const char *reason, const char *hdrs)
{
	char tag[17];

	mw_sip_token(tag, 16);
	mw_ua_respond(ua, tr, code, reason, tag, hdrs, NULL, NULL, NULL);
}

static void ua_invite(
		struct mw_ua *ua, osip_transaction_t *tr, osip_message_t *req)
{
	struct mw_sip_verdict v;
	osip_generic_param_t *tag = NULL;
	struct mw_peer *peer = osip_transaction_get_reserved2(tr);
	struct mw_call *c;
	int code;

	code = mw_sip_app_check(req, &v);
	if(code) {
		MW_COUNT(MW_C_CALL_BAD_REQUEST);
		MW_INFO("INVITE %s refused: %d %s", req->call_id->number, code,
				v.reason);
		respond_simple(ua, tr, code, v.reason, v.hdr);
		return;
	}
	osip_to_get_tag(req->to, &tag);
	if(tag) {
		c = find_call(ua, req);
		if(!c) {
			respond_simple(ua, tr, 481, NULL, NULL);
			return;
		}
		osip_transaction_set_your_instance(tr, c);
		mw_call_on_request(c, tr, req);
		return;
	}
	if((c = same_call(ua, req)) != NULL) {
		uint32_t n = 0;
		mw_sip_u31(req->cseq->number, &n);
		if(!c->ist && n == c->invite_cseq &&
				(c->state == MW_CALL_ANSWERED ||
						c->state == MW_CALL_CONFIRMED) &&
				c->lsdp.last[0]) {
			/* a retransmission after our 2xx ended the INVITE transaction
			 * (RFC 3261 13.3.1.4): the same 2xx again */
			mw_ua_respond(ua, tr, 200, NULL, c->local_tag, NULL,
					"application/sdp", c->lsdp.last, NULL);
		} else {
			/* a copy that took another path (8.2.2.2 merged request) */
			respond_simple(ua, tr, 482, NULL, NULL);
		}
		return;
	}
	if(ua->draining) {
		MW_COUNT(MW_C_CALL_REFUSED_DRAINING);
		MW_INFO("INVITE %s refused: draining", req->call_id->number);
		respond_simple(ua, tr, 503, "Draining",
				"Retry-After: " MW_UA_RETRY_AFTER "\r\n"
				"Reason: Q.850;cause=41;text=\"worker draining\"\r\n");
		return;
	}
	if(ua->ncalls >= ua->cfg->capacity) {
		MW_COUNT(MW_C_CALL_REFUSED_CAPACITY);
		MW_LOG_LIMIT(MW_LOG_NOTICE, "INVITE %s refused: at capacity (%u calls)",
				req->call_id->number, ua->ncalls);
		respond_simple(ua, tr, 503, "At Capacity",
				"Retry-After: " MW_UA_RETRY_AFTER "\r\n"
				"Reason: Q.850;cause=34;text=\"worker at capacity\"\r\n");
		return;
	}
	/* 100 Trying at once: the edge stops retransmitting and waits */
	mw_ua_respond(ua, tr, 100, NULL, NULL, NULL, NULL, NULL, NULL);
	if(mw_call_new(ua, tr, req, peer, &c) < 0) {
		respond_simple(ua, tr, 500, NULL, NULL);
		return;
	}
	link_call(ua, c);
	osip_transaction_set_your_instance(tr, c);
}

/* The INVITE server transaction a CANCEL targets (same branch; RFC 3261
 * 9.2), or NULL. */
static osip_transaction_t *cancel_target(
		struct mw_ua *ua, osip_message_t *cancel)
{
	osip_via_t *v = osip_list_get(&cancel->vias, 0);
	osip_generic_param_t *b = NULL, *ib;
	osip_transaction_t *tr;
	int i;

	if(!v || osip_via_param_get_byname(v, "branch", &b) != 0 || !b ||
			!b->gvalue)
		return NULL;
	for(i = 0;
			(tr = osip_list_get(&ua->osip->osip_ist_transactions, i)) != NULL;
			i++) {
		ib = NULL;
		if(!tr->topvia ||
				osip_via_param_get_byname(tr->topvia, "branch", &ib) != 0 ||
				!ib || !ib->gvalue)
			continue;
		if(strcmp(ib->gvalue, b->gvalue) == 0 && tr->callid &&
				strcmp(tr->callid->number, cancel->call_id->number) == 0)
			return tr;
	}
	return NULL;
}

static void ua_request(
		struct mw_ua *ua, osip_transaction_t *tr, osip_message_t *req)
{
	struct mw_sip_verdict v;
	osip_generic_param_t *tag = NULL;
	struct mw_call *c;
	int code;

	if(MSG_IS_CANCEL(req)) {
		osip_transaction_t *ist = cancel_target(ua, req);
		if(!ist || ist->state == IST_TERMINATED ||
				ist->state == IST_COMPLETED || ist->state == IST_CONFIRMED) {
			respond_simple(ua, tr, 481, NULL, NULL);
			return;
		}
		respond_simple(ua, tr, 200, NULL, NULL);
		c = osip_transaction_get_your_instance(ist);
		if(c)
			mw_call_on_cancel(c);
		return;
	}
	if(MSG_IS_NOTIFY(req)) {
		/* a transfer's progress (RFC 3515): only in a dialog of ours
		 * with a REFER outstanding; any other NOTIFY is refused below */
		osip_to_get_tag(req->to, &tag);
		c = tag ? find_call(ua, req) : NULL;
		if(c && c->xfer) {
			osip_transaction_set_your_instance(tr, c);
			mw_call_on_request(c, tr, req);
			return;
		}
		tag = NULL;
	}
	code = mw_sip_app_check(req, &v);
	if(code) {
		MW_LOG_LIMIT(MW_LOG_INFO, "%s refused: %d %s", req->sip_method, code,
				v.reason);
		respond_simple(ua, tr, code, v.reason, v.hdr);
		return;
	}
	osip_to_get_tag(req->to, &tag);
	if(!tag) {
		if(MSG_IS_OPTIONS(req)) {
			/* keep-alive / health probe */
			if(ua->draining)
				respond_simple(ua, tr, 503, "Draining",
						"Retry-After: " MW_UA_RETRY_AFTER "\r\n");
			else
				respond_simple(ua, tr, 200, NULL,
						"Allow: " MW_UA_ALLOW "\r\n"
						"Accept: application/sdp\r\n");
			return;
		}
		/* BYE, INFO, UPDATE outside a dialog */
		respond_simple(ua, tr, 481, NULL, NULL);
		return;
	}
	c = find_call(ua, req);
	if(!c) {
		respond_simple(ua, tr, 481, NULL, NULL);
		return;
	}
	osip_transaction_set_your_instance(tr, c);
	mw_call_on_request(c, tr, req);
}

static void cb_message(int type, osip_transaction_t *tr, osip_message_t *sip)
{
	struct mw_ua *ua = ua_of(tr);
	struct mw_call *c = osip_transaction_get_your_instance(tr);

	switch(type) {
		case OSIP_IST_INVITE_RECEIVED:
			ua_invite(ua, tr, sip);
			break;
		case OSIP_NIST_REGISTER_RECEIVED:
		case OSIP_NIST_BYE_RECEIVED:
		case OSIP_NIST_OPTIONS_RECEIVED:
		case OSIP_NIST_INFO_RECEIVED:
		case OSIP_NIST_CANCEL_RECEIVED:
		case OSIP_NIST_NOTIFY_RECEIVED:
		case OSIP_NIST_SUBSCRIBE_RECEIVED:
		case OSIP_NIST_UNKNOWN_REQUEST_RECEIVED:
			ua_request(ua, tr, sip);
			break;
		case OSIP_NICT_STATUS_2XX_RECEIVED:
		case OSIP_NICT_STATUS_3XX_RECEIVED:
		case OSIP_NICT_STATUS_4XX_RECEIVED:
		case OSIP_NICT_STATUS_5XX_RECEIVED:
		case OSIP_NICT_STATUS_6XX_RECEIVED:
			if(c)
				mw_call_on_request_done(c, tr, sip->status_code);
			break;
		case OSIP_NICT_STATUS_TIMEOUT:
			if(c)
				mw_call_on_request_done(c, tr, 408);
			break;
		case OSIP_ICT_STATUS_1XX_RECEIVED:
		case OSIP_ICT_STATUS_2XX_RECEIVED:
		case OSIP_ICT_STATUS_3XX_RECEIVED:
		case OSIP_ICT_STATUS_4XX_RECEIVED:
		case OSIP_ICT_STATUS_5XX_RECEIVED:
		case OSIP_ICT_STATUS_6XX_RECEIVED:
			if(c)
				mw_dial_on_response(c, tr, sip, 0);
			break;
		case OSIP_ICT_STATUS_2XX_RECEIVED_AGAIN:
			if(c)
				mw_dial_on_response(c, tr, sip, 1);
			break;
		case OSIP_ICT_STATUS_TIMEOUT:
			if(c)
				mw_dial_on_response(c, tr, NULL, 0); /* as a 408 */
			break;
		default:
			break; /* sent, retransmitted, 1xx, ACK of a non-2xx */
	}
}

/* ---- input ----------------------------------------------------------------- */

static osip_event_t *incoming_event(osip_message_t *m)
{
	osip_event_t *e = osip_malloc(sizeof(*e));

	if(!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->sip = m;
	if(MSG_IS_REQUEST(m))
		e->type = MSG_IS_INVITE(m) ? RCV_REQINVITE
				  : MSG_IS_ACK(m)  ? RCV_REQACK
								   : RCV_REQUEST;
	else
		e->type = MSG_IS_STATUS_1XX(m)	 ? RCV_STATUS_1XX
				  : MSG_IS_STATUS_2XX(m) ? RCV_STATUS_2XX
										 : RCV_STATUS_3456XX;
	return e;
}

static int raw_is_ack(const char *buf, size_t len)
{
	while(len && (*buf == '\r' || *buf == '\n'))
		buf++, len--;
	return len > 4 && memcmp(buf, "ACK ", 4) == 0;
}

static void ua_input(
		struct mw_ua *ua, char *buf, size_t len, const struct mw_peer *peer)
{
	struct mw_sip_verdict v;
	osip_message_t *m = NULL;
	osip_transaction_t *tr;
	osip_event_t *evt;
	struct mw_peer *pcopy;
	char ip[64];
	int port;

	MW_COUNT(MW_C_SIP_RX);
	if(mw_sip_parse(buf, len, &m, &v) < 0) {
		peer_ip(peer, ip, sizeof(ip), &port);
		if(v.kind == MW_SIP_REQUEST && !raw_is_ack(buf, len)) {
			char out[MW_SIP_MAX_MSG];
			char tag[17];
			int r;
			MW_COUNT(MW_C_SIP_REFUSED);
			MW_LOG_LIMIT(MW_LOG_NOTICE,
					"sip: malformed request from %s:%d: %d %s", ip, port,
					v.code, v.reason);
			mw_sip_token(tag, 16);
			r = mw_sip_raw_reply(
					buf, len, v.code, v.reason, tag, NULL, out, sizeof(out));
			if(r > 0)
				transport_send(ua, peer, out, (size_t)r, 0);
		} else {
			MW_COUNT(MW_C_SIP_DROPPED);
			MW_LOG_LIMIT(MW_LOG_NOTICE,
					"sip: malformed message from %s:%d dropped: %s", ip, port,
					v.reason);
		}
		return;
	}
	if(mw_log_threshold >= MW_LOG_DEBUG)
		MW_DBG("sip << %.*s", (int)(len > 200 ? 200 : len), buf);
	if(MSG_IS_REQUEST(m)) {
		/* received/rport on the top Via (RFC 3261 18.2.1, RFC 3581) */
		peer_ip(peer, ip, sizeof(ip), &port);
		osip_message_fix_last_via_header(m, ip, port);
	}
	evt = incoming_event(m);
	if(!evt) {
		osip_message_free(m);
		return;
	}
	if(osip_find_transaction_and_add_event(ua->osip, evt) == 0) {
		/* retransmission, ACK of a non-2xx, response to our BYE */
		mw_ua_kick(ua);
		return;
	}
	if(MSG_IS_RESPONSE(m)) {
		struct mw_call *c;
		if(MSG_IS_STATUS_2XX(m) && MSG_IS_RESPONSE_FOR(m, "INVITE") &&
				(c = call_by_id(ua, m)) != NULL && c->outbound) {
			/* a 2xx retransmitted after our INVITE transaction ended:
			 * the dialog ACKs it again (RFC 3261 13.2.2.4) */
			mw_dial_on_response(c, NULL, m, 1);
			osip_event_free(evt);
			mw_ua_kick(ua);
			return;
		}
		MW_COUNT(MW_C_SIP_DROPPED); /* stray response */
		osip_event_free(evt);
		return;
	}
	if(MSG_IS_ACK(m)) {
		/* ACK for a 2xx: no transaction, the dialog takes it */
		struct mw_call *c = find_call(ua, m);
		osip_dialog_t *d = osip_stop_200ok_retransmissions(ua->osip, m);
		(void)d;
		if(c)
			mw_call_on_ack(c, m);
		else
			MW_COUNT(MW_C_SIP_DROPPED);
		osip_event_free(evt);
		mw_ua_kick(ua);
		return;
	}
	tr = osip_create_transaction(ua->osip, evt);
	if(!tr) {
		osip_event_free(evt);
		return;
	}
	pcopy = malloc(sizeof(*pcopy));
	if(!pcopy) {
		osip_remove_transaction(ua->osip, tr);
		osip_transaction_free2(tr);
		osip_event_free(evt);
		return;
	}
	*pcopy = *peer;
	osip_transaction_set_reserved2(tr, pcopy);
	osip_transaction_add_event(tr, evt);
	mw_ua_kick(ua);
}

/* ---- responses and requests -------------------------------------------- */

static int add_header_lines(osip_message_t *m, const char *hdrs)
{
	char name[80], value[512]; /* X- context headers: names <= 64 */
	const char *p = hdrs, *colon, *eol;
	size_t nl, vl;

	while(p && *p) {
		eol = strstr(p, "\r\n");
		if(!eol)
			eol = p + strlen(p);
		colon = memchr(p, ':', (size_t)(eol - p));
		if(colon) {
			nl = (size_t)(colon - p);
			colon++;
			while(*colon == ' ')
				colon++;
			vl = (size_t)(eol - colon);
			if(nl < sizeof(name) && vl < sizeof(value)) {
				memcpy(name, p, nl);
				name[nl] = 0;
				memcpy(value, colon, vl);
				value[vl] = 0;
				if(osip_message_set_header(m, name, value) != 0)
					return -ENOMEM;
			}
		}
		p = *eol ? eol + 2 : eol;
	}
	return 0;
}

int mw_ua_respond(struct mw_ua *ua, osip_transaction_t *tr, int code,
		const char *reason, const char *to_tag, const char *hdrs,
		const char *ctype, const char *body, osip_message_t **sent)
{
	osip_message_t *req = tr->orig_request, *r = NULL;
	osip_generic_param_t *rtag = NULL;
	struct mw_peer *peer = osip_transaction_get_reserved2(tr);
	osip_event_t *evt;
	int dialog_creating, rc;

	if(sent)
		*sent = NULL;
	if(!req)
		return -EINVAL;
	osip_to_get_tag(req->to, &rtag);
	dialog_creating = MSG_IS_INVITE(req) && !rtag && code > 100 && code < 300;
	rc = mw_sip_response(req, code, reason, to_tag, dialog_creating, &r);
	if(rc < 0)
		return rc;
	if((MSG_IS_INVITE(req) || MSG_IS_UPDATE(req)) && code > 100 && code < 300)
		osip_message_set_contact(r, peer && peer->tp == MW_TP_TCP
											? ua->contact_tcp
											: ua->contact_udp);
	if(MSG_IS_INVITE(req) && code >= 200 && code < 300) {
		osip_message_set_header(r, "Allow", MW_UA_ALLOW);
	}
	if((hdrs && add_header_lines(r, hdrs) < 0) ||
			(body && mw_sip_set_body(r, ctype, body, strlen(body)) < 0)) {
		osip_message_free(r);
		return -ENOMEM;
	}
	if(sent && osip_message_clone(r, sent) != 0)
		*sent = NULL;
	evt = osip_new_outgoing_sipmessage(r);
	if(!evt) {
		osip_message_free(r);
		return -ENOMEM;
	}
	evt->transactionid = tr->transactionid;
	osip_transaction_add_event(tr, evt);
	mw_ua_kick(ua);
	return 0;
}

/* The IP literal and port of a Route entry into 'p' (unchanged when the
 * host is a name: the worker does not resolve names on the SIP path). */
static void route_address(osip_route_t *rt, struct mw_peer *p)
{
	struct mw_peer t = *p;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&t.ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t.ss;
	uint32_t port = 5060;

	if(!rt->url || !rt->url->host)
		return;
	if(rt->url->port &&
			(!mw_sip_u31(rt->url->port, &port) || port == 0 || port > 65535))
		return;
	memset(&t.ss, 0, sizeof(t.ss));
	if(inet_pton(AF_INET, rt->url->host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		t.len = sizeof(*s4);
	} else if(inet_pton(AF_INET6, rt->url->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		t.len = sizeof(*s6);
	} else {
		return;
	}
	t.conn = 0;
	*p = t;
}

/* A request within dialog 'dlg' with CSeq 'cseq' (route set, remote
 * target, tags, Via toward 'peer'), with the body 'ctype'/'body' or
 * Content-Length 0. */
static int build_request(struct mw_ua *ua, osip_dialog_t *dlg,
		const struct mw_peer *peer, const char *method, int cseq,
		const char *hdrs, const char *ctype, const char *body,
		osip_message_t **out)
{
	osip_message_t *req = NULL;
	osip_route_t *first = osip_list_get(&dlg->route_set, 0), *rt;
	osip_uri_param_t *lr = NULL;
	osip_generic_param_t *tag = NULL;
	char buf[256];
	int i, strict;

	*out = NULL;
	if(osip_message_init(&req) != 0)
		return -ENOMEM;
	osip_message_set_method(req, osip_strdup(method));
	osip_message_set_version(req, osip_strdup("SIP/2.0"));
	if(first)
		osip_uri_uparam_get_byname(first->url, "lr", &lr);
	strict = first && !lr;
	/* RFC 3261 12.2.1.1: loose routing sends to the remote target with
	 * the route set; a strict first hop becomes the Request-URI and the
	 * remote target the last Route */
	if(osip_uri_clone(strict ? first->url : dlg->remote_contact_uri->url,
			   &req->req_uri) != 0)
		goto fail;
	for(i = strict ? 1 : 0; (rt = osip_list_get(&dlg->route_set, i)) != NULL;
			i++) {
		osip_route_t *c = NULL;
		if(osip_route_clone(rt, &c) != 0)
			goto fail;
		osip_list_add(&req->routes, c, -1);
	}
	if(strict) {
		osip_route_t *c = NULL;
		if(osip_route_init(&c) != 0 ||
				osip_uri_clone(dlg->remote_contact_uri->url, &c->url) != 0)
			goto fail;
		osip_list_add(&req->routes, c, -1);
	}
	if(osip_from_clone(dlg->local_uri, &req->from) != 0 ||
			osip_to_clone(dlg->remote_uri, &req->to) != 0)
		goto fail;
	osip_from_get_tag(req->from, &tag);
	if(!tag)
		osip_from_set_tag(req->from, osip_strdup(dlg->local_tag));
	tag = NULL;
	osip_to_get_tag(req->to, &tag);
	if(!tag && dlg->remote_tag)
		osip_to_set_tag(req->to, osip_strdup(dlg->remote_tag));
	osip_message_set_call_id(req, dlg->call_id);
	snprintf(buf, sizeof(buf), "%d %s", cseq, method);
	osip_message_set_cseq(req, buf);
	mw_ua_via(ua, peer->tp, buf, sizeof(buf));
	osip_message_set_via(req, buf);
	osip_message_set_max_forwards(req, "70");
	osip_message_set_header(req, "User-Agent", "byoc-media-worker");
	if(hdrs && add_header_lines(req, hdrs) < 0)
		goto fail;
	if(body) {
		if(mw_sip_set_body(req, ctype, body, strlen(body)) < 0)
			goto fail;
	} else {
		osip_message_set_content_length(req, "0");
	}
	*out = req;
	return 0;
fail:
	osip_message_free(req);
	return -ENOMEM;
}

int mw_ua_request(struct mw_ua *ua, osip_dialog_t *dlg,
		const struct mw_peer *peer, const char *method, const char *hdrs,
		struct mw_call *owner)
{
	return mw_ua_request_body(ua, dlg, peer, method, hdrs, NULL, NULL, owner);
}

int mw_ua_request_body(struct mw_ua *ua, osip_dialog_t *dlg,
		const struct mw_peer *peer, const char *method, const char *hdrs,
		const char *ctype, const char *body, struct mw_call *owner)
{
	osip_message_t *req = NULL;
	osip_transaction_t *tr = NULL;
	osip_route_t *first = osip_list_get(&dlg->route_set, 0);
	struct mw_peer *pcopy;
	osip_event_t *evt;

	if(build_request(ua, dlg, peer, method, ++dlg->local_cseq, hdrs, ctype,
			   body, &req) < 0)
		return -ENOMEM;
	if(osip_transaction_init(&tr, NICT, ua->osip, req) != 0)
		goto fail;
	pcopy = malloc(sizeof(*pcopy));
	if(!pcopy) {
		osip_transaction_free(tr);
		goto fail;
	}
	*pcopy = *peer;
	if(peer->tp == MW_TP_TCP && !conn_find(ua, peer->conn) && first)
		/* the edge's connection is gone and its source port was
		 * ephemeral: connect to the edge's own Record-Route entry */
		route_address(first, pcopy);
	osip_transaction_set_reserved2(tr, pcopy);
	osip_transaction_set_your_instance(tr, owner);
	{
		/* to the edge, whatever the route says (it record-routes itself) */
		char ip[64];
		int port;
		peer_ip(pcopy, ip, sizeof(ip), &port);
		osip_nict_set_destination(tr->nict_context, osip_strdup(ip), port);
	}
	evt = osip_new_outgoing_sipmessage(req);
	evt->transactionid = tr->transactionid;
	osip_transaction_add_event(tr, evt);
	mw_ua_kick(ua);
	return 0;
fail:
	osip_message_free(req);
	return -ENOMEM;
}

void mw_ua_retransmit_2xx(struct mw_ua *ua, osip_dialog_t *dlg,
		osip_message_t *resp, const struct mw_peer *peer)
{
	/* reliable transports do not need it (RFC 3261 17.1.1 reasoning; the
	 * edge's TCP connection carries the response) */
	if(peer->tp != MW_TP_UDP)
		return;
	osip_start_200ok_retransmissions(ua->osip, dlg, resp, -1);
	arm_timer(ua);
}

void mw_ua_stop_2xx(struct mw_ua *ua, osip_dialog_t *dlg)
{
	osip_stop_retransmissions_from_dialog(ua->osip, dlg);
}

/* ---- accessors, threads --------------------------------------------------- */

const struct mw_config *mw_ua_config(const struct mw_ua *ua)
{
	return ua->cfg;
}

struct mw_registry *mw_ua_registry(const struct mw_ua *ua)
{
	return ua->reg;
}

struct ssl_ctx_st *mw_ua_ssl(const struct mw_ua *ua)
{
	return ua->ssl;
}

struct event_base *mw_ua_base(const struct mw_ua *ua)
{
	return ua->base;
}

struct mw_thread *mw_ua_pick_thread(struct mw_ua *ua)
{
	struct mw_thread *best = NULL;
	unsigned i, first = ua->nthreads > 1 ? 1 : 0;

	for(i = first; i < ua->nthreads; i++)
		if(!best || ua->threads[i].ncalls < best->ncalls)
			best = &ua->threads[i];
	best->ncalls++;
	return best;
}

void mw_ua_thread_release(struct mw_ua *ua, struct mw_thread *t)
{
	if(t && t->ncalls)
		t->ncalls--;
}

/* ---- call teardown and draining ----------------------------------------- */

static void drain_check(struct mw_ua *ua);

/* Clears every transaction's reference to 'c' (they may outlive it). */
static void forget_call(struct mw_ua *ua, struct mw_call *c)
{
	osip_list_t *lists[4] = {&ua->osip->osip_ict_transactions,
			&ua->osip->osip_ist_transactions, &ua->osip->osip_nict_transactions,
			&ua->osip->osip_nist_transactions};
	osip_transaction_t *tr;
	int i, k;

	for(k = 0; k < 4; k++)
		for(i = 0; (tr = osip_list_get(lists[k], i)) != NULL; i++)
			if(osip_transaction_get_your_instance(tr) == c)
				osip_transaction_set_your_instance(tr, NULL);
	for(i = 0; (tr = osip_list_get(&ua->dead, i)) != NULL; i++)
		if(osip_transaction_get_your_instance(tr) == c)
			osip_transaction_set_your_instance(tr, NULL);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_call *c = arg;
	struct mw_ua *ua = c->ua;

	unlink_call(ua, c);
	forget_call(ua, c);
	if(c->dlg)
		mw_ua_stop_2xx(ua, c->dlg);
	mw_ua_thread_release(ua, c->mt);
	mw_call_free(c);
	mw_registry_kick(ua->reg);
	drain_check(ua);
}

void mw_ua_call_done(struct mw_ua *ua, struct mw_call *c)
{
	if(c->reaper)
		return;
	c->reaper = event_new(ua->base, -1, 0, reap_cb, c);
	if(c->reaper)
		event_active(c->reaper, 0, 0);
	else
		MW_ERR("call %s: cannot schedule its release", c->call_id);
}

static void drain_finish(struct mw_ua *ua)
{
	void (*done)(void *) = ua->drained;

	if(!done)
		return;
	ua->drained = NULL;
	event_del(ua->drain_ev);
	done(ua->drained_arg);
}

static void drain_check(struct mw_ua *ua)
{
	if(ua->draining && ua->ncalls == 0)
		drain_finish(ua);
}

static void drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mw_ua *ua = arg;
	struct mw_call *c, *next;
	struct timeval tv = {MW_UA_DRAIN_BYE_MS / 1000, 0};

	if(ua->drain_forced) {
		MW_WARN("drain: %u call(s) still ending after hang-up; exiting",
				ua->ncalls);
		/* their transactions (a CANCEL or BYE nobody answers) would
		 * outlive the process: they end with it, recorded now */
		for(c = ua->calls; c; c = c->next)
			mw_call_record_at_exit(c);
		drain_finish(ua);
		return;
	}
	ua->drain_forced = 1;
	if(ua->ncalls)
		MW_NOTICE("drain grace over: hanging up %u call(s)", ua->ncalls);
	for(c = ua->calls; c; c = next) {
		next = c->next;
		mw_call_shutdown(c);
	}
	event_add(ua->drain_ev, &tv);
	drain_check(ua);
}

void mw_ua_drain(struct mw_ua *ua, void (*done)(void *), void *arg)
{
	struct timeval tv = {(time_t)ua->cfg->drain_grace_s, 0};

	if(ua->draining)
		return;
	ua->draining = 1;
	ua->drained = done;
	ua->drained_arg = arg;
	atomic_store(&ua->st->draining, 1);
	mw_registry_kick(ua->reg);
	MW_NOTICE("draining: refusing new calls, waiting up to %us for %u call(s)",
			ua->cfg->drain_grace_s, ua->ncalls);
	ua->drain_ev = event_new(ua->base, -1, 0, drain_timer_cb, ua);
	if(ua->drain_ev)
		event_add(ua->drain_ev, &tv);
	drain_check(ua);
}

void mw_ua_drain_now(struct mw_ua *ua)
{
	if(!ua->draining || ua->drain_forced || !ua->drain_ev)
		return;
	event_del(ua->drain_ev);
	drain_timer_cb(-1, 0, ua);
}

/* ---- life ---------------------------------------------------------------- */

static int bind_sockets(struct mw_ua *ua)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fam, one = 1;

	if(local_addr(ua, &ss, &len) < 0)
		return -EINVAL;
	fam = ss.ss_family;
	if(fam == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(ua->cfg->sip_port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(ua->cfg->sip_port);
	ua->udp = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if(ua->udp < 0)
		return -errno;
	setsockopt(ua->udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	{
		int rcv = 1 << 20;
		setsockopt(ua->udp, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	}
	if(bind(ua->udp, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;
		MW_ERR("sip: cannot bind udp %s:%u: %s", ua->cfg->sip_ip,
				ua->cfg->sip_port, strerror(e));
		return -e;
	}
	ua->udp_ev =
			event_new(ua->base, ua->udp, EV_READ | EV_PERSIST, udp_read_cb, ua);
	if(!ua->udp_ev || event_add(ua->udp_ev, NULL) < 0)
		return -ENOMEM;
	ua->lst = evconnlistener_new_bind(ua->base, accept_cb, ua,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
			64, (struct sockaddr *)&ss, (int)len);
	if(!ua->lst) {
		int e = errno;
		MW_ERR("sip: cannot listen on tcp %s:%u: %s", ua->cfg->sip_ip,
				ua->cfg->sip_port, strerror(e));
		return -e;
	}
	return 0;
}

int mw_ua_new(struct mw_thread *threads, unsigned nthreads,
		const struct mw_config *cfg, struct mw_status *st,
		struct mw_registry *reg, struct ssl_ctx_st *ssl, struct mw_ua **out)
{
	struct mw_ua *ua;
	int rc, i, v6;

	*out = NULL;
	ua = calloc(1, sizeof(*ua));
	if(!ua)
		return -ENOMEM;
	ua->udp = -1;
	ua->cfg = cfg;
	ua->st = st;
	ua->threads = threads;
	ua->nthreads = nthreads;
	ua->reg = reg;
	ua->ssl = ssl;
	ua->base = threads[0].base;
	osip_list_init(&ua->dead);
	v6 = strchr(cfg->adv_ip, ':') != NULL;
	snprintf(ua->contact_udp, sizeof(ua->contact_udp), "<sip:%s@%s%s%s:%u>",
			cfg->id, v6 ? "[" : "", cfg->adv_ip, v6 ? "]" : "", cfg->adv_port);
	snprintf(ua->contact_tcp, sizeof(ua->contact_tcp),
			"<sip:%s@%s%s%s:%u;transport=tcp>", cfg->id, v6 ? "[" : "",
			cfg->adv_ip, v6 ? "]" : "", cfg->adv_port);
	if(osip_init(&ua->osip) != 0) {
		free(ua);
		return -ENOMEM;
	}
	osip_set_application_context(ua->osip, ua);
	ua_current = ua;
	osip_set_cb_send_message(ua->osip, osip_send_cb);
	for(i = 0; i < OSIP_MESSAGE_CALLBACK_COUNT; i++)
		osip_set_message_callback(ua->osip, i, cb_message);
	for(i = 0; i < OSIP_KILL_CALLBACK_COUNT; i++)
		osip_set_kill_transaction_callback(ua->osip, i, cb_kill);
	for(i = 0; i < OSIP_TRANSPORT_ERROR_CALLBACK_COUNT; i++)
		osip_set_transport_error_callback(ua->osip, i, cb_transport_error);
	ua->osip_timer = event_new(ua->base, -1, 0, run_cb, ua);
	ua->run_ev = event_new(ua->base, -1, 0, run_cb, ua);
	if(!ua->osip_timer || !ua->run_ev) {
		mw_ua_free(ua);
		return -ENOMEM;
	}
	if((rc = bind_sockets(ua)) < 0) {
		mw_ua_free(ua);
		return rc;
	}
	arm_timer(ua);
	MW_INFO("sip: listening on %s:%u (udp, tcp), contact %s", cfg->sip_ip,
			cfg->sip_port, ua->contact_udp);
	*out = ua;
	return 0;
}

void mw_ua_free(struct mw_ua *ua)
{
	struct mw_call *c, *next;
	osip_transaction_t *tr;
	osip_list_t *lists[4];
	unsigned i;
	int k;

	if(!ua)
		return;
	/* calls left at exit: both halves must be done (main joins the media
	 * threads first) */
	for(c = ua->calls; c; c = next) {
		next = c->next;
		if(c->reaper) {
			event_free(c->reaper);
			c->reaper = NULL;
		}
		forget_call(ua, c);
		if(c->dlg)
			mw_ua_stop_2xx(ua, c->dlg);
		/* an agent lookup still in flight must not call back into it
		 * when the registry's connection is closed after us */
		mw_registry_forget(ua->reg, c);
		mw_call_free(c);
	}
	ua->calls = NULL;
	if(ua->osip) {
		lists[0] = &ua->osip->osip_ict_transactions;
		lists[1] = &ua->osip->osip_ist_transactions;
		lists[2] = &ua->osip->osip_nict_transactions;
		lists[3] = &ua->osip->osip_nist_transactions;
		for(k = 0; k < 4; k++)
			while((tr = osip_list_get(lists[k], 0)) != NULL) {
				osip_remove_transaction(ua->osip, tr);
				free(osip_transaction_get_reserved2(tr));
				osip_transaction_free2(tr);
			}
		free_dead(ua);
		{
			ixt_t *x;
			while((x = osip_list_get(&ua->osip->ixt_retransmissions, 0)) !=
					NULL) {
				osip_list_remove(&ua->osip->ixt_retransmissions, 0);
				if(x->msg2xx)
					osip_message_free(x->msg2xx);
				if(x->ack)
					osip_message_free(x->ack);
				osip_free(x->dest);
				osip_free(x);
			}
		}
		osip_release(ua->osip);
	}
	for(i = 0; i < MW_UA_MAX_CONNS; i++)
		if(ua->conns[i].id)
			conn_close(&ua->conns[i]);
	if(ua->lst)
		evconnlistener_free(ua->lst);
	if(ua->udp_ev)
		event_free(ua->udp_ev);
	if(ua->udp >= 0)
		close(ua->udp);
	if(ua->osip_timer)
		event_free(ua->osip_timer);
	if(ua->run_ev)
		event_free(ua->run_ev);
	if(ua->drain_ev)
		event_free(ua->drain_ev);
	if(ua_current == ua)
		ua_current = NULL;
	free(ua);
}

/* ---- calls the worker originates (mw_dial, mw_xfer) --------------------- */

void mw_ua_set_record(struct mw_ua *ua, struct mw_record *rec)
{
	ua->rec = rec;
}

struct mw_record *mw_ua_record(const struct mw_ua *ua)
{
	return ua->rec;
}

int mw_ua_can_take(const struct mw_ua *ua)
{
	if(ua->draining)
		return -ESHUTDOWN;
	if(ua->ncalls >= ua->cfg->capacity)
		return -EBUSY;
	return (int)(ua->cfg->capacity - ua->ncalls);
}

void mw_ua_add_call(struct mw_ua *ua, struct mw_call *c)
{
	link_call(ua, c);
}

const char *mw_ua_contact(const struct mw_ua *ua, int tp)
{
	return tp == MW_TP_TCP ? ua->contact_tcp : ua->contact_udp;
}

void mw_ua_via(const struct mw_ua *ua, int tp, char *buf, size_t len)
{
	const char *ip = ua->cfg->adv_ip;
	int v6 = strchr(ip, ':') != NULL;
	char branch[24];

	mw_sip_token(branch, 16);
	snprintf(buf, len, "SIP/2.0/%s %s%s%s:%u;branch=z9hG4bK%s;rport",
			tp == MW_TP_TCP ? "TCP" : "UDP", v6 ? "[" : "", ip, v6 ? "]" : "",
			ua->cfg->adv_port, branch);
}

/* A client transaction of 'type' for 'req' toward 'peer'. */
static int start_client(struct mw_ua *ua, osip_fsm_type_t type,
		osip_message_t *req, const struct mw_peer *peer, struct mw_call *owner,
		osip_transaction_t **out)
{
	osip_transaction_t *tr = NULL;
	struct mw_peer *pcopy;
	osip_event_t *evt;
	char ip[64];
	int port;

	if(out)
		*out = NULL;
	pcopy = malloc(sizeof(*pcopy));
	if(!pcopy)
		return -ENOMEM;
	*pcopy = *peer;
	if(osip_transaction_init(&tr, type, ua->osip, req) != 0) {
		free(pcopy);
		return -ENOMEM;
	}
	osip_transaction_set_reserved2(tr, pcopy);
	osip_transaction_set_your_instance(tr, owner);
	peer_ip(pcopy, ip, sizeof(ip), &port);
	if(type == ICT)
		osip_ict_set_destination(tr->ict_context, osip_strdup(ip), port);
	else
		osip_nict_set_destination(tr->nict_context, osip_strdup(ip), port);
	evt = osip_new_outgoing_sipmessage(req);
	if(!evt) {
		osip_remove_transaction(ua->osip, tr);
		free(pcopy);
		osip_transaction_free2(tr);
		return -ENOMEM;
	}
	evt->transactionid = tr->transactionid;
	osip_transaction_add_event(tr, evt);
	mw_ua_kick(ua);
	if(out)
		*out = tr;
	return 0;
}

int mw_ua_invite(struct mw_ua *ua, osip_message_t *inv,
		const struct mw_peer *peer, struct mw_call *owner,
		osip_transaction_t **out)
{
	return start_client(ua, ICT, inv, peer, owner, out);
}

int mw_ua_cancel(struct mw_ua *ua, osip_transaction_t *ict,
		const struct mw_peer *peer, struct mw_call *owner)
{
	osip_message_t *inv = ict ? ict->orig_request : NULL, *req = NULL;
	osip_via_t *via = NULL;
	osip_route_t *rt;
	char buf[64];
	int i, rc;

	if(!inv || !inv->cseq)
		return -EINVAL;
	/* RFC 3261 9.1: Request-URI, Call-ID, From, To, CSeq number and the
	 * top Via (branch included) of the INVITE, and its Route set */
	if(osip_message_init(&req) != 0)
		return -ENOMEM;
	osip_message_set_method(req, osip_strdup("CANCEL"));
	osip_message_set_version(req, osip_strdup("SIP/2.0"));
	if(osip_uri_clone(inv->req_uri, &req->req_uri) != 0 ||
			osip_from_clone(inv->from, &req->from) != 0 ||
			osip_to_clone(inv->to, &req->to) != 0 ||
			osip_call_id_clone(inv->call_id, &req->call_id) != 0 ||
			osip_via_clone(osip_list_get(&inv->vias, 0), &via) != 0)
		goto fail;
	osip_list_add(&req->vias, via, -1);
	for(i = 0; (rt = osip_list_get(&inv->routes, i)) != NULL; i++) {
		osip_route_t *r2 = NULL;
		if(osip_route_clone(rt, &r2) != 0)
			goto fail;
		osip_list_add(&req->routes, r2, -1);
	}
	snprintf(buf, sizeof(buf), "%s CANCEL", inv->cseq->number);
	osip_message_set_cseq(req, buf);
	osip_message_set_max_forwards(req, "70");
	osip_message_set_header(req, "User-Agent", "byoc-media-worker");
	osip_message_set_content_length(req, "0");
	rc = start_client(ua, NICT, req, peer, owner, NULL);
	if(rc < 0)
		goto fail;
	return 0;
fail:
	osip_message_free(req);
	return -ENOMEM;
}

int mw_ua_ack(struct mw_ua *ua, osip_dialog_t *dlg, const struct mw_peer *peer,
		int cseq, char **raw, size_t *len)
{
	osip_message_t *ack = NULL;
	char *s = NULL;
	int n, rc;

	*raw = NULL;
	*len = 0;
	rc = build_request(ua, dlg, peer, "ACK", cseq, NULL, NULL, NULL, &ack);
	if(rc < 0)
		return rc;
	n = mw_sip_to_str(ack, &s);
	osip_message_free(ack);
	if(n < 0)
		return -ENOMEM;
	rc = transport_send(ua, peer, s, (size_t)n, 1);
	*raw = malloc((size_t)n);
	if(*raw) {
		memcpy(*raw, s, (size_t)n);
		*len = (size_t)n;
	}
	osip_free(s);
	return rc;
}

int mw_ua_send_raw(struct mw_ua *ua, const struct mw_peer *peer,
		const char *data, size_t len)
{
	return transport_send(ua, peer, data, len, 1);
}
