"""orderflow's Lambda handlers: each turns its event into plain values and calls chalicelib."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from chalice.app import (
    AuthRequest,
    AuthResponse,
    Chalice,
    CloudWatchEvent,
    Request,
    Response,
    S3Event,
    SQSEvent,
)

from chalicelib import aws, callbacks, log, metrics, wiring
from chalicelib.api import auth, media, promise, service
from chalicelib.api.errors import INTERNAL_ERROR_BODY, ApiError, NotFound
from chalicelib.contracts import BatchState, ChunkOutcome, Completion, DeadLetterMessage, Source
from chalicelib.pipeline import events as completion
from chalicelib.pipeline.finish import record_batch
from chalicelib.pipeline.prepare import prepare_file
from chalicelib.pipeline.process import ChunkTask, process_chunk
from chalicelib.pipeline.trigger import ingest_object, source_for
from chalicelib.settings import Settings, get_settings
from chalicelib.web import pages

app = Chalice(app_name="orderflow", configure_logs=False)  # chalicelib.log configures JSON logs

# Decorators need these names at import time. `make deploy` gives the bucket's real name in
# ORDERFLOW_DEPLOY_BUCKET (config.json's BUCKET_NAME holds {account}/{region}, filled at run time).
_BUCKET = os.environ.get("ORDERFLOW_DEPLOY_BUCKET") or os.environ.get("BUCKET_NAME", "orderflow")
_INCOMING_PREFIX = os.environ.get(
    "INCOMING_PREFIX", Settings.model_fields["incoming_prefix"].default
)  # the settings' default
_DLQ_NAME = os.environ.get("DLQ_URL", "/orderflow-dev-dlq").rsplit("/", 1)[-1]


_log = log.get_logger("api")


def _setup() -> None:
    settings = get_settings()
    log.configure(settings.stage, settings.log_level)
    metrics.configure(settings.stage)


# -- HTTP API: every route but /health needs a sender's API key (the authorizer resolves it) --


@app.authorizer(ttl_seconds=auth.CACHE_SECONDS, header=auth.AUTH_HEADER)
def sender_key(auth_request: AuthRequest) -> AuthResponse:
    """The sender whose API key or upload link this is; refused: unknown, rotated-out or
    disabled keys, and links that are forged, expired or revoked."""
    _setup()
    settings = get_settings()
    response = auth.authorize(
        auth_request.token, wiring.sender_registry(settings), wiring.link_keys(settings)
    )
    metrics.api_key_checked(allowed=bool(response.routes))
    return response


@app.middleware("http")
def json_bodies_only(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """A body of another media type than JSON, or of none named, is the API's 415."""
    try:
        media.check_body_type(request.headers.get("content-type"), _raw_body(request))
    except ApiError as error:
        return Response(body=error.body(), status_code=error.STATUS)
    return get_response(request)


