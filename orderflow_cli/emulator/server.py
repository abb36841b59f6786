"""`orders serve`: the HTTP API and an emulated S3 endpoint on 127.0.0.1, pipeline wired in.

The API is the Chalice app served by Chalice's local server; S3 (and every other emulated
service) is reachable by other processes through moto's server on a second port, sharing the
same in-process state, so a presigned POST returned by the API can be used with curl. Uploads
reach the app's `on_s3_event` handler as in `orders run`, from a background thread, and the
DLQ's event source mapping feeds the reviewer from its own.

Every route but /health is guarded by the app's own authorizer (`sender_key`), which Chalice's
local gateway runs as API Gateway would: a key resolves to its sender in the emulated senders
table. At start the server adds a demo sender, `demo`, with the key it prints (or `--api-key`).
"""

from __future__ import annotations

import functools
import json
import secrets
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from chalice.app import Request, Response
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    LocalDevServer,
    LocalGateway,
    LocalGatewayAuthorizer,
    create_local_server,
)

from chalicelib.api.auth import AUTH_HEADER
from chalicelib.log import get_logger
from chalicelib.senders import SenderRegistry
from orderflow_cli.emulator.runtime import CONFIG_PATH, DEFAULT_SENDER, EmbeddedAWS

log = get_logger("local-server")
# The S3 and EventBridge pump's pause: 0.2 s after it delivered something, doubling while idle
# up to 1 s (an idle server asked every queue five times a second: most of its CPU); an API
# request wakes it at once, so an order sent through the API starts its batch without a wait.
_PUMP_SECONDS, _PUMP_IDLE_SECONDS = 0.2, 1.0
DEMO_SENDER = DEFAULT_SENDER  # the sender `orders serve` adds at start, with the key it prints


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LocalServer:
    """Start with `start()`, stop with `stop()` (also on Ctrl-C in `serve`)."""

    def __init__(self, port: int = 8000, s3_port: int = 0, api_key: str | None = None) -> None:
        self.port = port or free_port()
        self.s3_port = s3_port or free_port()
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.local = EmbeddedAWS({"S3_PUBLIC_ENDPOINT": self.s3_url}, poll_dead_letters=True)
        self._moto: Any = None
        self._api: LocalDevServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._wake = threading.Event()  # ends the S3 pump's idle pause (set by API requests)
        # moto's in-memory backends are not made for concurrent writers: API requests and the
        # deliveries of S3, EventBridge and DLQ messages take turns (the state machine's own
        # threads still run beside them, as in `orders run`).
        self._turns = self.local.turns

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.local.start()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.s3_port, verbose=False)
        self._moto.start()
        app = self.local.app
        assert app is not None
        SenderRegistry(self.local.dynamodb, self.local.settings.senders_table).add(
            DEMO_SENDER, "Demo sender", key=self.api_key
        )
        app.app.register_middleware(_taking_turns(self._turns, self._wake), "http")
        config = Config.create(
            chalice_stage=self.local.stage,
            app_name="orderflow",
            chalice_app=app.app,
            config_from_disk=json.loads(CONFIG_PATH.read_text()),
        )
        self._api = create_local_server(app.app, config, "127.0.0.1", self.port)
        self._api.server.RequestHandlerClass = functools.partial(
            _RequestHandler, app_object=app.app, config=config
        )
        self._spawn(self._api.server.serve_forever)
        self._spawn(self._deliver_s3_events)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._api is not None:
            self._api.shutdown()
            self._api.server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._moto is not None:
            self._moto.stop()
        self.local.stop()

    def _spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _deliver_s3_events(self) -> None:
        pause = _PUMP_SECONDS
        while not self._stopping.is_set():
            self._wake.wait(pause)
            self._wake.clear()
            if self._stopping.is_set():
                return
            delivered = 0
            try:
                with self._turns:
                    delivered = len(self.local.deliver_s3_events())
                    delivered += self.local.deliver_app_events()
            except Exception:
                log.exception("could not deliver S3 events")
            pause = _PUMP_SECONDS if delivered else min(pause * 2, _PUMP_IDLE_SECONDS)


class _HeaderAuthorizer(LocalGatewayAuthorizer):
    """Chalice's local gateway hands an authorizer the `Authorization` header whatever header
    the authorizer names (chalice/local.py, `_prepare_authorizer_event`); API Gateway hands it
    the named one, here `x-api-key`. Missing, it is API Gateway's 401, as Chalice answers."""

    def _prepare_authorizer_event(self, arn: str, lambda_event: Any, lambda_context: Any) -> Any:
        headers = {k.lower(): v for k, v in (lambda_event.get("headers") or {}).items()}
        headers.pop("authorization", None)
        if AUTH_HEADER in headers:
            headers["authorization"] = headers[AUTH_HEADER]
        event = {**lambda_event, "headers": headers}
        return super()._prepare_authorizer_event(arn, event, lambda_context)


class _RequestHandler(ChaliceRequestHandler):
    """Chalice's handler leaves methods it does not know (TRACE, QUERY, ...) to http.server,
    which answers a 501 HTML page; API Gateway answers them like any other method a route does
    not have (a JSON 403 or 405), so this one hands every method to Chalice's gateway. Its
    gateway runs the authorizer on the header the authorizer names."""

    def __init__(
        self, request: Any, client_address: Any, server: Any, app_object: Any, config: Config
    ) -> None:
        self.local_gateway = LocalGateway(app_object, config)
        self.local_gateway._authorizer = _HeaderAuthorizer(app_object)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """http.server logs the whole request line; this one leaves the query out (it may carry
        a callback_url, its tokens and an e-mail address)."""
        method, _, rest = self.requestline.partition(" ")
        target = rest.rsplit(" ", 1)[0] if " " in rest else rest
        status = str(int(code)) if isinstance(code, int) else code
        self.log_message('"%s %s" %s %s', method, target.split("?", 1)[0], status, str(size))


def _taking_turns(
    turns: threading.Lock, wake: threading.Event
) -> Callable[[Request, Callable[[Request], Response]], Response]:
    def middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
        try:
            with turns:
                return get_response(request)
        finally:
            wake.set()  # the request may have put a file in S3: the pump looks at once

    return middleware
