#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""worker_helpers.py -- test tools for tests/integration/worker_*.sh (Python
standard library plus 'cryptography', both in Debian bookworm):

  agent PORT LOG        a Twilio Media Streams backend stub whose behaviour
                        is chosen by the URL path (/echo, /hangup, /close,
                        /silent, /slow); one JSON line per event in LOG
  rtp MSGFILE PORT OUT  the caller's media: waits for the 200 OK's SDP in
                        sipp's message trace, sends 3 s of a PCMA tone and
                        one RFC 4733 digit from PORT, counts what comes back
  encrypt KEYFILE AAD PLAIN
                        a secret in br_secret's text form (AES-256-GCM)
  torture HOST PORT DIR sends every corpus file over UDP and over TCP

The stub is deliberately not the reference agent: the tests need exact,
scripted backend behaviour (hang up now, close now, stay silent)."""

import asyncio
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
import audioop  # noqa: E402 (deprecated in 3.13; fine on bookworm's 3.11)
import base64
import hashlib
import json
import math
import os
import socket
import struct
import sys
import time

from rtp_phone import far_end  # noqa: E402 (the 200 OK's SDP in sipp's trace)


# ---- WebSocket backend stub --------------------------------------------

def ws_frame(op, payload):
    n = len(payload)
    h = bytes([0x80 | op])
    if n < 126:
        h += bytes([n])
    elif n < 65536:
        h += bytes([126]) + struct.pack(">H", n)
    else:
        h += bytes([127]) + struct.pack(">Q", n)
    return h + payload


async def ws_read(r):
    h = await r.readexactly(2)
    op, n = h[0] & 0x0F, h[1] & 0x7F
    if n == 126:
        n = struct.unpack(">H", await r.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", await r.readexactly(8))[0]
    mask = await r.readexactly(4) if h[1] & 0x80 else b"\0\0\0\0"
    d = bytearray(await r.readexactly(n))
    for i in range(n):
        d[i] ^= mask[i % 4]
    return op, bytes(d)


def tone_ulaw(ms, hz=440):
    n = 8 * ms
    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / 8000))) for i in range(n))
    return audioop.lin2ulaw(pcm, 2)


def agent(port, logpath):
    logf = open(logpath, "a", buffering=1)

    def log(**kv):
        logf.write(json.dumps(kv) + "\n")

    async def handle(r, w):
        req = b""
        while b"\r\n\r\n" not in req:
            chunk = await r.read(4096)
            if not chunk:
                return
            req += chunk
        lines = req.split(b"\r\n")
        path = lines[0].split(b" ")[1].decode()
        hdrs = {}
        for l in lines[1:]:
            if b":" in l:
                k, v = l.split(b":", 1)
                hdrs[k.strip().lower().decode()] = v.strip().decode()
        mode = path.strip("/").split("/")[0] or "echo"
        log(ev="upgrade", path=path, auth=hdrs.get("authorization", ""))
        if mode == "slow":
            # never answers the upgrade: the worker's connect timeout fires
            await asyncio.sleep(60)
            w.close()
            return
        acc = base64.b64encode(hashlib.sha1(hdrs["sec-websocket-key"].encode()
                                            + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()).decode()
        w.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % acc).encode())
        await w.drain()

        async def send(obj):
            w.write(ws_frame(1, json.dumps(obj).encode()))
            await w.drain()

        sid, media, loud, order = None, 0, 0, []
        try:
            while True:
                op, d = await ws_read(r)
                if op == 8:
                    code = struct.unpack(">H", d[:2])[0] if len(d) >= 2 else 1005
                    log(ev="close", code=code, media=media, loud=loud, order=order[:3])
                    w.write(ws_frame(8, d[:2]))
                    await w.drain()
                    break
                if op != 1:
                    continue
                m = json.loads(d)
                ev = m.get("event")
                if len(order) < 3:
                    order.append(ev)
                if ev == "media":
                    media += 1
                    pcm = audioop.ulaw2lin(base64.b64decode(m["media"]["payload"]), 2)
                    if audioop.max(pcm, 2) > 1000:
                        loud += 1
                    if mode == "echo":
                        await send({"event": "media", "streamSid": sid,
                                    "media": {"payload": m["media"]["payload"]}})
                    continue
                log(ev=ev, msg=m)
                if ev == "start":
                    sid = m["streamSid"]
                    if mode == "silent":
                        continue
                    await send({"event": "media", "streamSid": sid,
                                "media": {"payload": base64.b64encode(tone_ulaw(1000)).decode()}})
                    await send({"event": "mark", "streamSid": sid, "mark": {"name": "greeting"}})
                    if mode == "hangup":
                        await asyncio.sleep(1.5)
                        await send({"event": "hangup", "streamSid": sid, "hangup": {"reason": "goodbye"}})
                    elif mode == "close":
                        await asyncio.sleep(1.5)
                        w.write(ws_frame(8, struct.pack(">H", 1000)))
                        await w.drain()
                        log(ev="closed_by_agent", media=media)
                        w.close()
                        return
        except (asyncio.IncompleteReadError, ConnectionError):
            log(ev="eof", media=media, loud=loud)
        w.close()

    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", port)
        async with srv:
            await srv.serve_forever()

    asyncio.run(main())


# ---- the caller's RTP --------------------------------------------------

def rtp(msgfile, port, out):
    ip, rport = far_end(msgfile, time.time() + 20)
    res = {"sent": 0, "recv": 0, "loud": 0, "pts": []}
    if rport is None:
        json.dump(res, open(out, "w"))
        return
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.setblocking(False)
    pcm = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 800 * i / 8000))) for i in range(160))
    payload = audioop.lin2alaw(pcm, 2)
    seq, ts, ssrc = 1000, 16000, 0x1234ABCD
    pts = set()
    t0 = time.time()
    for k in range(150):
        if 60 <= k < 68:
            # RFC 4733 digit 7: 5 updates, then 3 end packets (E bit)
            i = k - 60
            end = i >= 5
            dur = 160 * min(i + 1, 5)
            body = struct.pack(">BBH", 7, (0x80 if end else 0) | 10, dur)
            hdr = struct.pack(">BBHII", 0x80, (0x80 if i == 0 else 0) | 101, seq, ts_dtmf if i else ts, ssrc)
            if i == 0:
                ts_dtmf = ts
            s.sendto(hdr + body, (ip, rport))
            if i == 7:
                ts += 160 * 8
        else:
            hdr = struct.pack(">BBHII", 0x80, 8, seq, ts, ssrc)
            s.sendto(hdr + payload, (ip, rport))
            ts += 160
        seq += 1
        res["sent"] += 1
        while time.time() < t0 + (k + 1) * 0.02:
            try:
                d = s.recv(2048)
            except BlockingIOError:
                time.sleep(0.002)
                continue
            if len(d) < 12:
                continue
            pt = d[1] & 0x7F
            pts.add(pt)
            res["recv"] += 1
            lin = audioop.alaw2lin(d[12:], 2) if pt == 8 else audioop.ulaw2lin(d[12:], 2) if pt == 0 else b""
            if lin and audioop.max(lin, 2) > 1000:
                res["loud"] += 1
    res["pts"] = sorted(pts)
    json.dump(res, open(out, "w"))


# ---- secrets, torture --------------------------------------------------

def encrypt(keyfile, aad, plain):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    key = bytes.fromhex(open(keyfile).read().strip())
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, plain.encode(), aad.encode())
    print("v1:" + base64.b64encode(nonce + ct).decode())


def torture(host, port, corpus):
    files = sorted(os.path.join(corpus, d, f) for d in ("rfc4475", "rfc5118")
                   for f in os.listdir(os.path.join(corpus, d)))
    def collect(recv):
        got = []
        while True:
            try:
                d = recv()
            except (socket.timeout, ConnectionError):
                break
            if not d:
                break
            got += [x.split(b"\r\n", 1)[0].decode(errors="replace")
                    for x in d.split(b"SIP/2.0 ")[1:]]
        return got

    for f in files:
        name = os.path.relpath(f, corpus)
        data = open(f, "rb").read()
        # unique branches: several corpus files share one, which would make
        # them retransmissions of each other
        data = data.replace(b"branch=z9hG4bK", b"branch=z9hG4bK" + name.encode().replace(b"/", b"-") + b"-")
        # a socket per file: retransmitted final responses of earlier
        # INVITEs (never ACKed here) do not mix into later answers
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(0.2)
        u.sendto(data, (host, port))
        print("udp %s %s" % (name, "|".join(collect(lambda: u.recvfrom(65535)[0])) or "-"))
        u.close()
        data = data.replace(b"branch=z9hG4bK", b"branch=z9hG4bKtcp")
        t = socket.create_connection((host, port))
        t.settimeout(0.2)
        t.sendall(data)
        print("tcp %s %s" % (name, "|".join(collect(lambda: t.recv(65535))) or "-"))
        t.close()


if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "agent":
        agent(int(a[0]), a[1])
    elif cmd == "rtp":
        rtp(a[0], int(a[1]), a[2])
    elif cmd == "encrypt":
        encrypt(a[0], a[1], a[2])
    elif cmd == "torture":
        torture(a[0], int(a[1]), a[2])
    else:
        sys.exit("unknown command " + cmd)
