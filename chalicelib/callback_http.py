"""One HTTP(S) POST to a checked callback target, within a delivery's deadline.

The connection goes to the addresses `callback_urls.check_url` checked, never to a new
resolution of the host; TLS still verifies the certificate against, and sends SNI for, the
URL's host name, and `Host` is the URL's host. Every socket operation (connect, the TLS
handshake, each send and each read of the answer's status line and headers) gets the time that
remains before the deadline as its timeout, so a receiver that trickles its answer is cut off
at the deadline (`DeadlinePassed`). Redirects are not followed; the answer's body is not read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.callback_urls import Target


class DeadlinePassed(TimeoutError):
    """The delivery's deadline passed during an attempt."""


@dataclass(frozen=True)
class Deadline:
    at: float
    seconds: float
    clock: Callable[[], float]

    def remaining(self) -> float:
        """The time left, as a socket timeout; raises DeadlinePassed when none is."""
        left = self.at - self.clock()
        if left <= 0:
            raise self.passed()
        return left

    def passed(self) -> DeadlinePassed:
        return DeadlinePassed(f"no complete answer within the {self.seconds:g} s delivery deadline")


class _DeadlineSocket(socket.socket):
    """A socket whose every send and receive may take only the delivery's remaining time."""

    deadline: Deadline

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining())
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: Any, flags: int = 0, /) -> None:
        self.settimeout(self.deadline.remaining())
        super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    deadline: Deadline

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining())
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.settimeout(self.deadline.remaining())
        super().sendall(data, flags)


class PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the checked addresses of a target, never to a new resolution
    of its host; its socket obeys the delivery's deadline."""

    def __init__(self, target: Target, deadline: Deadline, ca_file: str | None) -> None:
        super().__init__(target.host, target.port)
        self.target = target
        self.deadline = deadline
        self._ca_file = ca_file

    def connect(self) -> None:
        errors: list[str] = []
        for address in self.target.addresses:
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = _DeadlineSocket(family, socket.SOCK_STREAM)
            sock.deadline = self.deadline
            try:
                sock.settimeout(self.deadline.remaining())
                sock.connect((str(address), self.target.port))
                self.sock = self._secure(sock) if self.target.scheme == "https" else sock
                return
            except DeadlinePassed:
                sock.close()
                raise
            except TimeoutError:
                sock.close()
                raise self.deadline.passed() from None
            except OSError as error:
                sock.close()
                errors.append(f"{address}: {error}")
        raise ConnectionError("; ".join(errors))

    def _secure(self, sock: socket.socket) -> socket.socket:
        context = ssl.create_default_context(cafile=self._ca_file)
        context.sslsocket_class = _DeadlineSSLSocket
        sock.settimeout(self.deadline.remaining())  # the handshake's time
        tls = context.wrap_socket(sock, server_hostname=self.target.host)
        assert isinstance(tls, _DeadlineSSLSocket)
        tls.deadline = self.deadline
        return tls


def post(connection: PinnedConnection, body: bytes, headers: dict[str, str]) -> int:
    """The status of the answer to one POST; reads the status line and headers, not the body
    (nothing in it matters), and follows no redirect."""
    try:
        connection.request("POST", connection.target.path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status
    except TimeoutError as error:
        if isinstance(error, DeadlinePassed):
            raise
        raise connection.deadline.passed() from None  # a timeout is the remaining time's end
    finally:
        connection.close()
