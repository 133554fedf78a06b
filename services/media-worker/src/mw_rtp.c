/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_rtp.c -- RTP/RTCP parse and build, RFC 3550 receiver statistics.
 * Hand-written (see mw_rtp.h for why); pure functions, every read is
 * bounds-checked against the caller's length first.
 */
#include "mw_rtp.h"

#include <errno.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
		   ((uint32_t)p[2] << 8) | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int mw_rtp_parse(const uint8_t *buf, size_t len, struct mw_rtp_hdr *h)
{
	size_t off, end;
	unsigned i;

	if(!buf || !h || len < MW_RTP_HDR_LEN)
		return -EINVAL;
	if((buf[0] >> 6) != MW_RTP_VERSION)
		return -EINVAL;
	h->cc = buf[0] & 0x0f;
	h->has_ext = (buf[0] >> 4) & 1;
	h->marker = buf[1] >> 7;
	h->pt = buf[1] & 0x7f;
	h->seq = rd16(buf + 2);
	h->ts = rd32(buf + 4);
	h->ssrc = rd32(buf + 8);
	off = MW_RTP_HDR_LEN + 4u * h->cc;
	if(off > len)
		return -EINVAL;
	for(i = 0; i < h->cc; i++)
		h->csrc[i] = rd32(buf + MW_RTP_HDR_LEN + 4 * i);
	h->ext_profile = 0;
	h->ext = NULL;
	h->ext_len = 0;
	if(h->has_ext) {
		if(len - off < 4)
			return -EINVAL;
		h->ext_profile = rd16(buf + off);
		h->ext_len = 4u * rd16(buf + off + 2);
		off += 4;
		if(h->ext_len > len - off)
			return -EINVAL;
		h->ext = buf + off;
		off += h->ext_len;
	}
	end = len;
	h->pad_len = 0;
	if(buf[0] & 0x20) {
		/* the last byte counts the padding, itself included */
		size_t pad = buf[len - 1];
		if(pad == 0 || pad > len - off)
			return -EINVAL;
		h->pad_len = pad;
		end = len - pad;
	}
	h->payload = buf + off;
	h->payload_len = end - off;
	return 0;
}

int mw_rtp_build(
		uint8_t *buf, size_t cap, const struct mw_rtp_hdr *h, size_t *out_len)
{
	size_t need, off;
	unsigned i;

	if(!buf || !h || !out_len || h->cc > MW_RTP_MAX_CSRC || h->pt > 127 ||
			h->pad_len > 255 || (h->ext_len & 3) || h->ext_len > 4u * 0xffff ||
			(h->payload_len && !h->payload) || (h->ext_len && !h->ext))
		return -EINVAL;
	need = MW_RTP_HDR_LEN + 4u * h->cc + h->payload_len + h->pad_len;
	if(h->has_ext)
		need += 4 + h->ext_len;
	if(need > cap)
		return -ENOSPC;
	mw_rtp_write_hdr(buf, h->marker, h->pt, h->seq, h->ts, h->ssrc);
	buf[0] |= (uint8_t)(h->cc | (h->has_ext ? 0x10 : 0) |
						(h->pad_len ? 0x20 : 0));
	off = MW_RTP_HDR_LEN;
	for(i = 0; i < h->cc; i++, off += 4)
		wr32(buf + off, h->csrc[i]);
	if(h->has_ext) {
		wr16(buf + off, h->ext_profile);
		wr16(buf + off + 2, (uint16_t)(h->ext_len / 4));
		off += 4;
		if(h->ext_len)
			memcpy(buf + off, h->ext, h->ext_len);
		off += h->ext_len;
	}
	if(h->payload_len)
		memcpy(buf + off, h->payload, h->payload_len);
	off += h->payload_len;
	if(h->pad_len) {
		memset(buf + off, 0, h->pad_len - 1);
		buf[off + h->pad_len - 1] = (uint8_t)h->pad_len;
		off += h->pad_len;
	}
	*out_len = off;
	return 0;
}

void mw_rtp_write_hdr(uint8_t *buf, int marker, uint8_t pt, uint16_t seq,
		uint32_t ts, uint32_t ssrc)
{
	buf[0] = MW_RTP_VERSION << 6;
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	wr16(buf + 2, seq);
	wr32(buf + 4, ts);
	wr32(buf + 8, ssrc);
}

int mw_rtp_is_rtcp(const uint8_t *buf, size_t len)
{
	return buf && len >= 2 && (buf[0] >> 6) == MW_RTP_VERSION &&
		   buf[1] >= 192 && buf[1] <= 223;
}

/* ---- RTCP parse ---- */

