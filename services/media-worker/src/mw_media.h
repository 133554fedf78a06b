/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mw_media.h -- the media engine of one call: RTP/RTCP toward the edge's
 * rtpengine, G.711 (PCMU/PCMA) and G.722 through spandsp, opus through
 * libopus (mw_codec), an adaptive bounded jitter buffer with spandsp
 * packet-loss concealment, RFC 4733 telephone-events, in-band DTMF
 * (spandsp's dtmf_rx / dtmf_tx), and a 20 ms playout clock that always
 * sends (AI audio or silence).
 *
 * Threading/ownership: a struct mw_media lives on ONE event_base (the
 * call's thread) and is owned by the call object that created it; every
 * function must be called from that thread. Callbacks run on that thread
 * and may call any mw_media function except mw_media_free (mark the call
 * closing and free it later).
 *
 * Audio crossing this API is linear 16-bit PCM at the API rate chosen in
 * the configuration (8000 or 16000 Hz), in 20 ms frames (160 or 320
 * samples), whatever the codec on the wire: the engine converts between
 * the codec's rate (8 kHz G.711, 16 kHz G.722/opus) and the API rate with
 * speexdsp only when they differ.
 * All functions return 0 or -errno.
 */
#ifndef MW_MEDIA_H
#define MW_MEDIA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mw_codec.h"

struct mw_clock;
struct mw_media;

struct mw_media_cfg
{
	const char *local_ip;		 /* address to bind RTP (and RTP+1 for RTCP) */
	uint16_t port_min, port_max; /* even port pairs taken from this range */
	int jb_min_ms, jb_max_ms; /* jitter buffer target bounds (e.g. 20..200) */
	int rtp_timeout_ms;		  /* no RTP for this long -> on_timeout (0 off) */
	size_t playout_max_ms;	  /* playout queue cap (AI audio), e.g. 300000 */
	unsigned api_rate; /* on_audio / mw_media_play rate: 8000 (0) or 16000 */
	int dtmf_inband;   /* detect in-band DTMF in the caller's audio */
};

struct mw_media_cbs
{
	/* every 20 ms, exactly, for the whole call: the caller's audio after
	 * the jitter buffer (concealed or silence when nothing arrived).
	 * 'ts_ms' is media time since the start of the stream. */
	void (*on_audio)(
			void *arg, const int16_t *pcm, size_t samples, uint64_t ts_ms);
	/* one per RFC 4733 event (at its end; redundant end packets ignored;
	 * with or without the marker bit), or per in-band tone (at its end,
	 * when cfg.dtmf_inband). digit: 0-9 * # A-D; source: enum mw_dtmf_src
	 * (MW_DTMF_SRC_RFC4733 or MW_DTMF_SRC_INBAND). */
	void (*on_dtmf)(void *arg, char digit, int duration_ms, int source);
	/* the audio queued before this mark has been sent on the wire (or it
	 * was flushed by mw_media_clear, or dropped by the playout cap).
	 * Called from the 20 ms tick, or synchronously from inside
	 * mw_media_mark (empty queue) and mw_media_clear. */
	void (*on_mark)(void *arg, const char *name);
	/* no RTP from the far end for rtp_timeout_ms (once per silence; not
	 * while on hold; re-armed by the next RTP packet or by a resume) */
	void (*on_timeout)(void *arg);
};

/* Creates the session on the loop of 'clk' (the loop's media clock,
 * mw_clock.h) and binds its RTP/RTCP sockets. *port_out is the local RTP
 * port to put in the SDP. Sending starts with mw_media_start.
 * (local_ip must be a numeric IPv4/IPv6 address, NULL/"" = 0.0.0.0;
 * jb_min_ms/jb_max_ms 0 = 20/200, playout_max_ms 0 = 300000;
 * -EADDRINUSE when every port pair of the range is taken.) */
int mw_media_new(struct mw_clock *clk, const struct mw_media_cfg *cfg,
		const struct mw_media_cbs *cbs, void *arg, struct mw_media **out,
		uint16_t *port_out);

/* Far end from the negotiated SDP (call again on re-INVITE/UPDATE).
 * 'codec' is enum mw_codec, 'pt' its payload type (the static one for
 * G.711/G.722, the SDP's for opus), 'te_pt' the telephone-event payload
 * type (at the codec's RTP clock) or -1. A codec change re-creates the
 * codec state, and the jitter buffer when the rate changes. Symmetric
 * RTP: the first packets received re-point the destination to their
 * actual source (rule in mw_media.c; a new address clears the latch).
 * -EINVAL for an unknown codec or a bad/clashing pt, -EAFNOSUPPORT when
 * the address family is not local_ip's, -ENOMEM. */
int mw_media_set_remote(struct mw_media *m, const struct sockaddr *sa,
		socklen_t salen, int codec, int pt, int te_pt);
/* The codec in use (enum mw_codec). */
int mw_media_codec(const struct mw_media *m);

/* Starts the 20 ms clock (RTP out, on_audio in). */
int mw_media_start(struct mw_media *m);
/* Hold (a=sendonly/inactive from the far end): keep the clocks, send
 * nothing; resume with on = 0. The playout queue (and its marks, and
 * queued DTMF) waits during the hold and resumes with it. */
int mw_media_hold(struct mw_media *m, int on);

/* Queues AI audio for playout (any length; bounded by playout_max_ms:
 * beyond it the oldest audio is dropped and counted). */
int mw_media_play(struct mw_media *m, const int16_t *pcm, size_t samples);
/* Queues a mark after the audio queued so far (echoed at once when the
 * queue is empty). */
int mw_media_mark(struct mw_media *m, const char *name);
/* Drops all queued audio (silence from the next 20 ms tick) and echoes
 * every pending mark, in order, before returning. */
int mw_media_clear(struct mw_media *m);
/* Sends an RFC 4733 digit toward the far end. Queued (up to 32 digits,
 * 60 ms apart); duration clamped to 40..5000 ms (<= 0: 100 ms; at the
 * 48 kHz opus clock one event lasts at most 1365 ms). The AI audio waits
 * while a digit is on the wire. -ENOTSUP without a telephone-event
 * payload type, -ENOBUFS when full. */
int mw_media_send_dtmf(struct mw_media *m, char digit, int duration_ms);
/* The same as an in-band tone pair (spandsp dtmf_tx, -10 dBm0 per tone)
 * in place of the AI audio, in the same queue (durations rounded up to
 * 20 ms). -ENOMEM when the generator cannot be set up. */
int mw_media_send_dtmf_inband(struct mw_media *m, char digit, int duration_ms);

struct mw_media_stats
{
	/* rtp_bad: datagrams dropped as malformed/truncated (RTP or RTCP),
	 * of an unexpected payload type, or from a foreign source */
	uint64_t rtp_rx, rtp_tx, rtp_bad, rtp_lost, rtp_late, rtcp_rx, rtcp_tx;
	uint32_t jitter_ms; /* RFC 3550 interarrival jitter */
	uint32_t jb_ms;		/* current jitter buffer depth */
	uint64_t underruns; /* ticks with nothing queued while the AI talked */
	/* plc_frames: frames with concealed samples (loss, delay stretch,
	 * 60 ms fade-out when the far end stops sending) */
	uint64_t plc_frames, dtmf_events, playout_dropped_ms;
	uint64_t queued_ms; /* AI audio waiting */
};
void mw_media_get_stats(const struct mw_media *m, struct mw_media_stats *st);

/* Stops the clocks, closes the sockets, frees everything (sends an RTCP
 * BYE first; pending marks are not echoed). */
void mw_media_free(struct mw_media *m);

#endif
