#!/usr/bin/env python3
"""Kernel-side TCP load tool for bench/harness.ts (runs inside lab namespaces).

Every mode prints one line of numbers on stdout and exits.

  sink HOST PORT                 accept one connection, count bytes until EOF:
                                 "<bytes> <seconds first..last byte>"
  source HOST PORT SECONDS       connect, send 128 KiB chunks for SECONDS: "<bytes> <seconds>"
  echo HOST PORT                 accept one connection, echo every byte back until EOF
  rr HOST PORT SECONDS           1-byte request/response on one connection
                                 (TCP_NODELAY): "<transactions> <seconds>"
  crr-server HOST PORT           for each connection: read the request, answer it, close
  crr HOST PORT SECONDS SIZE     connect, send SIZE bytes, read SIZE bytes, close; repeat:
                                 "<connections> <seconds>"
"""
import socket
import sys
import time

CHUNK = 128 * 1024


def listener(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1024)
    print("ready", flush=True, file=sys.stderr)
    return s


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "sink":
        s = listener(host, port)
        c, _ = s.accept()
        buf = bytearray(1 << 20)
        total = 0
        first = last = None
        while True:
            n = c.recv_into(buf)
            if n == 0:
                break
            last = time.monotonic()
            if first is None:
                first = last
            total += n
        print(total, (last - first) if first is not None else 0)
    elif mode == "source":
        seconds = float(sys.argv[4])
        c = socket.create_connection((host, port))
        data = b"\0" * CHUNK
        total = 0
        t0 = time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            total += c.send(data)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
        print(total, time.monotonic() - t0)
    elif mode == "echo":
        s = listener(host, port)
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
    elif mode == "rr":
        seconds = float(sys.argv[4])
        c = socket.create_connection((host, port))
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        n = 0
        t0 = time.monotonic()
        end = t0 + seconds
        while True:
            for _ in range(64):
                c.send(b"x")
                if not c.recv(1):
                    raise SystemExit("peer closed")
                n += 1
            if time.monotonic() >= end:
                break
        print(n, time.monotonic() - t0)
    elif mode == "crr-server":
        s = listener(host, port)
        while True:
            c, _ = s.accept()
            req = c.recv(65536)
            if req:
                c.sendall(req)
            c.close()
    elif mode == "crr":
        seconds, size = float(sys.argv[4]), int(sys.argv[5])
        req = b"q" * size
        n = 0
        t0 = time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            c = socket.create_connection((host, port))
            c.sendall(req)
            got = 0
            while got < size:
                b = c.recv(65536)
                if not b:
                    break
                got += len(b)
            c.close()
            n += 1
        print(n, time.monotonic() - t0)
    else:
        raise SystemExit("unknown mode " + mode)


main()