static void rb_read(const uint8_t *p, struct mw_rtcp_rb *rb)
{
	uint32_t l = rd32(p + 4) & 0xffffff;

	rb->ssrc = rd32(p);
	rb->fraction = p[4];
	/* sign-extend the 24-bit cumulative loss */
	rb->lost = (l & 0x800000) ? (int32_t)(l | 0xff000000u) : (int32_t)l;
	rb->ext_max_seq = rd32(p + 8);
	rb->jitter = rd32(p + 12);
	rb->lsr = rd32(p + 16);
	rb->dlsr = rd32(p + 20);
}

/* p/len: one packet's body after its 4-byte header. */
static int parse_reports(
		struct mw_rtcp_info *out, const uint8_t *p, size_t len, unsigned rc)
{
	unsigned i;

	if(len < 24u * rc)
		return -EINVAL;
	/* several SR/RR in one compound: the first one's blocks are kept */
	if(out->has_sr + out->has_rr > 1)
		return 0;
	out->n_rb_all = rc;
	for(i = 0; i < rc && i < MW_RTCP_PARSE_RB; i++)
		rb_read(p + 24 * i, &out->rb[i]);
	out->n_rb = i;
	return 0;
}

static int parse_sdes(
		struct mw_rtcp_info *out, const uint8_t *p, size_t len, unsigned sc)
{
	size_t off = 0;
	unsigned c;

	for(c = 0; c < sc; c++) {
		uint32_t ssrc;

		if(len - off < 4)
			return -EINVAL;
		ssrc = rd32(p + off);
		off += 4;
		/* items until a null item, then padding to a 32-bit boundary */
		for(;;) {
			uint8_t type, ilen;

			if(off >= len)
				return -EINVAL;
			type = p[off];
			if(type == 0) {
				off = (off + 4) & ~(size_t)3;
				if(off > len)
					return -EINVAL;
				break;
			}
			if(len - off < 2)
				return -EINVAL;
			ilen = p[off + 1];
			if((size_t)ilen > len - off - 2)
				return -EINVAL;
			if(type == 1 && !out->has_sdes) {
				out->has_sdes = 1;
				out->cname_ssrc = ssrc;
				memcpy(out->cname, p + off + 2, ilen);
				out->cname[ilen] = '\0';
			}
			off += 2u + ilen;
		}
	}
	return 0;
}

static int parse_bye(
		struct mw_rtcp_info *out, const uint8_t *p, size_t len, unsigned sc)
{
	unsigned i;
	size_t off = 4u * sc;

	if(len < off)
		return -EINVAL;
	if(out->has_bye)
		return 0;
	out->has_bye = 1;
	for(i = 0; i < sc && i < MW_RTCP_PARSE_BYE; i++)
		out->bye_ssrc[i] = rd32(p + 4 * i);
	out->n_bye = i;
	if(off < len) {
		size_t rl = p[off];
		if(rl > len - off - 1)
			return -EINVAL;
		memcpy(out->bye_reason, p + off + 1, rl);
		out->bye_reason[rl] = '\0';
	}
	return 0;
}

int mw_rtcp_parse(const uint8_t *buf, size_t len, struct mw_rtcp_info *out)
{
	size_t off = 0;
	int rc;

	if(!buf || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if(len < 4 || (len & 3))
		return -EINVAL;
	/* bounded: every iteration consumes at least 4 bytes */
	while(off < len) {
		const uint8_t *p = buf + off;
		size_t plen, body;
		unsigned count;
		uint8_t type;

		if(len - off < 4 || (p[0] >> 6) != MW_RTP_VERSION)
			return -EINVAL;
		plen = 4u * (rd16(p + 2) + 1u);
		if(plen > len - off)
			return -EINVAL;
		body = plen - 4;
		if(p[0] & 0x20) {
			/* padding: only the last packet may carry it */
			size_t pad = p[plen - 1];
			if(off + plen != len || pad == 0 || pad > body || (pad & 3))
				return -EINVAL;
			body -= pad;
		}
		count = p[0] & 0x1f;
		type = p[1];
		out->n_packets++;
		switch(type) {
			case MW_RTCP_SR:
				if(body < 24)
					return -EINVAL;
				if(!out->has_sr && !out->has_rr) {
					out->sr.ssrc = rd32(p + 4);
					out->sr.ntp_sec = rd32(p + 8);
					out->sr.ntp_frac = rd32(p + 12);
					out->sr.rtp_ts = rd32(p + 16);
					out->sr.pkt_count = rd32(p + 20);
					out->sr.octet_count = rd32(p + 24);
					out->rr_ssrc = out->sr.ssrc;
				}
				out->has_sr++;
				rc = parse_reports(out, p + 28, body - 24, count);
				break;
			case MW_RTCP_RR:
				if(body < 4)
					return -EINVAL;
				if(!out->has_sr && !out->has_rr)
					out->rr_ssrc = rd32(p + 4);
				out->has_rr++;
				rc = parse_reports(out, p + 8, body - 4, count);
				break;
			case MW_RTCP_SDES:
				rc = parse_sdes(out, p + 4, body, count);
				break;
			case MW_RTCP_BYE:
				rc = parse_bye(out, p + 4, body, count);
				break;
			default:
				/* APP, XR, RTPFB, PSFB...: not ours, length already
				 * validated */
				rc = (type >= 192 && type <= 223) ? 0 : -EINVAL;
				break;
		}
		if(rc < 0)
			return rc;
		off += plen;
	}
	/* has_sr/has_rr were counters while parsing */
	out->has_sr = !!out->has_sr;
	out->has_rr = !!out->has_rr;
	return 0;
}

/* ---- RTCP build ---- */

static void rtcp_hdr(uint8_t *p, unsigned count, uint8_t type, size_t len)
{
	p[0] = (uint8_t)((MW_RTP_VERSION << 6) | (count & 0x1f));
	p[1] = type;
	wr16(p + 2, (uint16_t)(len / 4 - 1));
}

static void rb_write(uint8_t *p, const struct mw_rtcp_rb *rb)
{
	int32_t lost = rb->lost;

	if(lost > 0x7fffff)
		lost = 0x7fffff;
	if(lost < -0x800000)
		lost = -0x800000;
	wr32(p, rb->ssrc);
	wr32(p + 4, ((uint32_t)rb->fraction << 24) | ((uint32_t)lost & 0xffffff));
	wr32(p + 8, rb->ext_max_seq);
	wr32(p + 12, rb->jitter);
	wr32(p + 16, rb->lsr);
	wr32(p + 20, rb->dlsr);
}

int mw_rtcp_build_sr(uint8_t *buf, size_t cap, const struct mw_rtcp_sr *sr,
		const struct mw_rtcp_rb *rb, unsigned n_rb, size_t *out_len)
{
	size_t len = 28 + 24u * n_rb;
	unsigned i;

	if(!buf || !sr || !out_len || n_rb > MW_RTCP_MAX_RB || (n_rb && !rb))
		return -EINVAL;
	if(len > cap)
		return -ENOSPC;
	rtcp_hdr(buf, n_rb, MW_RTCP_SR, len);
	wr32(buf + 4, sr->ssrc);
	wr32(buf + 8, sr->ntp_sec);
	wr32(buf + 12, sr->ntp_frac);
	wr32(buf + 16, sr->rtp_ts);
	wr32(buf + 20, sr->pkt_count);
	wr32(buf + 24, sr->octet_count);
	for(i = 0; i < n_rb; i++)
		rb_write(buf + 28 + 24 * i, &rb[i]);
	*out_len = len;
	return 0;
}

int mw_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc,
		const struct mw_rtcp_rb *rb, unsigned n_rb, size_t *out_len)
{
	size_t len = 8 + 24u * n_rb;
	unsigned i;

	if(!buf || !out_len || n_rb > MW_RTCP_MAX_RB || (n_rb && !rb))
		return -EINVAL;
	if(len > cap)
		return -ENOSPC;
	rtcp_hdr(buf, n_rb, MW_RTCP_RR, len);
	wr32(buf + 4, ssrc);
	for(i = 0; i < n_rb; i++)
		rb_write(buf + 8 + 24 * i, &rb[i]);
	*out_len = len;
	return 0;
}

int mw_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc,
		const char *cname, size_t *out_len)
{
	size_t n, len;

	if(!buf || !cname || !out_len)
		return -EINVAL;
	n = strlen(cname);
	if(n == 0 || n > 255)
		return -EINVAL;
	/* ssrc + type + len + text + at least one null byte, to 32 bits */
	len = 4 + ((4 + 2 + n + 1 + 3) & ~(size_t)3);
	if(len > cap)
		return -ENOSPC;
	rtcp_hdr(buf, 1, MW_RTCP_SDES, len);
	wr32(buf + 4, ssrc);
	buf[8] = 1; /* CNAME */
	buf[9] = (uint8_t)n;
	memcpy(buf + 10, cname, n);
	memset(buf + 10 + n, 0, len - 10 - n);
	*out_len = len;
	return 0;
}

