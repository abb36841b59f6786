"""Runs the app's own Lambda functions in-process when the emulated services invoke them.

moto's Lambda needs Docker, which these machines do not have. A `before-call.lambda.Invoke`
handler on the default boto3 session (the one moto's Step Functions interpreter uses) answers
each invoke by calling the registered Chalice function object, and answers an exception the way
Lambda does (`FunctionError` with `errorType` and `errorMessage`), so the definition's Retry and
Catch see the same error names as on AWS.
"""

from __future__ import annotations

import io
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.response import StreamingBody

from orderflow_cli.emulator.weather import current as current_weather

Handler = Callable[[Any, Any], Any]

# The Lambda function whose code is running in this thread, if any.
current_function: ContextVar[str | None] = ContextVar("current_function", default=None)


@dataclass
class CallRecorder:
    """Records which AWS operations each function calls (`before-call` on the default session,
    registered before any client exists): what the IAM policies are checked against."""

    calls: set[tuple[str, str]] = field(default_factory=set)

    def __call__(self, model: Any, params: Any = None, **_: Any) -> None:
        function = current_function.get()
        if function is not None:
            operation = f"{model.service_model.service_name}.{model.name}"
            if _names_a_version(params):  # IAM authorises these as s3:...Version actions
                operation += "#version"
            self.calls.add((function, operation))


def _names_a_version(params: Any) -> bool:
    """Whether a serialised S3 request names an object version (or copies from one)."""
    if not isinstance(params, dict):
        return False
    query = params.get("query_string") or {}
    headers = params.get("headers") or {}
    copy_source = str(headers.get("x-amz-copy-source", ""))
    return (isinstance(query, dict) and "versionId" in query) or "versionId=" in copy_source


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that handlers may read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 256
    _deadline: float = field(default_factory=lambda: time.monotonic() + 900)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def app_functions(app_module: ModuleType) -> dict[str, Handler]:
    """Every Lambda function the Chalice app declares, by its Chalice name."""
    app = app_module.app
    declared = [*app.pure_lambda_functions, *app.event_sources]
    return {f.name: getattr(app_module, f.handler_string.rsplit(".", 1)[-1]) for f in declared}


def function_name_from_path(url_path: str, prefix: str) -> str:
    """`/2015-03-31/functions/<name or ARN>/invocations` -> the Chalice function name."""
    target = unquote(url_path.split("/functions/", 1)[1].split("/", 1)[0])
    if target.startswith("arn:"):
        target = target.split(":function:", 1)[1].split(":", 1)[0]
    return target.removeprefix(prefix)


@dataclass
class InProcessLambda:
    """Installs the invoke hook; `invocations` and `busy_seconds` count every call per function,
    however it came (an invoke, an event source mapping, an S3 or EventBridge delivery), for the
    cost model. `busy_seconds` is the CPU time of the thread that ran the call: several functions
    run at once in this process and wait for each other's interpreter lock, which a Lambda, with
    a CPU of its own, never does (it waits for the network instead, which no emulator shows)."""

    functions: Mapping[str, Handler]
    name_prefix: str
    invocations: dict[str, int] = field(default_factory=dict)
    busy_seconds: dict[str, float] = field(default_factory=dict)
    _counting: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def install(self) -> None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-call.lambda.Invoke", self._invoke)  # type: ignore[arg-type]

    def call(self, name: str, event: Any) -> Any:
        """Runs the function `name` on `event`, as Lambda would (its name known to the thread)."""
        token = current_function.set(name)
        started = time.thread_time()
        try:
            return self.functions[name](event, LambdaContext(function_name=name))
        finally:
            elapsed = time.thread_time() - started
            current_function.reset(token)
            with self._counting:  # functions run in several threads at once
                self.invocations[name] = self.invocations.get(name, 0) + 1
                self.busy_seconds[name] = self.busy_seconds.get(name, 0.0) + elapsed

    def _invoke(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        weather = current_weather()
        refused = weather.lambda_answer() if weather is not None else None
        if refused is not None:  # Lambda's 429: the function never ran
            return refused
        name = function_name_from_path(params["url_path"], self.name_prefix)
        body = params.get("body") or b"{}"
        event = json.loads(body.decode() if isinstance(body, bytes) else body)
        answer: dict[str, Any] = {"StatusCode": 200}
        try:
            payload = self.call(name, event)
        except Exception as error:  # noqa: BLE001 - reported the way Lambda reports it
            payload = {
                "errorType": type(error).__name__,
                "errorMessage": str(error),
                "stackTrace": traceback.format_exception(error)[-3:],
            }
            answer["FunctionError"] = "Unhandled"
        data = json.dumps(payload).encode()
        answer["Payload"] = StreamingBody(io.BytesIO(data), len(data))
        return AWSResponse(params.get("url", ""), 200, HTTPHeaders(), None), answer
