"""`orders serve`: the HTTP API and an emulated S3 endpoint on 127.0.0.1, pipeline wired in.

The API is the Chalice app served by Chalice's local server; S3 (and every other emulated
service) is reachable by other processes through moto's server on a second port, sharing the
same in-process state, so a presigned POST returned by the API can be used with curl. Uploads
reach the app's `on_s3_event` handler as in `orders run`, from a background thread, the
DLQ's event source mapping feeds the reviewer from its own, and EventBridge's events (the
webhooks) are delivered from a third, each in its own worker, as separate Lambda invocations
are on AWS: a receiver that hangs holds its own delivery only.

Every route but /health is guarded by the app's own authorizer (`sender_key`), which Chalice's
local gateway runs as API Gateway would: a key resolves to its sender in the emulated senders
table. At start the server adds a demo sender, `demo`, with the key it prints (or `--api-key`).

Where Chalice's local server and API Gateway (REST API) differ, this one does as API Gateway:
- requests are served at once, each in its own thread (API Gateway runs as many Lambdas as
  there are requests); moto's state stays consistent through `moto_patches`, and the boto3
  clients and the log handler are made before the first request (making them is not
  thread-safe);
- path parameters reach the route URL-decoded (`/orders/A%20B` is order `A B`); an encoded
  slash stays inside its segment (`/orders/a%2Fb` is order `a/b`, not a route of three parts);
- a chunked body (`Transfer-Encoding: chunked`) is read; a body whose framing cannot be read (a
  Content-Length that is not one number, another transfer coding, a broken chunk) is a 400, and
  one over API Gateway's 10 MB payload limit a 413, in the API's error shape, and the
  connection is closed (where the next request would start is unknown): `http_body`.

Where Chalice's local server answers in shapes of its own, this one answers in the API's error
shape: a path no route has is a 404 `route_not_found` (Chalice: API Gateway's 403 "Missing
Authentication Token"), a method the route does not have a 405 `method_not_allowed` with an
`Allow` header (Chalice: `{"Code": "MethodNotAllowedError"}`). Both are answered before the
authorizer runs, as API Gateway checks the route first. On AWS, API Gateway answers both itself,
with the 404 `route_not_found` that `make deploy` sets as its gateway response (docs/api.md).
"""

from __future__ import annotations

import json
import secrets
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from chalice.app import Chalice, Request, Response
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LambdaEventConverter,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    MatchResult,
    RouteMatcher,
    ThreadedHTTPServer,
)

from chalicelib import aws
from chalicelib import log as logs
from chalicelib.api.auth import AUTH_HEADER
from chalicelib.api.errors import ApiError, MethodNotAllowed, NotFound
from chalicelib.log import get_logger
from chalicelib.senders import SenderRegistry
from orderflow_cli.emulator.http_body import MAX_BODY_BYTES as MAX_BODY_BYTES  # the server's limit
from orderflow_cli.emulator.http_body import Unreadable, read_body
from orderflow_cli.emulator.runtime import DEFAULT_SENDER, EmbeddedAWS
from orderflow_cli.stage import CONFIG_PATH

log = get_logger("local-server")
# The S3 and EventBridge pump's pause: 0.2 s after it delivered something, doubling while idle
# up to 1 s (an idle server asked every queue five times a second: most of its CPU); an API
# request wakes it at once, so an order sent through the API starts its batch without a wait.
_PUMP_SECONDS, _PUMP_IDLE_SECONDS = 0.2, 1.0
_APP_EVENT_WORKERS = 8  # EventBridge deliveries (webhooks) at once, each a Lambda on AWS
DEMO_SENDER = DEFAULT_SENDER  # the sender `orders serve` adds at start, with the key it prints
# What `orders serve` says at start (on stderr): nothing it is given outlives it.
IN_MEMORY_NOTICE = (
    "orders serve: every order, batch, file, queue and sender lives in this process's memory "
    "and is gone when it stops"
)
_READ_TIMEOUT_SECONDS = 60  # a client that stops sending in mid-request loses its connection


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
        self._app_wake = threading.Event()  # ends the EventBridge pump's (set on stop)
        # Deliveries of S3, EventBridge and DLQ messages take turns with each other; requests
        # take no turn (see the module's docstring).
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
        app.app.register_middleware(_waking(self._wake), "http")
        _before_concurrent_requests(self.local)
        config = Config.create(
            chalice_stage=self.local.stage,
            app_name=app.app.app_name,
            chalice_app=app.app,
            config_from_disk=json.loads(CONFIG_PATH.read_text()),
        )
        _with_request_per_thread(app.app)
        self._api = LocalDevServer(
            app.app, config, "127.0.0.1", self.port, _RequestHandler, _ConcurrentServer
        )
        self._spawn(self._api.server.serve_forever)
        self._spawn(self._deliver_s3_events)
        self._spawn(self._deliver_app_events)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._app_wake.set()
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
            except Exception:
                log.exception("could not deliver S3 events")
            pause = _PUMP_SECONDS if delivered else min(pause * 2, _PUMP_IDLE_SECONDS)

    def _deliver_app_events(self) -> None:
        """EventBridge's deliveries (the webhooks), apart from S3's: on AWS each is its own
        asynchronous Lambda invocation, so a receiver that hangs for its whole deadline holds
        its own delivery only, never another sender's uploads. Each runs in a thread of a pool
        of `_APP_EVENT_WORKERS`, without the S3 pump's turn."""
        assert self.local.lambdas is not None
        call = self.local.lambdas.call
        pause = _PUMP_SECONDS
        with ThreadPoolExecutor(_APP_EVENT_WORKERS, thread_name_prefix="app-event") as pool:
            while not self._stopping.is_set():
                self._app_wake.wait(pause)
                self._app_wake.clear()
                taken: list[tuple[str, Any]] = []
                try:
                    taken = self.local.take_app_events()
                except Exception:
                    log.exception("could not take EventBridge events")
                for name, event in taken:
                    pool.submit(_delivered, call, name, event)
                pause = _PUMP_SECONDS if taken else min(pause * 2, _PUMP_IDLE_SECONDS)


