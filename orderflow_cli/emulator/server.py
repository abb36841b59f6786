"""`orders serve`: the HTTP API and an emulated S3 endpoint on 127.0.0.1, pipeline wired in.

The API is the Chalice app served by Chalice's local server; S3 (and every other emulated
service) is reachable by other processes through moto's server on a second port, sharing the
same in-process state, so a presigned POST returned by the API can be used with curl. Uploads
reach the app's `on_s3_event` handler as in `orders run`, from a background thread, and the
DLQ's event source mapping feeds the reviewer from its own.

API Gateway checks API keys on AWS; Chalice's local server does not, so this server checks the
`x-api-key` header itself against a key printed at start-up (or given).
"""

from __future__ import annotations

import functools
import json
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any

from chalice.app import Request, Response
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, create_local_server

from chalicelib.api.errors import Unauthorized
from chalicelib.log import get_logger
from orderflow_cli.emulator.runtime import CONFIG_PATH, EmbeddedAWS

log = get_logger("local-server")
_PUMP_SECONDS = 0.2
_OPEN_PATHS = frozenset({"/health"})


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
        app.app.register_middleware(_require_api_key(self.api_key, self._turns), "http")
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
        while not self._stopping.wait(_PUMP_SECONDS):
            try:
                with self._turns:
                    self.local.deliver_s3_events()
                    self.local.deliver_app_events()
            except Exception:
                log.exception("could not deliver S3 events")


class _RequestHandler(ChaliceRequestHandler):
    """Chalice's handler leaves methods it does not know (TRACE, QUERY, ...) to http.server,
    which answers a 501 HTML page; API Gateway answers them like any other method a route does
    not have (a JSON 403 or 405), so this one hands every method to Chalice's gateway."""

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


def _require_api_key(
    expected: str, turns: threading.Lock
) -> Callable[[Request, Callable[[Request], Response]], Response]:
    def middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
        path = (request.context or {}).get("resourcePath", "")
        given = str(request.headers.get("x-api-key") or "") if request.headers else ""
        if path in _OPEN_PATHS or secrets.compare_digest(given, expected):
            with turns:
                return get_response(request)
        error = Unauthorized("a valid x-api-key header is required", code="forbidden")
        return Response(body=error.body(), status_code=error.STATUS)

    return middleware
