"""A TCP proxy in front of PostgreSQL that can hang (forward nothing) or drop connections: a database that stops
answering, for the hanging-database and health tests."""

from __future__ import annotations

import contextlib
import socket
import threading


class DatabaseProxy:
    """A TCP proxy to PostgreSQL: "pass" forwards both ways; "hang" accepts new connections and, on every
    connection, reads and drops what arrives, answering nothing; "refuse" closes every connection, as a database
    host that went away. A connection that lost bytes to "hang" cannot carry on when traffic passes again (the
    protocol stream is broken), so going back to "pass" closes it, as the network would."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: dict[socket.socket, socket.socket | None] = {}  # client -> upstream (None: never connected)
        self._broken: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self) -> None:
        self.mode = "hang"

    def refuse(self) -> None:
        self.mode = "refuse"
        with self._lock:
            doomed = list(self._open)
        for client in doomed:
            self._close(client)

    def resume(self) -> None:
        with self._lock:
            self.mode = "pass"
            doomed = [client for client, upstream in self._open.items() if upstream is None or client in self._broken]
        for client in doomed:
            self._close(client)

    def close(self) -> None:
        self._listener.close()
        self.refuse()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.mode == "refuse":
                client.close()
                continue
            upstream = socket.create_connection(self.upstream) if self.mode == "pass" else None
            with self._lock:
                self._open[client] = upstream
            threading.Thread(target=self._pump, args=(client, upstream, client), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(upstream, client, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None, client: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if self.mode == "pass" and sink is not None and client not in self._broken:
                    sink.sendall(data)
                else:
                    self._broken.add(client)  # read, and never answered
        except OSError:
            pass
        self._close(client)

    def _close(self, client: socket.socket) -> None:
        with self._lock:
            upstream = self._open.pop(client, None)
            self._broken.discard(client)
        for end in (client, upstream):
            if end is not None:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
