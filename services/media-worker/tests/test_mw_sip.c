/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mw_sip.c -- SIP parsing and validation against the RFC 4475 and
 * RFC 5118 torture corpus (every file: valid ones parse, invalid ones are
 * refused with the right status, none crash), the UAS checks of RFC 3261
 * 8.2, TCP framing, responses, and a mutation pass over the corpus.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mw_sip.h"

#define BUFSZ (MW_SIP_MAX_MSG + 4096)

static const char *corpus_dir(void)
{
	const char *c = getenv("BYOC_CORPUS");
	return c ? c : "tests/corpus";
}

static size_t slurp(const char *rel, char *buf, size_t cap)
{
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/sip-torture/%s", corpus_dir(), rel);
	f = fopen(path, "rb");
	if(!f) {
		fail_msg("cannot open %s (BYOC_CORPUS)", path);
		return 0;
	}
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	return n;
}

/* Expected outcome of one corpus file:
 *  parse  0: accepted by mw_sip_parse, else the refusal status (requests)
 *         or -1 (a response, dropped);
 *  app    for accepted requests, mw_sip_app_check's result (0 = handled). */
struct expect
{
	const char *file;
	int parse;
	int app;
};

static const struct expect table[] = {
		/* RFC 4475 3.1.1 valid */
		{"rfc4475/wsinv.dat", 0, 0},
		{"rfc4475/intmeth.dat", 0, 501},
		{"rfc4475/esc01.dat", 0, 0},
		{"rfc4475/escnull.dat", 0, 405},
		{"rfc4475/esc02.dat", 0, 501}, /* RE%47IST%45R is not REGISTER */
		{"rfc4475/lwsdisp.dat", 0, 0},
		{"rfc4475/longreq.dat", 0, 0},
		{"rfc4475/dblreq.dat", 0, 405},
		{"rfc4475/semiuri.dat", 0, 0},
		{"rfc4475/transports.dat", 0, 0},
		{"rfc4475/mpart01.dat", 0, 405},
		{"rfc4475/unreason.dat", 0, 0},
		{"rfc4475/noreason.dat", 0, 0},
		/* 3.1.2 invalid */
		{"rfc4475/badinv01.dat", 400, 0},
		{"rfc4475/clerr.dat", 400, 0},
		{"rfc4475/ncl.dat", 400, 0},
		{"rfc4475/scalar02.dat", 400, 0},
		{"rfc4475/scalarlg.dat", -1, 0},
		{"rfc4475/quotbal.dat", 400, 0},
		{"rfc4475/ltgtruri.dat", 400, 0},
		{"rfc4475/lwsruri.dat", 400, 0},
		{"rfc4475/lwsstart.dat", 400, 0},
		{"rfc4475/trws.dat", 400, 0},
		{"rfc4475/escruri.dat", 400, 0},
		{"rfc4475/baddate.dat", 400, 0},
		{"rfc4475/regbadct.dat", 400, 0},
		{"rfc4475/badaspec.dat", 400, 0},
		{"rfc4475/baddn.dat", 400, 0},
		{"rfc4475/badvers.dat", 505, 0},
		{"rfc4475/mismatch01.dat", 400, 0},
		{"rfc4475/mismatch02.dat", 400, 0},
		{"rfc4475/bigcode.dat", -1, 0},
		/* 3.2 transaction layer */
		{"rfc4475/badbranch.dat", 0, 0},
		/* 3.3 application layer */
		{"rfc4475/insuf.dat", 400, 0},
		{"rfc4475/unkscm.dat", 416, 0},
		{"rfc4475/novelsc.dat", 416, 0},
		{"rfc4475/unksm2.dat", 0, 405},
		{"rfc4475/bext01.dat", 0, 420},
		{"rfc4475/invut.dat", 0, 415},
		{"rfc4475/regaut01.dat", 0, 405},
		{"rfc4475/multi01.dat", 400, 0},
		{"rfc4475/mcl01.dat", 400, 0},
		{"rfc4475/bcast.dat", 0, 0},  /* a response: matched to nothing */
		{"rfc4475/zeromf.dat", 0, 0}, /* OPTIONS with Max-Forwards 0 */
		{"rfc4475/cparam01.dat", 0, 405},
		{"rfc4475/cparam02.dat", 0, 405},
		{"rfc4475/regescrt.dat", 0, 405},
		{"rfc4475/sdp01.dat", 0, 406},
		/* 3.4 backward compatibility */
		{"rfc4475/inv2543.dat", 0, 0},
		/* RFC 5118 */
		{"rfc5118/ipv6-good", 0, 405},
		{"rfc5118/ipv6-bad", 400, 0},
		{"rfc5118/port-ambiguous", 0, 405},
		{"rfc5118/port-unambiguous", 0, 405},
		{"rfc5118/ipv6-in-sdp", 0, 0},
		{"rfc5118/ipv4-mapped-ipv6", 0, 0},
		{"rfc5118/mult-ip-in-header", 0, 0},
		{"rfc5118/mult-ip-in-sdp", 0, 0},
		{"rfc5118/via-received-param-with-delim", 0, 0},
		{"rfc5118/via-received-param-no-delim", 400, 0},
		{"rfc5118/ipv6-bug-abnf-3-colons", 0, 0},
		{"rfc5118/ipv6-correct-abnf-2-colons", 0, 0},
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

static const struct expect *expect_of(const char *rel)
{
	size_t i;

	for(i = 0; i < NTABLE; i++)
		if(strcmp(table[i].file, rel) == 0)
			return &table[i];
	return NULL;
}

/* Every file of both directories is in the table (none is skipped), and
 * gets the expected outcome. */
static void torture_corpus(void **state)
{
	static const char *dirs[] = {"rfc4475", "rfc5118"};
	static char buf[BUFSZ], out[BUFSZ];
	size_t d, seen = 0;

	for(d = 0; d < 2; d++) {
		char path[1024];
		DIR *dir;
		struct dirent *e;

		snprintf(
				path, sizeof(path), "%s/sip-torture/%s", corpus_dir(), dirs[d]);
		dir = opendir(path);
		assert_non_null(dir);
		while((e = readdir(dir)) != NULL) {
			char rel[300];
			const struct expect *x;
			struct mw_sip_verdict v;
			osip_message_t *m = NULL;
			size_t n;
			int rc;

			if(e->d_name[0] == '.')
				continue;
			snprintf(rel, sizeof(rel), "%s/%s", dirs[d], e->d_name);
			x = expect_of(rel);
			if(!x)
				fail_msg("corpus file %s has no expectation", rel);
			n = slurp(rel, buf, sizeof(buf));
			rc = mw_sip_parse(buf, n, &m, &v);
			if(x->parse == 0) {
				if(rc != 0)
					fail_msg("%s: refused (%d %s), expected to parse", rel,
							v.code, v.reason);
				assert_non_null(m);
				if(MSG_IS_REQUEST(m)) {
					struct mw_sip_verdict av;
					int code = mw_sip_app_check(m, &av);
					if(code != x->app)
						fail_msg("%s: app check %d (%s), expected %d", rel,
								code, av.reason, x->app);
					if(code) {
						osip_message_t *r = NULL;
						char *s = NULL;
						assert_int_equal(
								mw_sip_response(m, code, NULL, "t1", 0, &r), 0);
						assert_true(mw_sip_to_str(r, &s) > 0);
						osip_free(s);
						osip_message_free(r);
					}
				}
				osip_message_free(m);
			} else {
				if(rc != -EBADMSG)
					fail_msg(
							"%s: accepted, expected refusal %d", rel, x->parse);
				assert_null(m);
				if(x->parse < 0) {
					assert_int_equal(v.kind, MW_SIP_RESPONSE);
				} else {
					if(v.code != x->parse || v.kind != MW_SIP_REQUEST)
						fail_msg("%s: refused with %d (%s), expected %d", rel,
								v.code, v.reason, x->parse);
					/* a refused request can always be answered */
					n = slurp(rel, buf, sizeof(buf));
					rc = mw_sip_raw_reply(buf, n, v.code, v.reason, "t1", NULL,
							out, sizeof(out));
					if(rc <= 0)
						fail_msg("%s: no raw reply (%d)", rel, rc);
					assert_memory_equal(out, "SIP/2.0 ", 8);
					assert_non_null(strstr(out, "\r\n\r\n"));
				}
			}
			seen++;
		}
		closedir(dir);
	}
	assert_int_equal(seen, NTABLE);
}

static void dblreq_first_only(void **state)
{
	static char buf[BUFSZ];
	struct mw_sip_verdict v;
	osip_message_t *m = NULL;
	size_t n = slurp("rfc4475/dblreq.dat", buf, sizeof(buf));

	assert_int_equal(mw_sip_parse(buf, n, &m, &v), 0);
	assert_string_equal(m->sip_method, "REGISTER");
	assert_int_equal(osip_list_size(&m->bodies), 0);
	osip_message_free(m);
}

static void intmeth_nul_kept_parseable(void **state)
{
	static char buf[BUFSZ];
	struct mw_sip_verdict v;
	osip_message_t *m = NULL;
	size_t n = slurp("rfc4475/intmeth.dat", buf, sizeof(buf));

	assert_int_equal(mw_sip_parse(buf, n, &m, &v), 0);
	assert_non_null(m->to);
	assert_string_equal(
			m->sip_method, "!interesting-Method0123456789_*+`.%indeed'~");
	osip_message_free(m);
}

static const char invite[] =
		"INVITE sip:+14155550100@127.0.1.1:5070 SIP/2.0\r\n"
		"Record-Route: <sip:127.0.0.1;r2=on;lr>\r\n"
		"Record-Route: <sip:127.0.0.1:5062;transport=tcp;r2=on;lr>\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKabc;rport\r\n"
		"Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKcarrier\r\n"
		"From: \"Alice\" <sip:+14155551234@carrier.example>;tag=f1\r\n"
		"To: <sip:+14155550100@edge.example>\r\n"
		"Call-ID: call-1@carrier\r\n"
		"CSeq: 10 INVITE\r\n"
		"Max-Forwards: 69\r\n"
		"Contact: <sip:127.0.0.1:5060>\r\n"
		"X-Byoc-Agent: agent-1\r\n"
		"X-Carrier-Ref: ref-7\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: 5\r\n"
		"\r\n"
		"v=0\r\n";

static void response_mirrors_request(void **state)
{
	char buf[sizeof(invite)];
	struct mw_sip_verdict v;
	osip_message_t *m = NULL, *r = NULL;
	char *s = NULL, *rr1, *rr2, *via1, *via2;

	memcpy(buf, invite, sizeof(invite));
	assert_int_equal(mw_sip_parse(buf, sizeof(invite) - 1, &m, &v), 0);
	assert_string_equal(mw_sip_header(m, "X-Byoc-Agent"), "agent-1");
	assert_string_equal(mw_sip_header(m, "x-carrier-ref"), "ref-7");
	assert_null(mw_sip_header(m, "X-Nope"));
	{
		size_t bl;
		char ct[64];
		const char *b = mw_sip_body(m, &bl, ct, sizeof(ct));
		assert_non_null(b);
		assert_int_equal(bl, 5);
		assert_string_equal(ct, "application/sdp");
	}
	assert_int_equal(mw_sip_response(m, 180, NULL, "tt9", 1, &r), 0);
	assert_true(mw_sip_to_str(r, &s) > 0);
	assert_memory_equal(s, "SIP/2.0 180 Ringing\r\n", 21);
	via1 = strstr(s, "branch=z9hG4bKabc");
	via2 = strstr(s, "branch=z9hG4bKcarrier");
	rr1 = strstr(s, "<sip:127.0.0.1;r2=on;lr>");
	rr2 = strstr(s, "<sip:127.0.0.1:5062;transport=tcp;r2=on;lr>");
	assert_true(via1 && via2 && via1 < via2);
	assert_true(rr1 && rr2 && rr1 < rr2);
	assert_non_null(strstr(s, ";tag=tt9"));
	assert_non_null(strstr(s, "tag=f1"));
	assert_non_null(strstr(s, "Call-ID: call-1@carrier"));
	assert_non_null(strstr(s, "CSeq: 10 INVITE"));
	osip_free(s);
	osip_message_free(r);
	/* 100 Trying: no tag; no Record-Route unless asked */
	assert_int_equal(mw_sip_response(m, 100, NULL, "tt9", 0, &r), 0);
	assert_true(mw_sip_to_str(r, &s) > 0);
	assert_null(strstr(s, "tag=tt9"));
	assert_null(strstr(s, "Record-Route"));
	osip_free(s);
	osip_message_free(r);
	osip_message_free(m);
}

static void limits(void **state)
{
	static char buf[BUFSZ];
	struct mw_sip_verdict v;
	osip_message_t *m = NULL;
	size_t n, i;

	/* too large */
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(mw_sip_parse(buf, MW_SIP_MAX_MSG + 1, &m, &v), -EBADMSG);
	assert_int_equal(v.code, 513);
	/* too many headers */
	n = (size_t)snprintf(buf, sizeof(buf),
			"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\n"
			"CSeq: 1 OPTIONS\r\n");
	for(i = 0; i < MW_SIP_MAX_HEADERS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-H%zu: v\r\n", i);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
	assert_int_equal(mw_sip_parse(buf, n, &m, &v), -EBADMSG);
	assert_int_equal(v.code, 400);
	/* one huge header line */
	n = (size_t)snprintf(buf, sizeof(buf),
			"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			"X-Big: ");
	memset(buf + n, 'x', MW_SIP_MAX_LINE + 10);
	n += MW_SIP_MAX_LINE + 10;
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n\r\n");
	assert_int_equal(mw_sip_parse(buf, n, &m, &v), -EBADMSG);
	/* incomplete header section */
	n = (size_t)snprintf(buf, sizeof(buf), "OPTIONS sip:a@b SIP/2.0\r\nVia: x");
	assert_int_equal(mw_sip_parse(buf, n, &m, &v), -EBADMSG);
	/* empty */
	buf[0] = 0;
	assert_int_equal(mw_sip_parse(buf, 0, &m, &v), -EBADMSG);
	assert_null(m);
}

static void tcp_framing(void **state)
{
	static char stream[2 * sizeof(invite) + 16];
	size_t len, msglen, skip;

	len = (size_t)snprintf(
			stream, sizeof(stream), "\r\n\r\n%s%s", invite, invite);
	/* byte by byte: need more until the whole first message is there */
	for(size_t k = 1; k < 4 + sizeof(invite) - 1; k++)
		assert_int_equal(mw_sip_frame(stream, k, &msglen, &skip), 0);
	assert_int_equal(mw_sip_frame(stream, len, &msglen, &skip), 1);
	assert_int_equal(skip, 4);
	assert_int_equal(msglen, sizeof(invite) - 1);
	assert_int_equal(mw_sip_frame(stream + skip + msglen, len - skip - msglen,
							 &msglen, &skip),
			1);
	assert_int_equal(skip, 0);
	/* only keep-alives */
	assert_int_equal(mw_sip_frame("\r\n\r\n", 4, &msglen, &skip), 0);
	assert_int_equal(skip, 4);
	/* Content-Length beyond the cap, and malformed */
	len = (size_t)snprintf(stream, sizeof(stream),
			"INVITE sip:a@b SIP/2.0\r\nContent-Length: 999999\r\n\r\n");
	assert_int_equal(mw_sip_frame(stream, len, &msglen, &skip), -EMSGSIZE);
	len = (size_t)snprintf(stream, sizeof(stream),
			"INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n");
	assert_int_equal(mw_sip_frame(stream, len, &msglen, &skip), -EBADMSG);
	/* no Content-Length: zero body */
	len = (size_t)snprintf(stream, sizeof(stream),
			"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\nNEXT");
	assert_int_equal(mw_sip_frame(stream, len, &msglen, &skip), 1);
	assert_int_equal(msglen, len - 4);
}

static void app_checks(void **state)
{
	static char buf[BUFSZ];
	struct mw_sip_verdict v;
	osip_message_t *m = NULL;
	size_t n;

	n = slurp("rfc4475/bext01.dat", buf, sizeof(buf));
	assert_int_equal(mw_sip_parse(buf, n, &m, &v), 0);
	assert_int_equal(mw_sip_app_check(m, &v), 420);
	assert_non_null(strstr(v.hdr, "Unsupported: nothingSupportsThis"));
	assert_non_null(strstr(v.hdr, "nothingSupportsThisEither"));
	osip_message_free(m);

	n = (size_t)snprintf(buf, sizeof(buf),
			"BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
			"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\n"
			"CSeq: 2 BYE\r\nMax-Forwards: 0\r\n\r\n");
	assert_int_equal(mw_sip_parse(buf, n, &m, &v), 0);
	assert_int_equal(mw_sip_app_check(m, &v), 483);
	osip_message_free(m);

	n = slurp("rfc4475/escnull.dat", buf, sizeof(buf));
	assert_int_equal(mw_sip_parse(buf, n, &m, &v), 0);
	assert_int_equal(mw_sip_app_check(m, &v), 405);
	assert_non_null(strstr(v.hdr, "Allow: INVITE"));
	osip_message_free(m);
}

/* Truncations and byte flips of every corpus file: refused or parsed,
 * never a crash (run under ASan/valgrind for the real assurance). */
static void mutations(void **state)
{
	static const char *files[] = {"rfc4475/wsinv.dat", "rfc4475/longreq.dat",
			"rfc4475/esc01.dat", "rfc4475/intmeth.dat", "rfc4475/mpart01.dat",
			"rfc4475/badinv01.dat", "rfc5118/mult-ip-in-header",
			"rfc4475/inv2543.dat"};
	static char orig[BUFSZ], buf[BUFSZ], out[BUFSZ];
	uint32_t seed = 12345;
	size_t f, n, k, step;

	for(f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		n = slurp(files[f], orig, sizeof(orig));
		step = n / 97 + 1;
		for(k = 0; k <= n; k += step) {
			struct mw_sip_verdict v;
			osip_message_t *m = NULL;
			size_t ml, sk;
			int j;

			/* truncated at k */
			memcpy(buf, orig, k);
			if(mw_sip_parse(buf, k, &m, &v) == 0) {
				if(MSG_IS_REQUEST(m))
					mw_sip_app_check(m, &v);
				osip_message_free(m);
			} else {
				mw_sip_raw_reply(
						orig, k, 400, NULL, "t", NULL, out, sizeof(out));
			}
			mw_sip_frame(orig, k, &ml, &sk);
			/* a few random byte flips */
			memcpy(buf, orig, n);
			for(j = 0; j < 4; j++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % n] = (char)(seed >> 24);
			}
			memcpy(out, buf, n);
			if(mw_sip_parse(buf, n, &m, &v) == 0) {
				char *s = NULL;
				if(MSG_IS_REQUEST(m))
					mw_sip_app_check(m, &v);
				if(mw_sip_to_str(m, &s) > 0)
					osip_free(s);
				osip_message_free(m);
			}
			mw_sip_frame(out, n, &ml, &sk);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
			cmocka_unit_test(torture_corpus),
			cmocka_unit_test(dblreq_first_only),
			cmocka_unit_test(intmeth_nul_kept_parseable),
			cmocka_unit_test(response_mirrors_request),
			cmocka_unit_test(limits),
			cmocka_unit_test(tcp_framing),
			cmocka_unit_test(app_checks),
			cmocka_unit_test(mutations),
	};
	mw_sip_init();
	/* oSIP traces parse errors to stderr only when built with tracing;
	 * the corpus makes plenty of them */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
