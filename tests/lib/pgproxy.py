"""A PostgreSQL wire proxy on a Unix socket, for tests that must see or cut
what travels between the program and the server.

It relays bytes both ways unchanged, keeps what clients sent (to assert that
a statement never went out), and can drop one connection at the worst
moment: after the server has executed a COMMIT, before its reply reaches the
client (the server committed; the client cannot know).

    proxy = PgProxy(cluster)
    dsn = proxy.dsn(db)                 # host=<proxy dir> port=<same port>
    proxy.drop_commit_reply_after(b"etl.merge_staging")
    ...
    assert b"SAVEPOINT" not in proxy.sent()
    proxy.stop()
"""
import os
import shutil
import socket
import tempfile
import threading


class PgProxy:
    def __init__(self, cluster):
        self.cluster = cluster
        self.dir = tempfile.mkdtemp(prefix="onestop-pgproxy-")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, f".s.PGSQL.{cluster.port}")
        self.target = os.path.join(cluster.sock, f".s.PGSQL.{cluster.port}")
        self.lock = threading.Lock()
        self.traffic = bytearray()
        self.marker = None      # a connection that sent this, then COMMIT...
        self.dropped = 0        # ...loses the reply: how many were dropped
        self.socks = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(64)
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def dsn(self, db):
        return f"host={self.dir} port={self.cluster.port} dbname={db} user=postgres"

    def drop_commit_reply_after(self, marker):
        """The next connection that sends marker and then a COMMIT has the
        COMMIT executed and its reply thrown away, the connection closed."""
        self.marker = marker

    def sent(self):
        with self.lock:
            return bytes(self.traffic)

    def stop(self):
        self.running = False
        for s in [self.listener] + self.socks:
            try:
                s.close()
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------
    def _accept(self):
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(self.target)
            self.socks += [client, server]
            state = {"seen": False, "drop": False}
            threading.Thread(target=_pump, args=(client, server, lambda d, st=state: self._up(d, st)),
                             daemon=True).start()
            threading.Thread(target=_pump, args=(server, client, lambda d, st=state: self._down(st)),
                             daemon=True).start()

    def _up(self, data, state):
        """Client to server: kept, and watched for the marker and COMMIT."""
        with self.lock:
            self.traffic += data
            if self.marker and self.marker in data:
                state["seen"] = True
            if state["seen"] and self.marker and b"COMMIT" in data:
                state["drop"] = True
                self.marker = None
        return True

    def _down(self, state):
        """Server to client: the reply to a doomed COMMIT never arrives."""
        if state["drop"]:
            self.dropped += 1
            return False
        return True


def _pump(src, dst, forward):
    """Relay src to dst while forward(data) says so; then close both."""
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data or not forward(data):
            break
        try:
            dst.sendall(data)
        except OSError:
            break
    _close(src, dst)


def _close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass
