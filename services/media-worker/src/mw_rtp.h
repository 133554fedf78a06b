/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_rtp.h -- RTP (RFC 3550 section 5) and RTCP (SR, RR, SDES, BYE;
 * section 6) parsing and building, plus the receiver statistics of
 * appendix A.1/A.3/A.8 (sequence tracking, loss fraction, cumulative
 * loss, interarrival jitter).
 *
 * Written by hand: libevent has no RTP support and the RTP libraries
 * (oRTP, libre, ...) bring their own scheduler and sockets, which would
 * fight the worker's event loops. Everything here is pure (no I/O, no
 * allocation, no global state); every parser checks every length against
 * the buffer before reading. Functions return 0 or -errno.
 */
#ifndef MW_RTP_H
#define MW_RTP_H

#include <stddef.h>
#include <stdint.h>

#define MW_RTP_VERSION 2
#define MW_RTP_HDR_LEN 12 /* fixed header, no CSRC */
#define MW_RTP_MAX_CSRC 15

/* One RTP packet. Parse fills every field (pointers into the caller's
 * buffer, valid while it is); build reads every field except 'version'. */
struct mw_rtp_hdr
{
	uint8_t marker; /* 0/1 */
	uint8_t pt;		/* 0..127 */
	uint8_t cc;		/* CSRC count 0..15 */
	uint8_t has_ext;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint32_t csrc[MW_RTP_MAX_CSRC];
	uint16_t ext_profile;	/* "defined by profile" 16 bits */
	const uint8_t *ext;		/* extension data (after its 4-byte header) */
	size_t ext_len;			/* bytes, multiple of 4 */
	size_t pad_len;			/* padding bytes incl. the count byte, 0 none */
	const uint8_t *payload; /* payload (padding excluded) */
	size_t payload_len;
};

/* Parses and validates an RTP packet: version 2, room for the CSRC list,
 * the extension and the padding. -EINVAL on a malformed packet (nothing
 * in *h is to be used then). */
int mw_rtp_parse(const uint8_t *buf, size_t len, struct mw_rtp_hdr *h);

/* Writes header + payload (+ padding when pad_len > 0, 1..255) into buf.
 * *out_len gets the packet length. -ENOSPC when cap is too small,
 * -EINVAL on inconsistent fields (cc > 15, ext_len not a multiple of 4,
 * pt > 127). */
int mw_rtp_build(
		uint8_t *buf, size_t cap, const struct mw_rtp_hdr *h, size_t *out_len);

/* Writes the fixed 12-byte header (no CSRC, no extension, no padding):
 * the hot path of the sender. buf must hold MW_RTP_HDR_LEN bytes. */
void mw_rtp_write_hdr(uint8_t *buf, int marker, uint8_t pt, uint16_t seq,
		uint32_t ts, uint32_t ssrc);

/* RFC 5761 demultiplexing: 1 when a packet received on an RTP socket is
 * RTCP (version 2, second byte 192..223, i.e. packet type 192..223). */
int mw_rtp_is_rtcp(const uint8_t *buf, size_t len);

/* ---- RTCP ---- */

enum
{
	MW_RTCP_SR = 200,
	MW_RTCP_RR = 201,
	MW_RTCP_SDES = 202,
	MW_RTCP_BYE = 203,
	MW_RTCP_APP = 204,
};

#define MW_RTCP_MAX_RB 31	/* report count is 5 bits */
#define MW_RTCP_PARSE_RB 4	/* report blocks kept by the parser */
#define MW_RTCP_PARSE_BYE 4 /* BYE SSRCs kept by the parser */

/* A report block (RFC 3550 6.4.1). */
struct mw_rtcp_rb
{
	uint32_t ssrc;		  /* source this block is about */
	uint8_t fraction;	  /* fraction lost since the last report, /256 */
	int32_t lost;		  /* cumulative lost, 24-bit signed */
	uint32_t ext_max_seq; /* cycles << 16 | highest sequence number */
	uint32_t jitter;	  /* interarrival jitter, timestamp units */
	uint32_t lsr;		  /* middle 32 bits of the last SR's NTP time */
	uint32_t dlsr;		  /* delay since that SR, 1/65536 s */
};

/* Sender info of an SR. */
struct mw_rtcp_sr
{
	uint32_t ssrc;
	uint32_t ntp_sec, ntp_frac;
	uint32_t rtp_ts;
	uint32_t pkt_count, octet_count;
};

/* What mw_rtcp_parse found in a compound packet. Fields are valid when
 * the matching has_* flag is set; of several packets of one type the
 * first wins. Unknown packet types (APP, XR, feedback) are skipped. */
