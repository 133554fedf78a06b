#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Media through rtpengine for every call, per trunk: RTP flows both ways
# (rtpengine's own per-call counters), hold/resume re-INVITEs and an
# UPDATE refresh keep the call, a carrier advertising a private c= still
# gets audio, SDES and DTLS toward the carrier with plain RTP toward the
# worker, the trunk's codec order toward the carrier, late offer, and a
# BYE from the worker side releasing the lease.
. "${BYOC_ROOT:?}/tests/lib/harness.sh"

t_stack_up
WPORT=$((BYOC_PORT_BASE + 60))
t_rpc byoc.trunk_set plain tenant=acme cidrs=127.0.0.2/32 direction=both codecs=PCMA,PCMU \
	host=127.0.0.2 port=$((BYOC_PORT_BASE + 70)) max_calls=5
t_rpc byoc.trunk_set sdes tenant=acme cidrs=127.0.0.3/32 direction=inbound media_encryption=sdes
t_rpc byoc.trunk_set dtls tenant=acme cidrs=127.0.0.4/32 direction=inbound media_encryption=dtls
t_rpc byoc.trunk_set srtp-out tenant=acme direction=outbound host=127.0.0.5 port=$((BYOC_PORT_BASE + 71)) \
	media_encryption=sdes codecs=PCMA,PCMU
t_rpc byoc.agent_set a1 tenant=acme ws_url=ws://127.0.0.1:9/a trunks=srtp-out
t_rpc byoc.did_import plain +14155550100
t_rpc byoc.did_import sdes +14155550200
t_rpc byoc.did_import dtls +14155550300
for d in 100 200 300; do t_rpc byoc.did_bind +14155550$d a1; done
t_wait_config

# --- RTP both ways, hold, resume, refresh ------------------------------------
t_uas wmedia 127.0.1.1 $WPORT uas_media.xml -mi 127.0.1.1 -mp $((BYOC_RTP_MIN + 900))
t_register_worker w1 127.0.1.1 $WPORT
(t_uac m1 127.0.0.2 uac_media.xml +14155550100 -key cip 127.0.0.2 -mi 127.0.0.2 \
	-mp $((BYOC_RTP_MIN + 950)) >"$BYOC_RUN/m1.rc") &
up=$!
sleep 2.2
read -r from_carrier from_worker < <(t_rtp_counts)
assert_le 50 "$from_carrier" "rtpengine received the carrier's RTP (packets)"
assert_le 50 "$from_worker" "rtpengine received the worker's RTP (packets)"
wait $up
assert_eq 0 "$(cat "$BYOC_RUN/m1.rc")" "hold, resume and UPDATE refresh kept the call to its BYE"
m=$(t_msgs m1)
assert_match 'a=recvonly' "$m" "hold answered recvonly through rtpengine"
assert_match 'm=audio [0-9]+ RTP/AVP 8 101' "$m" "answer toward the carrier: PCMA (trunk order) + telephone-event"
assert_nomatch 'c=IN IP4 127.0.1' "$m" "no worker address in the SDP the carrier sees"
assert_nomatch '127\.0\.1\.' "$(grep -E '^(Via|Contact|Record-Route|Route):' "$BYOC_LOG_DIR/m1.msg" || true)" \
	"no worker address in the carrier's Via/Contact/Record-Route"
t_stop_uas wmedia

# --- carrier advertising a private address --------------------------------
t_uas wmedia2 127.0.1.1 $WPORT uas_media.xml -mi 127.0.1.1 -mp $((BYOC_RTP_MIN + 900))
CMP=$((BYOC_RTP_MIN + 960))
(t_uac m2 127.0.0.2 uac_media.xml +14155550100 -key cip 10.99.0.1 -mi 127.0.0.2 -mp $CMP \
	>"$BYOC_RUN/m2.rc") &
up=$!
sleep 1.5
# rtpengine learned the carrier's real address from its RTP: the carrier
# leg now points at 127.0.0.2 (where the worker's audio goes), not at the
# private address in the SDP
cid=$(rtpe list sessions all | awk -f "$BYOC_ROOT/tests/lib/rtpe.awk")
legs=$(rtpe list sessions "$cid" | grep -- '-------- Port' | grep -v RTCP)
assert_match "<> +127\.0\.0\.2:$CMP, " "$legs" "carrier with c=10.99.0.1: rtpengine sends to its real source 127.0.0.2:$CMP"
assert_nomatch "10\.99\.0\.1:$CMP, " "$legs" "... and no longer to the private address"
read -r from_carrier from_worker < <(t_rtp_counts)
assert_le 25 "$from_worker" "worker audio flowing toward that carrier (packets)"
wait $up
assert_eq 0 "$(cat "$BYOC_RUN/m2.rc")" "private-address call completes"
t_stop_uas wmedia2

