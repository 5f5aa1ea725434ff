#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/seeds/TARGET/: a few small, valid inputs per target, so
the fuzzer starts from the shapes the parsers expect. Run from anywhere, as root (the
listening seeds are a real sock_diag reply, captured inside a network namespace this script
creates and deletes; its listeners are on loopback there). The files are kept in the
repository; this script is how they were made, and remakes them.
"""
import os
import socket
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def put(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def xdr_u32(*vals):
    return b"".join(struct.pack(">I", v) for v in vals)


def xdr_opaque(b):
    pad = (4 - len(b) % 4) % 4
    return struct.pack(">I", len(b)) + b + b"\0" * pad


def rpc_reply_header(xid):
    # xid, REPLY, MSG_ACCEPTED, verifier AUTH_NONE (flavor 0, empty), SUCCESS
    return xdr_u32(xid, 1, 0, 0) + xdr_opaque(b"") + xdr_u32(0)


def banner():
    put("banner", "ssh", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
    put("banner", "smtp", "220 mail.example.test ESMTP Postfix (Debian/GNU)\r\n")
    put("banner", "imap", "* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n")
    put("banner", "mysql", b"\x4a\x00\x00\x00\x0a10.11.6-MariaDB-0+deb12u1\x00\x08\x00\x00\x00")
    put("banner", "telnet", b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27")


def http():
    put("http", "ok", "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n"
        "Content-Length: 44\r\n\r\n<html><title>Welcome  page</title></html>\n")
    put("http", "redirect", "HTTP/1.0 301 Moved Permanently\r\nLocation: https://example.test/\r\n"
        "Server: Apache/2.4.62 (Debian)\r\n\r\n")
    put("http", "chunked", "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
        "1a\r\n<title>\x1b[31mred</title>\r\n0\r\n\r\n")


def rpc():
    dump = rpc_reply_header(1)
    for prog, vers, proto, port in [(100000, 4, 6, 111), (100000, 2, 17, 111), (100003, 3, 6, 2049)]:
        dump += xdr_u32(1, prog, vers, proto, port)
    dump += xdr_u32(0)
    put("rpc", "dump", dump)
    put("rpc", "dump_framed", struct.pack(">I", 0x80000000 | len(dump)) + dump)
    listreg = rpc_reply_header(7) + xdr_u32(0, 2) + xdr_u32(2) + xdr_opaque(b"local") + \
        xdr_u32(1033, 1033) + xdr_opaque(b"network") + xdr_u32(1, 2)
    put("rpc", "netinfo_listreg", listreg)
    put("rpc", "denied", xdr_u32(1, 1, 1, 0, 2, 4))


def binary():
    # The first byte picks the parser (see fuzz_targets/binary.rs).
    put("binary", "pg_auth", b"\x00" + b"R\x00\x00\x00\x08\x00\x00\x00\x0a")
    put("binary", "pg_error", b"\x00" + b"E\x00\x00\x00\x2aSFATAL\x00C28000\x00Mno pg_hba.conf entry\x00\x00")
    doc = b"\x02version\x00\x06\x00\x00\x007.0.1\x00\x10ok\x00\x01\x00\x00\x00"
    doc = struct.pack("<i", len(doc) + 5) + doc + b"\x00"
    msg = struct.pack("<iiii", 16 + 5 + len(doc), 2, 1, 2013) + struct.pack("<I", 0) + b"\x00" + doc
    put("binary", "mongo", b"\x01" + msg)
    put("binary", "ldap", b"\x02" + b"\x30\x0c\x02\x01\x01\x64\x07\x04\x00\x30\x03\x30\x01\x04")
    name = b"\x07version\x04bind\x00"
    q = name + b"\x00\x10\x00\x03"
    a = b"\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00" + struct.pack(">H", 7) + b"\x069.18.2"
    put("binary", "dns", b"\x03" + b"\x02\x03\x84\x00\x00\x01\x00\x01\x00\x00\x00\x00" + q + a)
    put("binary", "rdp", b"\x04" + bytes.fromhex("030000130ed000001234000209080002000000"))
    smb = b"\xfeSMB" + b"\x40\x00" + b"\x00" * 58 + struct.pack("<HHHH", 65, 1, 0x0311, 0) + b"\x00" * 57
    put("binary", "smb2", b"\x05" + struct.pack(">I", len(smb)) + smb)
    # Samba 4.17's SESSION_SETUP response with NTLMSSP's CHALLENGE inside SPNEGO, captured
    # from the zoo's smbd (crates/probe/tests/binary.rs holds the same bytes).
    challenge = bytes.fromhex(
        "000000ccfe534d4240000000160000c001000100010000000000000001000000000000000000000000000000"
        "704cb61d00000000000000000000000000000000000000000900000048008400a18181307fa0030a0101a10c"
        "060a2b06010401823702020aa26a04684e544c4d5353500002000000040004003800000005828aa242ad5e51"
        "dda35be800000000000000002c002c003c000000060100000000000f56004d000200040056004d0001000400"
        "56004d00040000000300040076006d00070008004a7575403a85dd0100000000"
    )
    put("binary", "smb2_ntlm_challenge", b"\x05" + challenge)
    put("binary", "mqtt", b"\x06" + b"\x20\x02\x00\x00")


def tls_cert():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for name, args in [
            ("rsa_san", ["-newkey", "rsa:1024", "-addext",
                         "subjectAltName=DNS:host.example.test,IP:192.0.2.1,IP:2001:db8::1"]),
            ("ec_selfsigned", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        ]:
            key, der = os.path.join(d, "k"), os.path.join(d, "c")
            subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30", "-subj",
                            "/CN=host.example.test/O=Portent Fuzz", "-keyout", key,
                            "-outform", "DER", "-out", der] + args,
                           check=True, capture_output=True)
            with open(der, "rb") as f:
                put("tls_cert", name, f.read())


def signatures():
    with open(os.path.join(ROOT, "crates", "probe", "data", "signatures", "core.toml")) as f:
        core = f.read()
    # The first three signatures (the SSH ones), then a reply for them.
    parts = core.split("[[signature]]")
    head = "[[signature]]" + "[[signature]]".join(parts[1:4])
    put("signatures", "ssh", head.encode() + b"\0" + b"SSH-2.0-dropbear_2022.83\r\n")
    put("signatures", "http_server", b'[[signature]]\nservice = "http"\non = "http-server"\n'
        b'pattern = \'^nginx/([0-9.]+)\'\nproduct = "nginx"\nversion = "$1"\n\0nginx/1.22.1')
    put("signatures", "reply", b'[[signature]]\nservice = "redis"\non = "reply"\n'
        b'pattern = \'(?s-u)^-ERR\'\nconfidence = 0.5\n\0-ERR unknown command\r\n')


def iana_csv():
    with open(os.path.join(ROOT, "crates", "registry", "data", "iana", "service-names-port-numbers.csv"), "rb") as f:
        lines = f.read().split(b"\n")
    put("iana_csv", "head", b"\n".join(lines[:40]) + b"\n")
    ranged = [l for l in lines[1:] if b"-" in (l.split(b",") + [b"", b""])[1]][:20]
    put("iana_csv", "ranges", b"\n".join([lines[0]] + ranged) + b"\n")
    put("iana_csv", "quoted", lines[0] + b'\n"svc, quoted",8080,tcp,"multi\nline",[A],[A],'
        b'2001-01-01,2024-12-20,[RFC1],,,\n,49152-65535,,Dynamic,,,,,,,,\n')


def capture_sock_diag():
    """One datagram of a TCP LISTEN dump and one of a UDP dump, from a namespace holding
    loopback listeners (v4 and v6, one v6-only)."""
    ns = "portent-fuzz-seeds-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        code = r"""