int mw_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrc,
		unsigned n, const char *reason, size_t *out_len)
{
	size_t rl = reason ? strlen(reason) : 0, len;
	unsigned i;

	if(!buf || !out_len || n > 31 || (n && !ssrc) || rl > 255)
		return -EINVAL;
	len = 4 + 4u * n;
	if(rl)
		len += (1 + rl + 3) & ~(size_t)3;
	if(len > cap)
		return -ENOSPC;
	rtcp_hdr(buf, n, MW_RTCP_BYE, len);
	for(i = 0; i < n; i++)
		wr32(buf + 4 + 4 * i, ssrc[i]);
	if(rl) {
		size_t off = 4 + 4u * n;
		buf[off] = (uint8_t)rl;
		memcpy(buf + off + 1, reason, rl);
		memset(buf + off + 1 + rl, 0, len - off - 1 - rl);
	}
	*out_len = len;
	return 0;
}

void mw_ntp_from_unix(
		int64_t sec, long nsec, uint32_t *ntp_sec, uint32_t *ntp_frac)
{
	/* 70 years (17 leap days) between 1900 and 1970 */
	*ntp_sec = (uint32_t)(sec + 2208988800LL);
	*ntp_frac = (uint32_t)(((uint64_t)nsec << 32) / 1000000000u);
}

/* ---- receiver statistics ---- */

#define RTP_SEQ_MOD (1u << 16)
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100

void mw_rtp_rxstats_init(struct mw_rtp_rxstats *s, uint32_t ssrc, uint16_t seq)
{
	memset(s, 0, sizeof(*s));
	s->ssrc = ssrc;
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
	s->init = 1;
}

int mw_rtp_rxstats_seq(struct mw_rtp_rxstats *s, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);

	if(!s->init)
		return -EINVAL;
	if(udelta < MAX_DROPOUT) {
		/* in order, with permissible gap */
		if(seq < s->max_seq)
			s->cycles += RTP_SEQ_MOD; /* wrapped */
		s->max_seq = seq;
	} else if(udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
		/* the sequence number made a very large jump */
		if(seq == s->bad_seq) {
			/* two sequential packets: the source restarted */
			uint32_t ssrc = s->ssrc;
			mw_rtp_rxstats_init(s, ssrc, seq);
		} else {
			s->bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1);
			return -EPROTO;
		}
	} else {
		/* duplicate or reordered packet: counted, max unchanged */
	}
	s->received++;
	return 0;
}

void mw_rtp_rxstats_jitter(
		struct mw_rtp_rxstats *s, uint32_t ts, uint32_t arrival)
{
	uint32_t transit = arrival - ts;
	int32_t d;

	if(!s->have_transit) {
		s->have_transit = 1;
		s->transit = transit;
		return;
	}
	d = (int32_t)(transit - s->transit);
	s->transit = transit;
	if(d < 0)
		d = -d;
	/* A.8: J += (|D| - J) / 16, kept as J * 16 */
	s->jitter_q4 += (uint32_t)d - ((s->jitter_q4 + 8) >> 4);
}

uint32_t mw_rtp_rxstats_ext_max(const struct mw_rtp_rxstats *s)
{
	return s->cycles + s->max_seq;
}

int32_t mw_rtp_rxstats_lost(const struct mw_rtp_rxstats *s)
{
	int64_t expected = (int64_t)mw_rtp_rxstats_ext_max(s) - s->base_seq + 1;
	int64_t lost = expected - s->received;

	if(lost > 0x7fffff)
		lost = 0x7fffff;
	if(lost < -0x800000)
		lost = -0x800000;
	return (int32_t)lost;
}

void mw_rtp_rxstats_block(struct mw_rtp_rxstats *s, struct mw_rtcp_rb *rb)
{
	uint32_t expected = mw_rtp_rxstats_ext_max(s) - s->base_seq + 1;
	uint32_t exp_int = expected - s->expected_prior;
	uint32_t rec_int = s->received - s->received_prior;
	int64_t lost_int = (int64_t)exp_int - rec_int;

	s->expected_prior = expected;
	s->received_prior = s->received;
	memset(rb, 0, sizeof(*rb));
	rb->ssrc = s->ssrc;
	if(exp_int == 0 || lost_int <= 0)
		rb->fraction = 0;
	else if(lost_int >= exp_int)
		rb->fraction = 255; /* everything lost: 256/256 does not fit */
	else
		rb->fraction = (uint8_t)((lost_int << 8) / exp_int);
	rb->lost = mw_rtp_rxstats_lost(s);
	rb->ext_max_seq = mw_rtp_rxstats_ext_max(s);
	rb->jitter = mw_rtp_rxstats_jitter_ts(s);
}