# --- SRTP toward the carrier, plain RTP toward the worker --------------------
t_uas w 127.0.1.1 $WPORT uas_worker.xml
t_uac s1 127.0.0.3 uac_sdes.xml +14155550200 >/dev/null
m=$(t_msgs s1)
assert_match 'm=audio [0-9]+ RTP/SAVP ' "$m" "sdes trunk: answer toward the carrier is RTP/SAVP"
assert_match 'a=crypto:' "$m" "sdes trunk: answer carries a=crypto"
w=$(t_msgs w)
assert_nomatch 'a=crypto' "$w" "sdes trunk: the worker gets no crypto"
assert_match 'm=audio [0-9]+ RTP/AVP ' "$w" "sdes trunk: the worker gets plain RTP/AVP"
t_uac d1 127.0.0.4 uac_dtls.xml +14155550300 >/dev/null
m=$(t_msgs d1)
assert_match 'm=audio [0-9]+ UDP/TLS/RTP/SAVP ' "$m" "dtls trunk: answer is UDP/TLS/RTP/SAVP"
assert_match 'a=fingerprint:sha-' "$m" "dtls trunk: answer carries a fingerprint"
assert_nomatch 'a=fingerprint' "$(t_msgs w)" "dtls trunk: the worker gets no DTLS"

# --- outbound: trunk codec order and SDES in the offer toward the carrier ----
t_uas cs 127.0.0.5 $((BYOC_PORT_BASE + 71)) uas_carrier_srtp.xml
rc=$(t_uac o1 127.0.1.1 uac_worker_out.xml +14155550123 -key agent a1 -key secret "$BYOC_WORKER_SECRET" \
	-key cid +14155550100 -d 200)
assert_eq 1 "$(t_answered o1)" "outbound call to an SRTP carrier completes"
c=$(t_msgs cs)
assert_match 'm=audio [0-9]+ RTP/SAVP 8 0 101' "$c" "offer toward the carrier: RTP/SAVP, trunk order PCMA,PCMU, telephone-event kept"
assert_match 'a=crypto:' "$c" "offer toward the carrier carries SDES keys"
assert_match 'a=ptime:20' "$c" "offer toward the carrier sets ptime 20"
assert_nomatch 'a=candidate' "$c" "no ICE toward the carrier"
w=$(t_msgs o1)
assert_match 'm=audio [0-9]+ RTP/AVP ' "$w" "the worker gets a plain RTP/AVP answer"
assert_nomatch 'a=crypto' "$w" "the worker gets no crypto"

# --- late offer ----------------------------------------------------------------
t_uas wl 127.0.1.2 $((BYOC_PORT_BASE + 61)) uas_late.xml
t_unregister_worker w1
t_register_worker w2 127.0.1.2 $((BYOC_PORT_BASE + 61))
rc=$(t_uac l1 127.0.0.2 uac_late.xml +14155550100)
assert_eq 0 "$rc" "late-offer call (offer in 200, answer in ACK) completes"
assert_match 'c=IN IP4 127.0.0.1' "$(t_msgs l1)" "the offer in the 200 was anchored by rtpengine"
assert_match 'ACK sip:' "$(t_msgs wl)" "the worker got the ACK"
assert_match 'c=IN IP4 127.0.0.1' "$(sed -n '/^ACK /,/^---/p' "$BYOC_LOG_DIR/wl.msg")" "the answer in the ACK was anchored too"

# --- BYE from the worker side releases the lease -----------------------------
t_uas wb 127.0.1.3 $((BYOC_PORT_BASE + 62)) uas_bye.xml
t_unregister_worker w2
t_register_worker w3 127.0.1.3 $((BYOC_PORT_BASE + 62))
rc=$(t_uac b1 127.0.0.2 uac_recv_bye.xml +14155550100)
assert_eq 0 "$rc" "call ended by the worker's BYE"
t_wait_leases plain 0 30 && pass "lease released after the worker's BYE" || fail "lease left: $(t_leases plain)"
t_done