struct mw_rtcp_info
{
	unsigned n_packets; /* RTCP packets in the compound */
	int has_sr, has_rr, has_sdes, has_bye;
	struct mw_rtcp_sr sr;
	uint32_t rr_ssrc;  /* sender of the report blocks (SR or RR) */
	unsigned n_rb;	   /* report blocks kept (<= MW_RTCP_PARSE_RB) */
	unsigned n_rb_all; /* report blocks present */
	struct mw_rtcp_rb rb[MW_RTCP_PARSE_RB];
	uint32_t cname_ssrc;
	char cname[256]; /* first CNAME, NUL-terminated */
	unsigned n_bye;	 /* BYE SSRCs kept */
	uint32_t bye_ssrc[MW_RTCP_PARSE_BYE];
	char bye_reason[256];
};

/* Validates a compound RTCP packet (RFC 3550 A.2, relaxed by RFC 5506:
 * the first packet need not be SR/RR): every packet version 2, lengths
 * adding up exactly to 'len', padding only on the last packet, report
 * blocks and SDES/BYE contents within their packet. -EINVAL otherwise. */
int mw_rtcp_parse(const uint8_t *buf, size_t len, struct mw_rtcp_info *out);

/* Builders append one RTCP packet at buf (cap bytes) and set *out_len;
 * chain them for a compound packet. -ENOSPC / -EINVAL. */
int mw_rtcp_build_sr(uint8_t *buf, size_t cap, const struct mw_rtcp_sr *sr,
		const struct mw_rtcp_rb *rb, unsigned n_rb, size_t *out_len);
int mw_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc,
		const struct mw_rtcp_rb *rb, unsigned n_rb, size_t *out_len);
/* One chunk with one CNAME item (1..255 bytes). */
int mw_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc,
		const char *cname, size_t *out_len);
/* reason may be NULL; at most 255 bytes. */
int mw_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrc,
		unsigned n, const char *reason, size_t *out_len);

/* NTP timestamp (seconds since 1900, 32.32 fixed point) of a
 * CLOCK_REALTIME value. */
void mw_ntp_from_unix(
		int64_t sec, long nsec, uint32_t *ntp_sec, uint32_t *ntp_frac);
/* The "middle 32 bits" used by LSR. */
static inline uint32_t mw_ntp_mid32(uint32_t ntp_sec, uint32_t ntp_frac)
{
	return (ntp_sec << 16) | (ntp_frac >> 16);
}

/* ---- receiver statistics (RFC 3550 A.1, A.3, A.8) ---- */

/* Per source; owned by whoever receives that source's packets. */
struct mw_rtp_rxstats
{
	uint32_t ssrc;
	uint16_t max_seq;		 /* highest seq seen */
	uint32_t cycles;		 /* shifted count of seq wraps */
	uint32_t base_seq;		 /* first seq (extended) */
	uint32_t bad_seq;		 /* last 'bad' seq + 1 (A.1) */
	uint32_t received;		 /* packets received */
	uint32_t expected_prior; /* at the last report block */
	uint32_t received_prior;
	uint32_t transit;	/* last transit time, timestamp units */
	uint32_t jitter_q4; /* jitter * 16 (A.8 integer form) */
	int have_transit;
	int init;
};

/* Starts tracking 'ssrc' with its first sequence number. */
void mw_rtp_rxstats_init(struct mw_rtp_rxstats *s, uint32_t ssrc, uint16_t seq);
/* A.1 update_seq: 0 when the packet counts, -EPROTO when it is rejected
 * (a big jump waiting for confirmation by the next packet, or a very old
 * duplicate/misordered packet). A jump confirmed by a sequential next
 * packet restarts the statistics. */
int mw_rtp_rxstats_seq(struct mw_rtp_rxstats *s, uint16_t seq);
/* A.8 interarrival jitter: 'ts' the packet's RTP timestamp, 'arrival' the
 * local arrival time in the same units (any origin). */
void mw_rtp_rxstats_jitter(
		struct mw_rtp_rxstats *s, uint32_t ts, uint32_t arrival);
/* Jitter in timestamp units. */
static inline uint32_t mw_rtp_rxstats_jitter_ts(const struct mw_rtp_rxstats *s)
{
	return s->jitter_q4 >> 4;
}
/* Extended highest sequence number. */
uint32_t mw_rtp_rxstats_ext_max(const struct mw_rtp_rxstats *s);
/* Cumulative lost = expected - received (may be negative with
 * duplicates), clamped to 24-bit signed. */
int32_t mw_rtp_rxstats_lost(const struct mw_rtp_rxstats *s);
/* Fills a report block (A.3) and starts a new reporting interval;
 * lsr/dlsr are left 0 for the caller. */
void mw_rtp_rxstats_block(struct mw_rtp_rxstats *s, struct mw_rtcp_rb *rb);

#endif
