"""AWS's weather in the embedded emulator: throttles, slow-downs and latency, at stated rates.

On AWS a few per cent of requests are refused for their rate on any busy day: DynamoDB answers
`ProvisionedThroughputExceededException` or `ThrottlingException`, S3 `SlowDown` (503), SQS,
Step Functions, EventBridge, STS and SSM their own throttling errors, Lambda
`TooManyRequestsException` (429); and every request takes a network round trip. moto answers
every request at once and never refuses one. `Weather` puts both back:

- each request of the named services is answered with that service's own throttling error, in
  its own protocol (JSON, XML, query), at the stated rate, *instead of* reaching moto, so a
  refused write writes nothing, as on AWS;
- `dynamodb_writes` holds every DynamoDB write (of any table) to that many per second, as a
  table's capacity does: a write above it is throttled (a token bucket, a tenth of a second of
  burst), which is what back-pressure must cope with;
- `latency_ms` is slept before each request (the interpreter's lock is released meanwhile, so
  concurrent writers overlap their waits as Lambda's do).

It sits below botocore's retry handler (in moto's own `before-send` stubber), so the product's
retries see it as they would see AWS. Lambda invocations from the state machine are refused in
the in-process Lambda hook instead (`lambda_answer`), where the interpreter's Retry sees
`Lambda.TooManyRequestsException` as on AWS.

`orders run --weather ...`, `orders serve --weather ...`, or `ORDERFLOW_WEATHER=...` for anything
that starts the emulator (the tests, `make bench`). The text is comma-separated `name=value`:
`dynamodb=3%,s3=2%,sqs=1%,sfn=1%,events=1%,lambda=1%,sts=1%,ssm=1%,latency=5ms,seed=7`, and
`dynamodb-writes=500` for a table's capacity; `aws=2%` sets every service at once.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

ENVIRONMENT_VARIABLE = "ORDERFLOW_WEATHER"

# Each service's throttling answer: (error codes, HTTP status, protocol). Every code is one that
# botocore's standard retry mode retries (botocore/retries/standard.py, _THROTTLED_ERROR_CODES,
# or its transient 5xx statuses).
_ANSWERS: dict[str, tuple[tuple[str, ...], int, str]] = {
    "dynamodb": (("ProvisionedThroughputExceededException", "ThrottlingException"), 400, "json"),
    "s3": (("SlowDown",), 503, "rest-xml"),
    "sqs": (("ThrottlingException",), 400, "json"),
    "sfn": (("ThrottlingException",), 400, "json"),
    "events": (("ThrottlingException",), 400, "json"),
    "sts": (("Throttling",), 400, "query"),
    "ssm": (("ThrottlingException",), 400, "json"),
}
_JSON_PREFIX = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810#",
    "sqs": "com.amazonaws.sqs#",
    "sfn": "com.amazonaws.swf.base.model#",
    "events": "",
    "ssm": "",
}
# The event names' service ids (botocore's hyphenated service id) for each service.
_SERVICE_IDS = {"eventbridge": "events", "sfn": "sfn"}
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_PERCENT = 100.0
_RATES = ("dynamodb", "s3", "sqs", "sfn", "events", "sts", "ssm", "lambda_")


class WeatherError(ValueError):
    """The weather's text cannot be read (the message says which part and why)."""


