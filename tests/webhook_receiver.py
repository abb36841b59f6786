"""A webhook receiver on 127.0.0.1 for the tests: records what it is sent, answers as told."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer, then 204


@contextmanager
def webhook_receiver(answers: list[int] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(url="", answers=list(answers or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            status = receiver.answers.pop(0) if receiver.answers else 204
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Trickler:
    url: str
    connections: int = 0


@contextmanager
def trickling_receiver(every_seconds: float = 1.0) -> Iterator[Trickler]:
    """A receiver that reads the request, answers a status line, then one more header line
    every `every_seconds`, forever: each read of its answer succeeds well within any
    per-read timeout, but the answer never ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    trickler = Trickler(url=f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
    stop = threading.Event()

    def trickle(connection: socket.socket) -> None:
        connection.settimeout(None)
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                line = 0
                while not stop.wait(every_seconds):
                    line += 1
                    connection.sendall(f"X-Trickle-{line}: still here\r\n".encode())
            except OSError:
                pass  # the client hung up: what it should do

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue  # look at `stop` again
            except OSError:
                return
            trickler.connections += 1
            threading.Thread(target=trickle, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield trickler
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
