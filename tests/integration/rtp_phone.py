#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""rtp_phone.py -- the caller's media for tests/integration/worker_dtmf.sh
(Python standard library only): waits for the 200 OK's SDP in sipp's
message trace, then for SECONDS sends 20 ms PCMU packets of a WAV file
(8 kHz 16-bit mono; silence after it ends) with RFC 4733 events on a
schedule in place of the audio, and records what comes back: the audio
as a WAV, and one RFC 4733 event per key press (the first end packet of
each timestamp), as JSON.

  rtp_phone.py MSGFILE PORT SECONDS OUT.json [--play IN.wav]
               [--events D@MS:DUR,...] [--record OUT.wav]

--events "5@3000:100,9@3500:2000": digit 5 at 3000 ms for 100 ms, ...
(ms from the first packet)."""

import argparse
import audioop  # deprecated in 3.13; fine on bookworm's 3.11
import json
import re
import socket
import struct
import time
import wave
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

CODES = "0123456789*#ABCD"


def far_end(msgfile, deadline):
    while time.time() < deadline:
        try:
            txt = open(msgfile, errors="replace").read()
        except OSError:
            txt = ""
        for resp in re.split(r"\n(?=SIP/2\.0 200)", txt):
            if not resp.startswith("SIP/2.0 200") or "m=audio" not in resp:
                continue
            c = re.search(r"c=IN IP4 ([0-9.]+)", resp)
            m = re.search(r"m=audio ([0-9]+)", resp)
            if c and m:
                return c.group(1), int(m.group(1))
        time.sleep(0.05)
    return None, None


def schedule(spec):
    ev = []
    for item in filter(None, (spec or "").split(",")):
        d, rest = item.split("@")
        at, dur = rest.split(":")
        ev.append((int(at), d, int(dur)))
    return sorted(ev)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("msgfile")
    ap.add_argument("port", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("out")
    ap.add_argument("--play")
    ap.add_argument("--events")
    ap.add_argument("--record")
    a = ap.parse_args()

    res = {"sent": 0, "recv": 0, "events": [], "pts": []}
    ip, rport = far_end(a.msgfile, time.time() + 20)
    if rport is None:
        json.dump(res, open(a.out, "w"))
        return
    pcm = b""
    if a.play:
        w = wave.open(a.play)
        pcm = w.readframes(w.getnframes())
    evs = schedule(a.events)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", a.port))
    s.setblocking(False)
    rec = bytearray()
    seen = {}  # RFC 4733 timestamp -> reported
    pts = set()
    seq, ts, ssrc = 2000, 80000, 0x0DDBA11
    cur = None  # [digit code, start ts, total units, sent updates, ends]
    t0 = time.time()
    n = int(a.seconds * 50)
    for k in range(n):
        now_ms = k * 20
        if cur is None and evs and evs[0][0] <= now_ms:
            at, d, dur = evs.pop(0)
            cur = [CODES.index(d), ts, dur * 8, 0, 0]
        if cur is not None:
            code, ets, total, sent, ends = cur
            d = min(total, (sent + 1) * 160)
            end = d >= total
            body = struct.pack(">BBH", code, (0x80 if end else 0) | 10, d & 0xFFFF)
            hdr = struct.pack(">BBHII", 0x80, (0x80 if sent == 0 else 0) | 101, seq, ets, ssrc)
            s.sendto(hdr + body, (ip, rport))
            cur[3] += 1
            if end:
                cur[4] += 1
                if cur[4] == 3:
                    cur = None
        else:
            frame = pcm[k * 320:(k + 1) * 320]
            frame += b"\0" * (320 - len(frame))
            hdr = struct.pack(">BBHII", 0x80, 0, seq, ts, ssrc)
            s.sendto(hdr + audioop.lin2ulaw(frame, 2), (ip, rport))
        seq = (seq + 1) & 0xFFFF
        ts = (ts + 160) & 0xFFFFFFFF
        res["sent"] += 1
        while time.time() < t0 + (k + 1) * 0.02:
            try:
                d = s.recv(2048)
            except BlockingIOError:
                time.sleep(0.002)
                continue
            if len(d) < 12 or d[0] >> 6 != 2:
                continue
            pt = d[1] & 0x7F
            pts.add(pt)
            res["recv"] += 1
            if pt == 0:
                rec += audioop.ulaw2lin(d[12:], 2)
            elif pt == 8:
                rec += audioop.alaw2lin(d[12:], 2)
            elif len(d) >= 16:
                ets = struct.unpack(">I", d[4:8])[0]
                code, flags, dur = d[12], d[13], struct.unpack(">H", d[14:16])[0]
                if flags & 0x80 and ets not in seen and code < 16:
                    seen[ets] = True
                    res["events"].append({"digit": CODES[code], "ms": dur // 8})
    res["pts"] = sorted(pts)
    if a.record:
        w = wave.open(a.record, "wb")
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(rec))
        w.close()
    json.dump(res, open(a.out, "w"))


if __name__ == "__main__":
    main()
