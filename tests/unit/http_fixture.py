#!/usr/bin/env python3
"""A throwaway HTTP server for tests/unit/test_http.c (stdlib only).

Usage: http_fixture.py PORT_FILE [CERT KEY] -- listens on 127.0.0.1, an
ephemeral port, and writes the port number to PORT_FILE once it accepts
connections.  Given a certificate and its key, it also serves the same over
TLS on a second port, written after the first ("PORT TLS_PORT").

Requests are GET /SCENARIO/TAG/ENTITY?query.  Each (scenario, tag, cursor)
counts its attempts, so "fail the first time, then succeed" is per test:
the C test uses a fresh TAG for every case.
"""
import gzip
import http.server
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
ATTEMPTS = {}

CURSOR1 = "c 1/&x=+%"  # must come back URL-encoded to be recognised


def plain_body(entity):
    return f"id,val\r\n1,{entity}\r\n".encode()


def big_body():
    # test_http.c builds the same text to compare
    return "".join(f"{i},{'x' * 50}\n" for i in range(40000)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 3:
            return self.reply(404, b"unknown path")
        scenario, tag, entity = parts
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        cursor = query.get("cursor", [None])[0]
        with LOCK:
            key = (scenario, tag, cursor)
            attempt = ATTEMPTS.get(key, 0)
            ATTEMPTS[key] = attempt + 1
        handler = getattr(self, "sc_" + scenario, None)
        if handler is None:
            return self.reply(404, b"unknown scenario")
        handler(attempt, entity, cursor, url.query)

    # -- helpers

    def reply(self, status, body, headers=(), ctype="text/csv; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def start_partial(self, declared, part, headers=()):
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(declared))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(part)
        self.wfile.flush()
        self.close_connection = True

    def reset(self):
        """Close with RST instead of FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()

    def ok(self, entity):
        self.reply(200, plain_body(entity))

    # -- scenarios: (attempt number, entity, cursor, raw query)

    def sc_plain(self, n, entity, cursor, query):
        self.ok(entity)

    def sc_echo(self, n, entity, cursor, query):
        text = (f"auth={self.headers.get('Authorization', '<none>')}\n"
                f"ua={self.headers.get('User-Agent', '<none>')}\n"
                f"ae={self.headers.get('Accept-Encoding', '<none>')}\n"
                f"path={urllib.parse.urlsplit(self.path).path}\n"
                f"query={query}\n")
        self.reply(200, text.encode())

    def sc_pages(self, n, entity, cursor, query):
        if cursor is None:
            self.reply(200, f"page0 {query}\n".encode(),
                       [("X-Next-Cursor", CURSOR1), ("X-Total-Count", "42")])
        elif cursor == CURSOR1:
            self.reply(200, f"page1 {query}\n".encode(),
                       [("X-Next-Cursor", "c2"), ("X-Total-Count", "7")])
        elif cursor == "c2":
            self.reply(200, b"page2\n")
        else:
            self.reply(400, f"bad cursor {cursor!r}".encode(),
                       ctype="text/plain")

    def sc_samecursor(self, n, entity, cursor, query):
        self.reply(200, b"x\n", [("X-Next-Cursor", "same")])

    def sc_gzipce(self, n, entity, cursor, query):
        self.reply(200, gzip.compress(plain_body(entity)),
                   [("Content-Encoding", "gzip")])

    def sc_gzipmagic(self, n, entity, cursor, query):
        self.reply(200, gzip.compress(plain_body(entity)),
                   ctype="application/gzip")

    def sc_multigz(self, n, entity, cursor, query):
        self.reply(200, gzip.compress(b"a,b\n") + gzip.compress(b"1,2\n"),
                   [("Content-Encoding", "gzip")])

    def sc_big(self, n, entity, cursor, query):
        self.reply(200, gzip.compress(big_body()),
                   [("Content-Encoding", "gzip")])

    def sc_notgzip(self, n, entity, cursor, query):
        self.reply(200, b"id,val\n1,2\n", [("Content-Encoding", "gzip")])

    def sc_brotli(self, n, entity, cursor, query):
        self.reply(200, b"\x0b\x02\x80", [("Content-Encoding", "br")])

    def sc_empty(self, n, entity, cursor, query):
        self.reply(200, b"")

    def sc_onebyte(self, n, entity, cursor, query):
        self.reply(200, b"\x1f")

    def sc_503(self, n, entity, cursor, query):
        if n == 0:
            return self.reply(503, b"busy", [("Retry-After", "0")],
                              ctype="text/plain")
        self.ok(entity)

    def sc_429(self, n, entity, cursor, query):
        if n == 0:
            return self.reply(429, b"slow down", [("Retry-After", "1")],
                              ctype="text/plain")
        self.ok(entity)

    def sc_always503(self, n, entity, cursor, query):
        self.reply(503, b"busy\r\nreally", ctype="text/plain")

    def sc_big500(self, n, entity, cursor, query):
        self.reply(500, b"<html>" + b"E" * 200000, ctype="text/html")

    def sc_reset(self, n, entity, cursor, query):
        if n == 0:
            self.start_partial(1000, b"id,val\r\n1,partial")
            return self.reset()
        self.ok(entity)

    def sc_short(self, n, entity, cursor, query):
        if n == 0:
            return self.start_partial(1000, b"id,val\r\n1,short")
        self.ok(entity)

    def sc_truncgz(self, n, entity, cursor, query):
        full = gzip.compress(big_body())
        if n == 0:
            return self.reply(200, full[:len(full) // 2],
                              [("Content-Encoding", "gzip")])
        self.reply(200, full, [("Content-Encoding", "gzip")])

    def sc_stall(self, n, entity, cursor, query):
        if n == 0:
            self.start_partial(1000, b"id,val\r\n1,stall")
            time.sleep(5)
            return
        self.ok(entity)

    def sc_stallhead(self, n, entity, cursor, query):
        if n == 0:
            time.sleep(5)
            self.close_connection = True
            return
        self.ok(entity)

    def sc_401(self, n, entity, cursor, query):
        # a careless server that echoes the credentials it refused
        auth = self.headers.get("Authorization", "")
        self.reply(401, f"denied: {auth}".encode(), ctype="text/plain")

    def sc_400echo(self, n, entity, cursor, query):
        auth = self.headers.get("Authorization", "")
        self.reply(400, f"bad token {auth}".encode(), ctype="text/plain")

    def sc_403(self, n, entity, cursor, query):
        self.reply(403, b"forbidden", ctype="text/plain")

    def sc_400(self, n, entity, cursor, query):
        self.reply(400, "bad parameter: updated_since 'x\u1ef3z'\n".encode(),
                   ctype="text/plain; charset=utf-8")

    def sc_404(self, n, entity, cursor, query):
        self.reply(404, b"unknown entity", ctype="text/plain")

    def sc_302(self, n, entity, cursor, query):
        self.reply(302, b"", [("Location", "http://127.0.0.1:1/")])


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # resets and stalls make the client hang up: expected


def tls_server(cert, key):
    import ssl
    server = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    port_file = sys.argv[1]
    server = Server(("127.0.0.1", 0), Handler)
    ports = str(server.server_address[1])
    if len(sys.argv) == 4:
        ports += " " + str(tls_server(sys.argv[2], sys.argv[3])
                           .server_address[1])
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(ports)
    os.rename(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