def _json_errors(view: Callable[..., Response]) -> Callable[..., Response]:
    """Domain errors become their HTTP error here, and only here; anything else is a 500
    with a stable body (and the exception in the log, never the request)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        _setup()
        try:
            return view(*args, **kwargs)
        except ApiError as error:
            return Response(body=error.body(), status_code=error.STATUS)
        except Exception:  # noqa: BLE001 - the one place that turns surprises into a 500
            _log.exception("request failed", extra={"route": view.__name__})
            return Response(body=INTERNAL_ERROR_BODY, status_code=500)

    return wrapper


def _request() -> Request:
    request = app.current_request
    assert request is not None  # set by Chalice for every HTTP request
    return request


def _raw_body(request: Request) -> bytes:
    body = request.raw_body or b""
    return body.encode() if isinstance(body, str) else bytes(body)


def _sender() -> str:
    """Who is calling: the sender the authorizer resolved (never one the request names). Every
    read and write of a route is scoped to it."""
    return auth.sender_of(_request().context)


def _limits() -> dict[str, int]:
    """The caller's own limits, where its sender has them (the authorizer's context)."""
    return auth.limits_of(_request().context)


@app.route("/health", methods=["GET"])
@_json_errors
def health() -> Response:
    return Response(body={"status": "ok"}, status_code=200)


# -- the partners' page: no key to load it; it calls the routes below with the partner's --


@app.route("/", methods=["GET"])
@_json_errors
def page() -> Response:
    return _page(pages.index(wiring.upload_origin(get_settings())))


@app.route("/static/{name}", methods=["GET"])
@_json_errors
def page_file(name: str) -> Response:
    found = pages.static_file(name, wiring.upload_origin(get_settings()))
    if found is None:
        raise NotFound(f"the page has no file {name!r}")
    return _page(found)


def _page(found: pages.Page) -> Response:
    return Response(body=found.body, status_code=200, headers=found.headers)


@app.route("/orders", methods=["POST"], authorizer=sender_key)
@_json_errors
def post_orders() -> Response:
    request = _request()
    query: dict[str, str] = dict(request.query_params or {})
    accepted = service.accept_orders(
        _raw_body(request),
        idempotency_key=request.headers.get("idempotency-key"),
        callback_url=query.get("callback_url"),
        sender=_sender(),
        deps=wiring.api_deps(get_settings()),
        max_orders_per_request=_limits().get("max_orders_per_request"),
        mapping=query.get("mapping"),
        dry_run=query.get("dry_run"),
        corrects=query.get("corrects"),
    )
    replayed = accepted.pop("replayed")  # a header: every retry's body is the first one's
    if accepted.pop("first"):  # each batch counted once, however many retries carry it
        metrics.orders_submitted(accepted["orders"], sender=_sender())
    headers = {"Location": accepted["status_url"], "Idempotent-Replayed": str(replayed).lower()}
    return Response(body=accepted, status_code=202, headers=headers)


@app.route("/uploads", methods=["POST"], authorizer=sender_key)
@_json_errors
def post_uploads() -> Response:
    wanted = service.UploadRequest.from_body(_raw_body(_request()))
    presigned = service.presign_upload(
        filename=wanted.filename,
        content_type=wanted.content_type,
        callback_url=wanted.callback_url,
        sender=_sender(),
        deps=wiring.api_deps(get_settings()),
        max_upload_bytes=_limits().get("max_upload_bytes"),
        mapping=wanted.mapping,
        dry_run=wanted.dry_run,
        corrects=wanted.corrects,
    )
    metrics.upload_granted(sender=_sender())
    return Response(body=presigned, status_code=201)


@app.route("/batches/{batch_id}", methods=["GET"], authorizer=sender_key)
@_json_errors
def get_batch(batch_id: str) -> Response:
    status = service.batch_status(batch_id, sender=_sender(), deps=wiring.api_deps(get_settings()))
    return Response(body=status, status_code=200)


@app.route("/orders/{order_id}", methods=["GET"], authorizer=sender_key)
@_json_errors
def get_order(order_id: str) -> Response:
    order = service.get_order(order_id, sender=_sender(), deps=wiring.api_deps(get_settings()))
    return Response(body=order, status_code=200)


@app.route("/reviews", methods=["GET"], authorizer=sender_key)
@_json_errors
def get_reviews() -> Response:
    params: dict[str, str] = dict(_request().query_params or {})
    reviews = service.list_reviews(
        params.get("batch_id"),
        params.get("reason"),
        sender=_sender(),
        limit=params.get("limit"),
        cursor=params.get("cursor"),
        deps=wiring.api_deps(get_settings()),
    )
    return Response(body=reviews, status_code=200)


@app.route("/batches", methods=["GET"], authorizer=sender_key)
@_json_errors
def get_batches() -> Response:
    deps = wiring.api_deps(get_settings())
    page = service.list_batches(sender=_sender(), deps=deps, **_query("limit", "cursor"))
    return Response(body=page, status_code=200)


@app.route("/batches/{batch_id}/rejections", methods=["GET"], authorizer=sender_key)
@_json_errors
def get_rejections(batch_id: str) -> Response:
    deps = wiring.api_deps(get_settings())
    query = _query("reason", "limit", "cursor")
    page = service.list_rejections(batch_id, sender=_sender(), deps=deps, **query)
    return Response(body=page, status_code=200)


@app.route("/profile", methods=["GET", "PUT", "DELETE"], authorizer=sender_key)
@_json_errors
def profile() -> Response:
    request = _request()
    deps = wiring.api_deps(get_settings())
    answer = service.profile(request.method, _raw_body(request), sender=_sender(), deps=deps)
    return Response(body=answer, status_code=200)


def _query(*names: str) -> dict[str, str | None]:
    """The named query parameters of the request (None where absent)."""
    given: dict[str, str] = dict(_request().query_params or {})
    return {name: given.get(name) for name in names}


# -- the pipeline -------------------------------------------------------------------------------


@app.on_s3_event(bucket=_BUCKET, prefix=_INCOMING_PREFIX, events=["s3:ObjectCreated:*"])
def on_file_uploaded(event: S3Event) -> None:
    """An order file arrived: start its ingest execution (a duplicate event is a no-op)."""
    _setup()
    record = event.to_dict()["Records"][0]["s3"]["object"]
    settings = get_settings()
    started = ingest_object(
        aws.sfn(),
        aws.s3(),
        settings.state_machine_arn,
        settings.quarantine_prefix,
        source_for(
            event.bucket,
            event.key,
            record.get("versionId"),
            record.get("eTag"),
            incoming_prefix=settings.incoming_prefix,
            senders=wiring.sender_registry(settings),
            batches=wiring.batch_records(settings),
        ),
    )
    metrics.file_announced(started)


@app.lambda_function(name="PrepareFile")
def prepare_file_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _setup()
    settings = get_settings()
    source = Source.from_dict(event)
    started = time.monotonic()
    with wiring.metered() as requests:
        prepared = prepare_file(
            source,
            s3=aws.s3(),
            chunks=wiring.chunk_store(settings, source.sender, source.batch_id),
            batches=wiring.batch_records(settings),
            senders=wiring.sender_registry(settings),
            settings=settings,
            requests=requests,
            context=context,
        )
    seconds = time.monotonic() - started
    metrics.file_prepared(prepared.status, seconds=seconds, batch_id=source.batch_id)
    return prepared.to_dict()


@app.lambda_function(name="ValidateOrder")
def validate_order_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _setup()
    return _process(ChunkTask.from_dict(event), context).brief()


@app.lambda_function(name="RecordBatch")
def record_batch_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _setup()
    settings = get_settings()
    state = BatchState.from_dict(event)
    with wiring.metered() as requests:
        recorded = record_batch(
            state,
            chunks=wiring.chunk_store(settings, state.sender, state.batch_id),
            batches=wiring.batch_records(settings),
            reprocess=_process,
            publish=wiring.completion_events(settings).publish,
            requests=requests,
            context=context,
        )
    return recorded.to_dict()


@app.on_cw_event(completion.PATTERN, name="DeliverCallback")
def deliver_callback_handler(event: CloudWatchEvent) -> None:
    """A batch ended: deliver its completion to the callback URL it was submitted with."""
    _setup()
    settings = get_settings()
    callbacks.notify(
        Completion.from_dict(event.detail),
        batches=wiring.batch_records(settings),
        secrets=lambda: wiring.callback_secrets(settings.callback_secret_parameter),
        policy=promise.callback_policy_of(settings),
        attempts=settings.callback_attempts,
        base_seconds=settings.callback_retry_base_seconds,
        deadline_seconds=settings.callback_deadline_seconds,
        sender_webhook=wiring.sender_registry(settings).webhook,
    )


@app.on_sqs_message(queue=_DLQ_NAME, batch_size=10, name="ReviewDeadLetters")
def review_dead_letters(event: SQSEvent) -> dict[str, list[dict[str, str]]]:
    """Retry, repair or archive each order of each dead-lettered rejection group; report the
    messages to deliver again (partial batch response: one poison message, or one group with a
    transient store failure, does not send its neighbours back)."""
    _setup()
    settings = get_settings()
    reviewer = wiring.reviewer(settings)
    failures = []
    for record in event:
        fields = record.to_dict()
        message_id = fields.get("messageId", "")
        deliveries = int((fields.get("attributes") or {}).get("ApproximateReceiveCount", 1))
        try:
            reviewer.review(
                DeadLetterMessage.from_json(record.body),
                last_delivery=deliveries >= settings.review_last_delivery,
            )
        except Exception as error:  # noqa: BLE001 - reported per message, retried by SQS
            _log.warning(
                "review failed; the message will be delivered again",
                extra={"message_id": message_id, "error": type(error).__name__},
            )
            failures.append({"itemIdentifier": message_id})
    metrics.review_messages(len(event.to_dict().get("Records", [])), len(failures))
    return {"batchItemFailures": failures}


def _process(task: ChunkTask, context: Any = None) -> ChunkOutcome:
    """Processes one chunk in a meter of its own (RecordBatch, reprocessing a chunk, counts
    the chunk's requests from its outcome, not in its own)."""
    settings = get_settings()
    with wiring.metered() as requests:
        return process_chunk(
            task,
            chunks=wiring.chunk_store(settings, task.sender, task.batch_id),
            store=wiring.order_store(settings),
            dlq=wiring.dead_letter_queue(settings),
            batches=wiring.batch_records(settings),
            requests=requests,
            context=context,
        )