@dataclass
class Weather:
    """Rates are shares of requests (0.03 is 3%); zero is calm."""

    dynamodb: float = 0.0
    s3: float = 0.0
    sqs: float = 0.0
    sfn: float = 0.0
    events: float = 0.0
    sts: float = 0.0
    ssm: float = 0.0
    lambda_: float = 0.0
    latency_ms: float = 0.0
    dynamodb_writes: float = 0.0  # writes a second DynamoDB takes; 0 is no limit
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    _random: random.Random = field(init=False, compare=False, repr=False)
    _tokens: float = field(default=0.0, init=False, compare=False, repr=False)
    _filled_at: float = field(default=0.0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - weather, not secrets
        self._tokens = self.burst
        self._filled_at = time.monotonic()

    # -- reading it -----------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Weather:
        """`dynamodb=3%,s3=2%,latency=5ms,seed=7` (see the module's docstring)."""
        values: dict[str, Any] = {}
        rates = {name.rstrip("_") for name in _RATES}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = name.strip().lower().replace("_", "-")
            if not sep or not value.strip():
                raise WeatherError(f"{part!r}: say name=value, as dynamodb=3%")
            value = value.strip()
            if name == "aws":
                share = _share(part, value)
                values.update(dict.fromkeys(rates, share))
            elif name in rates:
                values[name] = _share(part, value)
            elif name == "latency":
                values["latency_ms"] = _number(part, value.removesuffix("ms"), at_most=10_000)
            elif name == "dynamodb-writes":
                values["dynamodb_writes"] = _number(part, value.removesuffix("/s"), at_most=1e9)
            elif name == "seed":
                values["seed"] = int(_number(part, value, at_most=2**31))
            else:
                known = ", ".join(sorted([*rates, "aws", "latency", "dynamodb-writes", "seed"]))
                raise WeatherError(f"{part!r}: no such weather; known: {known}")
        if "lambda" in values:
            values["lambda_"] = values.pop("lambda")
        return cls(**values)

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> Weather | None:
        text = environ.get(ENVIRONMENT_VARIABLE, "").strip()
        return cls.parse(text) if text else None

    def with_seed(self, seed: int) -> Weather:
        return replace(self, seed=seed, injected=Counter())

    def describe(self) -> str:
        parts = [
            f"{name.rstrip('_')} {rate:.1%}" for name in _RATES if (rate := getattr(self, name))
        ]
        if self.dynamodb_writes:
            parts.append(f"DynamoDB writes at most {self.dynamodb_writes:g}/s")
        if self.latency_ms:
            parts.append(f"{self.latency_ms:g} ms a request")
        return ", ".join(parts) + f" (seed {self.seed})" if parts else "calm"

    @property
    def burst(self) -> float:
        return max(1.0, self.dynamodb_writes / 10)

    # -- answering requests ---------------------------------------------------------------
    def answer(self, event_name: str, request: AWSPreparedRequest) -> AWSResponse | None:
        """The answer AWS's weather gives this request instead of the service, or None to let
        it through (after the latency)."""
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        parts = event_name.split(".")  # before-send.<service id>.<operation>
        if len(parts) < 3:
            return None
        service = _SERVICE_IDS.get(parts[1], parts[1])
        operation = parts[2]
        if service not in _ANSWERS:
            return None
        refused = self._draw(getattr(self, service, 0.0)) or (
            service == "dynamodb" and operation in _WRITES and not self._take_token()
        )
        if not refused:
            return None
        codes, status, protocol = _ANSWERS[service]
        code = codes[0] if len(codes) == 1 else self._random_choice(codes)
        with self._lock:
            self.injected[f"{service}:{code}"] += 1
        return _error_response(request.url, service, code, status, protocol)

    def lambda_answer(self) -> tuple[AWSResponse, dict[str, Any]] | None:
        """Lambda's refusal of an invocation for its concurrency (429), at the stated rate."""
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if not self._draw(self.lambda_):
            return None
        with self._lock:
            self.injected["lambda:TooManyRequestsException"] += 1
        code = "TooManyRequestsException"
        parsed = {
            "Error": {"Code": code, "Message": "Rate Exceeded."},
            "Reason": "ConcurrentInvocationLimitExceeded",
            "ResponseMetadata": {"HTTPStatusCode": 429, "RequestId": "weather"},
        }
        return AWSResponse("https://lambda.weather", 429, HTTPHeaders(), None), parsed

    def _draw(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def _random_choice(self, codes: tuple[str, ...]) -> str:
        with self._lock:
            return self._random.choice(codes)

    def _take_token(self) -> bool:
        if not self.dynamodb_writes:
            return True
        with self._lock:
            now = time.monotonic()
            self._tokens = min(
                self.burst, self._tokens + (now - self._filled_at) * self.dynamodb_writes
            )
            self._filled_at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def _share(part: str, value: str) -> float:
    percent = value.endswith("%")
    number = _number(part, value.removesuffix("%"), at_most=_PERCENT if percent else 1.0)
    return number / _PERCENT if percent else number


def _number(part: str, value: str, *, at_most: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise WeatherError(f"{part!r}: {value!r} is not a number") from None
    if not 0 <= number <= at_most:
        raise WeatherError(f"{part!r}: between 0 and {at_most:g}")
    return number


def _error_response(url: str, service: str, code: str, status: int, protocol: str) -> AWSResponse:
    """An HTTP answer as the service gives it, which botocore's parser reads as `code`."""
    from moto.core.botocore_stubber import MockRawResponse

    message = f"Rate exceeded (orderflow's emulated weather: {code})"
    headers = HTTPHeaders()
    if protocol == "json":
        body = json.dumps({"__type": _JSON_PREFIX.get(service, "") + code, "message": message})
        headers["Content-Type"] = "application/x-amz-json-1.0"
        if service == "sqs":  # SQS's JSON protocol names the query-compatible code here
            headers["x-amzn-query-error"] = f"{code};Sender"
    elif protocol == "rest-xml":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        headers["Content-Type"] = "application/xml"
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>weather</RequestId></ErrorResponse>"
        )
        headers["Content-Type"] = "text/xml"
    return AWSResponse(url, status, headers, MockRawResponse(body))


# -- installing it ------------------------------------------------------------------------------
_current: Weather | None = None
_installed = False


def current() -> Weather | None:
    return _current


def set_weather(weather: Weather | None) -> None:
    """Makes `weather` answer every emulated request from now on (None: calm)."""
    global _current
    _install()
    _current = weather


def _install() -> None:
    """Wraps moto's stubber (once per process): the weather answers first when there is one."""
    global _installed
    if _installed:
        return
    from moto.core.botocore_stubber import BotocoreStubber

    original: Callable[..., AWSResponse | None] = BotocoreStubber.__call__

    def __call__(  # noqa: N807 - the method it replaces
        self: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kwargs: Any
    ) -> AWSResponse | None:
        weather = _current
        if weather is not None and self.enabled:
            answer = weather.answer(event_name, request)
            if answer is not None:
                return answer
        return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = __call__  # type: ignore[method-assign]
    _installed = True
