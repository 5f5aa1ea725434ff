#!/usr/bin/env python3
"""Small protocol fixtures for bench/detect.sh, written for this benchmark from the protocols'
specifications (greetings as the products document them). Not real servers: each sends what
its protocol sends first, or answers the one request a scanner asks.

    detect_fixtures.py well CERTDIR   # SMTP 25, FTP 21, POP3 110, IMAP 143, MySQL 3306,
                                      # VNC 5900, telnet 23, HTTPS 443, NetInfo 797, HTTP 9200
    detect_fixtures.py hostile        # 31001..31007: tarpit, stream, drip, tls-garbage,
                                      # reset, 10 MB line, terminal escapes
Runs until killed (by PID); every connection is closed after at most 120 s.
"""
import asyncio
import http.server
import socket
import ssl
import struct
import sys
import threading

HOLD = 120


def banner_server(data):
    async def handle(r, w):
        try:
            w.write(data)
            await w.drain()
            await asyncio.wait_for(r.read(4096), HOLD)
        except Exception:
            pass
        w.close()
    return handle


def mysql_greeting():
    p = b"\x0a" + b"8.0.36\x00" + struct.pack("<I", 42) + b"abcdefgh" + b"\x00"
    p += struct.pack("<H", 0xFFFF) + b"\xff" + struct.pack("<H", 2) + struct.pack("<H", 0xDFFF)
    p += b"\x15" + b"\x00" * 10 + b"ijklmnopqrst\x00" + b"caching_sha2_password\x00"
    return struct.pack("<I", len(p))[:3] + b"\x00" + p


async def netinfo(r, w):
    """ONC RPC over TCP (RFC 5531): netinfod, program 200100000, version 2, NULL only."""
    try:
        while True:
            mark = struct.unpack(">I", await asyncio.wait_for(r.readexactly(4), HOLD))[0]
            n = mark & 0x7FFFFFFF
            if not mark & 0x80000000 or n > 4096 or n < 24:
                break
            body = await r.readexactly(n)
            xid, mtype, rpcv, prog, vers, proc = struct.unpack(">6I", body[:24])
            if mtype != 0 or rpcv != 2:
                break
            out = struct.pack(">5I", xid, 1, 0, 0, 0)
            if prog != 200100000:
                out += struct.pack(">I", 1)  # PROG_UNAVAIL
            elif vers != 2:
                out += struct.pack(">3I", 2, 2, 2)  # PROG_MISMATCH 2..2
            elif proc == 0:
                out += struct.pack(">I", 0)
            else:
                out += struct.pack(">I", 3)  # PROC_UNAVAIL
            w.write(struct.pack(">I", 0x80000000 | len(out)) + out)
            await w.drain()
    except Exception:
        pass
    w.close()


def http_server(server_header):
    async def handle(r, w):
        try:
            # Like a real HTTP server: a first line that is not HTTP gets a 400 at once.
            first = await asyncio.wait_for(r.readline(), 10)
            if not first.rstrip().endswith((b"HTTP/1.0", b"HTTP/1.1")):
                w.write(b"HTTP/1.1 400 Bad Request\r\nServer: " + server_header +
                        b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await w.drain()
                w.close()
                return
            req = first + await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
            if req.startswith(b"GET "):
                body = b'{"name":"node-1","cluster_name":"bench","tagline":"You Know, for Search"}\n'
                w.write(b"HTTP/1.1 200 OK\r\nServer: " + server_header +
                        b"\r\nContent-Type: application/json\r\nContent-Length: " +
                        str(len(body)).encode() + b"\r\n\r\n" + body)
                await w.drain()
        except Exception:
            pass
        w.close()
    return handle


def https_thread(certdir):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 443), Quiet)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{certdir}/cert.pem", f"{certdir}/key.pem")
    ctx.set_alpn_protocols(["http/1.1"])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


async def tarpit(r, w):
    await asyncio.sleep(HOLD)
    w.close()


async def stream(r, w):
    chunk = b"A" * 65536
    try:
        for _ in range(2000):
            w.write(chunk)
            await w.drain()
    except Exception:
        pass
    w.close()


async def drip(r, w):
    try:
        for _ in range(HOLD):
            w.write(b"x")
            await w.drain()
            await asyncio.sleep(1)
    except Exception:
        pass
    w.close()


async def garbage(r, w):
    try:
        for _ in range(HOLD):
            if not await asyncio.wait_for(r.read(4096), HOLD):
                break
            w.write(b"\x16\x03\x01\xff\xff garbage \x00\x01\x02" * 4)
            await w.drain()
    except Exception:
        pass
    w.close()


async def reset(r, w):
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    w.close()


async def long_line(r, w):
    try:
        w.write(b"B" * (10 * 1024 * 1024) + b"\r\n")
        await w.drain()
    except Exception:
        pass
    w.close()


async def main():
    mode = sys.argv[1]
    servers = []
    if mode == "well":
        https_thread(sys.argv[2])
        table = {
            25: banner_server(b"220 mail.bench.test ESMTP Postfix (Debian/GNU)\r\n"),
            21: banner_server(b"220 (vsFTPd 3.0.3)\r\n"),
            110: banner_server(b"+OK Dovecot (Debian) ready.\r\n"),
            143: banner_server(b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n"),
            3306: banner_server(mysql_greeting()),
            5900: banner_server(b"RFB 003.008\n"),
            23: banner_server(b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27"),
            797: netinfo,
            9200: http_server(b"elasticsearch"),
        }
    else:
        table = {31001: tarpit, 31002: stream, 31003: drip, 31004: garbage, 31005: reset,
                 31006: long_line,
                 31007: banner_server(b"\x1b]0;owned\x07\x1b[2J\xff\xfe invalid \xc3\x28 utf-8\r\n")}
    for port, handler in table.items():
        servers.append(await asyncio.start_server(handler, "127.0.0.1", port))
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