import socket, struct, sys
held = []
for fam, typ, addr in [(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
                       (socket.AF_INET6, socket.SOCK_STREAM, "::1"),
                       (socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
                       (socket.AF_INET6, socket.SOCK_DGRAM, "::1")]:
    s = socket.socket(fam, typ)
    s.bind((addr, 0))
    if typ == socket.SOCK_STREAM:
        s.listen()
    held.append(s)
out = []
for proto, states in [(6, 1 << 10), (17, 1 << 7)]:
    for fam in (socket.AF_INET, socket.AF_INET6):
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4)
        req = struct.pack("=BBBBI", fam, proto, 0, 0, states) + b"\0" * 48
        hdr = struct.pack("=IHHII", 16 + len(req), 20, 0x301, 1, 0)
        nl.send(hdr + req)
        data = b""
        done = False
        while not done:
            chunk = nl.recv(65536)
            data += chunk
            off = 0
            while off + 16 <= len(chunk):
                ln, ty = struct.unpack("=IH", chunk[off:off + 6])
                done = done or ty == 3
                off += max(16, (ln + 3) & ~3)
        out.append(data)
sys.stdout.buffer.write(struct.pack("=I", len(out)))
for d in out:
    sys.stdout.buffer.write(struct.pack("=I", len(d)) + d)
"""
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                           check=True, capture_output=True)
        b = r.stdout
        n = struct.unpack("=I", b[:4])[0]
        off, out = 4, []
        for _ in range(n):
            ln = struct.unpack("=I", b[off:off + 4])[0]
            out.append(b[off + 4:off + 4 + ln])
            off += 4 + ln
        return out
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def listening():
    # The sock_diag datagram after its length (2 bytes, little-endian), then texts separated
    # by NUL NUL (see fuzz_targets/listening.rs): cmdline, exe/comm, cgroup, status, passwd,
    # mountinfo, fd links, sysctl range.
    tcp4, tcp6, udp4, udp6 = capture_sock_diag()
    rest = [
        b"/usr/sbin/sshd\0-D\0",
        b"/usr/sbin/sshd",
        b"0::/system.slice/ssh.service\n",
        b"Name:\tsshd\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
        b"root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\n",
        b"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
        b"134 22 0:41 / /proc rw,relatime - proc proc rw,hidepid=invisible,gid=27\n",
        b"socket:[18342]\nsocket:[1]\npipe:[5]\n",
        b"32768\t60999\n",
    ]
    for name, reply in [("tcp4", tcp4), ("tcp6", tcp6), ("udp4", udp4), ("udp6", udp6)]:
        put("listening", name, struct.pack("<H", len(reply)) + reply + b"\0\0".join(rest))
    docker = [b"nginx: master process\0", b"nginx",
              b"0::/system.slice/docker-" + b"0123456789ab" * 5 + b"abcd.scope\n",
              b"Uid:\t101\t101\t101\t101\n"]
    put("listening", "docker", struct.pack("<H", len(tcp4)) + tcp4 + b"\0\0".join(docker))


def targets():
    put("targets", "mixed", "192.0.2.1,192.0.2.0/30 198.51.100.7-9\n2001:db8::1-ff\n"
        "host.example.test # a comment\n[::1]\n!192.0.2.2\n")
    put("targets", "exclude_all", "192.0.2.0/29\n!192.0.2.0/28\n")
    put("targets", "bad", "192.0.2.1:22\n10.0.0.0/7\nxunknown.test\n")


def udp():
    # Replies captured from Debian's servers (crates/probe/src/udp/*.rs tests), ids zeroed to
    # match the fuzz target's payloads; the first byte picks the payload by sorted name.
    import glob
    import tomllib
    names = sorted(p["name"] for f in glob.glob(os.path.join(ROOT, "crates", "probe", "data", "udp", "*.toml"))
                   for p in tomllib.load(open(f, "rb"))["payload"])
    seeds = {
        "dns-version-bind": "0000848000010001000000000776657273696f6e0462696e640000100003"
                            "c00c0010000300000000000d0c646e736d6173712d322e3930",
        "ntp-client": "240800e600000000000000007f7f0101eebe2a51c6017bbc0000000000000000"
                      "eebe2a52e9a32825eebe2a52e9a64294",
        "snmp-v2c-sysdescr": "302902010104067075626c6963a21c0204120000000201000201003"
                             "00e300c06082b060102010101000400",
        "rpc-portmap-dump": "00000000000000010000000000000000000000000000000000000001000186a0"
                            "00000002000000110000006f00000000",
        "tftp-rrq": "0005000146696c65206e6f7420666f756e6400",
        "memcached-version": "000000000001000056455253494f4e20312e362e31380d0a",
    }
    for name, reply in seeds.items():
        put("udp", name, bytes([names.index(name)]) + bytes.fromhex(reply))


def ports():
    put("ports", "list", "22,80,443,1-1023,ssh,-100,65000-\n")
    put("ports", "classes", "1-2000\nunassigned,system\n25,http\n")
    put("ports", "all", "-\ndynamic\n")


if __name__ == "__main__":
    for f in [banner, http, rpc, binary, tls_cert, signatures, iana_csv, listening, targets, ports,
              udp]:
        f()
