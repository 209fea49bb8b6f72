#!/usr/bin/env python3
"""A static server of the pages tests/bench/build_pages.py wrote.

    python3 tests/bench/page_server.py --pages DIR [--port 0] [--port-file F]
        [--copies K]

GET /{entity}?updated_since=&limit=&cursor= as in source-api.md (any path
prefix; the last segment names the entity):

- without updated_since, the full set; with it, the night set, provided
  updated_since is not before the night set's start (the full set's last
  CapNhatLuc minus the lookback it was built with): 400 otherwise, since
  this server holds no other window.  updated_until is not supported (400).
- the page named by cursor (the first page without one), sent as stored:
  Content-Encoding: gzip, X-Next-Cursor (the next page's name) unless it is
  the last, X-Total-Count (the rows of the whole set).  limit is accepted
  and ignored: the pages were cut at build time (the bench configures the
  same page size).
- bare=1 (for the bench's floor only): the page without its header line,
  spliced from the stored stream at its full-flush point, no recompression.

--fraction F serves only the first F of the full set's dossier pages
(hoso, bosung, quatrinh; units and catalogue whole): the rows with the
earliest CapNhatLuc, a smaller province-year for the memory ratio.

--copies K serves the full set's dossier pages K times over, copy k
(k >= 1) with every MaHoSo rewritten ("….H53-" -> "….H53-kN-"),
decompressed and recompressed on the fly: K times the dossiers without K
times the pages on disk.  Within each copy the rows keep their order.

Files go out with sendfile(2): the server costs next to nothing.
"""

import argparse
import json
import math
import os
import signal
import socket
import struct
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ENTITIES = ("donvi", "thutuc", "hoso", "bosung", "quatrinh")
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
KEY_MARK = b".H53-"   # every MaHoSo is "<unit code ending .H53>-yymmdd-n"


class Chain:
    """One entity's pages in one set, in order; copies repeat the chain."""

    def __init__(self, folder, pages, copies):
        self.folder = folder
        self.pages = pages
        self.copies = copies
        self.index = {p["name"]: i for i, p in enumerate(pages)}
        self.total = sum(p["rows"] for p in pages) * copies

    def locate(self, cursor):
        """cursor -> (copy, page index); KeyError when it is not ours."""
        if not cursor:
            return 0, 0
        copy, _, name = cursor.rpartition(":")
        k = int(copy[1:]) if copy else 0
        if copy and (not copy.startswith("c") or not 0 < k < self.copies):
            raise KeyError(cursor)
        return k, self.index[name]

    def next_cursor(self, copy, i):
        if i + 1 < len(self.pages):
            copy, i = copy, i + 1
        elif copy + 1 < self.copies:
            copy, i = copy + 1, 0
        else:
            return None
        name = self.pages[i]["name"]
        return "c%d:%s" % (copy, name) if copy else name


class Pages:
    def __init__(self, folder, copies, fraction):
        with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as f:
            self.manifest = json.load(f)
        self.since = {e: self.manifest["night_since"][e] for e in ENTITIES}
        self.chains = {}
        for s in ("full", "night"):
            for e in ENTITIES:
                pages = self.manifest["sets"][s][e]
                scaled = s == "full" and e in ("hoso", "bosung", "quatrinh")
                if scaled:
                    pages = pages[:max(1, math.ceil(len(pages) * fraction))]
                self.chains[(s, e)] = Chain(os.path.join(folder, s, e), pages,
                                            copies if scaled else 1)


def rekey(data, copy):
    """A stored page with its MaHoSo rewritten for copy `copy`."""
    body = zlib.decompress(data, 31)
    body = body.replace(KEY_MARK, b".H53-k%d-" % copy)
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(body) + c.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "onestop-bench-pages/1.0"
    pages = None

    def setup(self):
        super().setup()
        # headers and body go out in separate writes: without this, Nagle
        # and the client's delayed ACK add 40 ms to every page
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        if os.environ.get("BENCH_SERVER_VERBOSE"):
            sys.stderr.write("page-server: " + (fmt % args) + "\n")

    def _plain(self, code, text):
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        try:
            self._get()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _get(self):
        u = urlsplit(self.path)
        entity = u.path.rstrip("/").rsplit("/", 1)[-1]
        if entity not in ENTITIES:
            return self._plain(404, "unknown entity")
        qs = parse_qs(u.query, keep_blank_values=True)
        for k in qs:
            if k not in ("updated_since", "updated_until", "limit", "cursor", "bare"):
                return self._plain(400, "bad parameter %s: unknown parameter" % k)
        if qs.get("updated_until", [""])[0]:
            return self._plain(400, "bad parameter updated_until: not served by the bench")
        since = qs.get("updated_since", [""])[0].strip()
        if since and since < self.pages.since[entity]:
            return self._plain(400, "bad parameter updated_since: the bench holds the night"
                               " from %s on, not %s" % (self.pages.since[entity], since))
        chain = self.pages.chains[("night" if since else "full", entity)]
        try:
            copy, i = chain.locate(qs.get("cursor", [""])[0])
        except (KeyError, ValueError):
            return self._plain(400, "bad parameter cursor: not a page of this entity")
        page = chain.pages[i]
        path = os.path.join(chain.folder, page["name"] + ".csv.gz")
        bare = qs.get("bare", [""])[0] == "1"
        headers = [("Content-Type", "text/csv; charset=utf-8"),
                   ("Content-Encoding", "gzip"),
                   ("X-Total-Count", str(chain.total))]
        nxt = chain.next_cursor(copy, i)
        if nxt:
            headers.append(("X-Next-Cursor", nxt))
        with open(path, "rb") as f:
            if copy:
                return self._send(headers, rekey(f.read(), copy))
            size = os.fstat(f.fileno()).st_size
            if not bare:
                return self._send(headers, None, f, 0, size)
            off = page["body_off"]
            trailer = struct.pack("<II", page["body_crc"], page["body_len"] & 0xFFFFFFFF)
            count = size - 8 - off
            self._send(headers, None, f, off, count, GZIP_HEADER, trailer)

    def _send(self, headers, body, f=None, off=0, count=0, head=b"", tail=b""):
        length = len(body) if body is not None else len(head) + count + len(tail)
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if body is not None:
            self.wfile.write(body)
            return
        if head:
            self.wfile.write(head)
        self.wfile.flush()
        self.connection.sendfile(f, off, count)
        if tail:
            self.wfile.write(tail)


def main(argv=None):
    ap = argparse.ArgumentParser(description="serve pre-built bench pages")
    ap.add_argument("--pages", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--fraction", type=float, default=1.0)
    a = ap.parse_args(argv)
    if not 0 < a.fraction <= 1:
        ap.error("--fraction: want 0 < F <= 1")
    Handler.pages = Pages(a.pages, max(1, a.copies), a.fraction)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer((a.host, a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)
    sys.stderr.write("page-server: http://%s:%d serving %s (copies %d, fraction %g)\n"
                     % (a.host, port, a.pages, a.copies, a.fraction))
    sys.stderr.flush()

    def on_term(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, on_term)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