def _delivered(call: Callable[[str, Any], Any], name: str, event: Any) -> None:
    try:
        call(name, event)
    except Exception:
        log.exception("an EventBridge delivery failed", extra={"function": name})


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


class _ConcurrentServer(ThreadedHTTPServer):
    """A thread per connection (Chalice's own server class), with room for a burst of clients
    waiting to connect (http.server's default backlog is 5)."""

    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away before its answer was written (a browser tab closed while
        a request was in flight) is not the server's error: nothing is printed for it, as API
        Gateway logs nothing of the kind. Anything else is printed as before."""
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)


def _with_request_per_thread(app: Chalice) -> None:
    """What Chalice's `create_local_server` does to the app (chalice/local.py): its
    `current_request` becomes one per thread, so that concurrent requests do not see each
    other's."""
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice


def _before_concurrent_requests(local: EmbeddedAWS) -> None:
    """Makes, before any request, what the routes make lazily once per process: boto3's client
    creation and the log set-up are not safe from several threads at once (a Lambda serves one
    request at a time, so the product has no reason to guard them)."""
    settings = local.settings
    logs.configure(settings.stage, settings.log_level)
    for make in (aws.s3, aws.dynamodb, aws.sfn, aws.sqs, aws.events, aws.ssm):
        make()
    aws.s3_presigner(settings.s3_public_endpoint)


class _DecodingRouteMatcher(RouteMatcher):
    """Chalice's route matching on the path as sent, with each path parameter URL-decoded
    afterwards, as API Gateway's REST APIs hand them to a Lambda: the route is chosen on the
    encoded segments (an encoded slash does not split one), the value is decoded once."""

    def match_route(self, url: str) -> MatchResult:
        matched = super().match_route(url)
        captured = {name: unquote(value) for name, value in matched.captured.items()}
        return MatchResult(matched.route, captured, matched.query_params)


class _Refused(LocalGatewayException):
    """An answer in the API's error shape, given before the app runs."""

    def __init__(self, error: ApiError, headers: dict[str, str] | None = None) -> None:
        super().__init__(
            {"Content-Type": "application/json", **(headers or {})},
            json.dumps(error.body()).encode(),
        )
        self.CODE = error.STATUS


class _Gateway(LocalGateway):
    """Chalice's local gateway, with an unknown path and an unknown method answered in the
    API's error shape (see the module's docstring)."""

    def _generate_lambda_event(
        self, method: str, path: str, headers: Any, body: bytes | None
    ) -> Any:
        try:
            event = super()._generate_lambda_event(method, path, headers, body)
        except ValueError as error:  # no route matches the path
            shown = path.split("?", 1)[0]
            raise _Refused(NotFound(f"no route {shown}", code="route_not_found")) from error
        methods = self._app_object.routes[event["requestContext"]["resourcePath"]]
        if method not in methods and method != "OPTIONS":  # OPTIONS: Chalice's CORS answer
            allowed = ", ".join(sorted(methods))
            raise _Refused(
                MethodNotAllowed(f"{path.split('?', 1)[0]} takes {allowed}, not {method}"),
                {"Allow": allowed},
            )
        return event


class _RequestHandler(ChaliceRequestHandler):
    """Chalice's handler leaves methods it does not know (TRACE, QUERY, ...) to http.server,
    which answers a 501 HTML page; API Gateway answers them like any other method a route does
    not have (a JSON 403 or 405), so this one hands every method to Chalice's gateway. Its
    gateway runs the authorizer on the header the authorizer names and decodes path parameters;
    it reads the body as HTTP/1.1 frames it (see the module's docstring)."""

    timeout = _READ_TIMEOUT_SECONDS

    def __init__(
        self, request: Any, client_address: Any, server: Any, app_object: Any, config: Config
    ) -> None:
        self.local_gateway = _Gateway(app_object, config)
        self.local_gateway._authorizer = _HeaderAuthorizer(app_object)
        self.local_gateway.event_converter = LambdaEventConverter(
            _DecodingRouteMatcher(list(app_object.routes)), app_object.api.binary_types
        )
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def _generic_handle(self) -> None:
        try:
            super()._generic_handle()
        except Unreadable as unreadable:
            self.close_connection = True
            body = json.dumps(unreadable.error.body())
            self._send_http_response(unreadable.error.STATUS, {"Connection": "close"}, body)

    # Chalice binds these names to its own `_generic_handle`; every other method finds this
    # one through `__getattr__`.
    do_GET = do_PUT = do_POST = do_HEAD = _generic_handle  # noqa: N815 - http.server's names
    do_DELETE = do_PATCH = do_OPTIONS = _generic_handle  # noqa: N815

    def _parse_payload(self) -> tuple[dict[str, Any], bytes | None]:
        return dict(self.headers), read_body(self.headers, self.rfile) or None

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """http.server logs the whole request line; this one leaves the query out (it may carry
        a callback_url, its tokens and an e-mail address)."""
        method, _, rest = self.requestline.partition(" ")
        target = rest.rsplit(" ", 1)[0] if " " in rest else rest
        status = str(int(code)) if isinstance(code, int) else code
        self.log_message('"%s %s" %s %s', method, target.split("?", 1)[0], status, str(size))


def _waking(wake: threading.Event) -> Callable[[Request, Callable[[Request], Response]], Response]:
    def middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
        try:
            return get_response(request)
        finally:
            wake.set()  # the request may have put a file in S3: the pump looks at once

    return middleware
