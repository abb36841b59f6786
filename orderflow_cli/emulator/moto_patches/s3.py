"""moto's S3 (5.2.x) patched to behave as S3 does. Nothing the product sends or reads changes.

1. S3 event records without `versionId`. On a versioned bucket AWS puts the object's version id
in each event record; moto (`moto/s3/notifications.py`, `_get_s3_event`) does not, so every
upload of the same bytes to the same key would look like a repeated event of one object.

2. S3 conditional puts are not atomic. Upstream (moto/s3/responses.py), `S3Response.put_object`
looks the key up for `If-None-Match: *` (or `If-Match`) and stores the object afterwards, with
no lock: two requests at once (two retries of one POST /orders, which writes its document with
`IfNoneMatch="*"`) both find the key free and write two versions. On AWS exactly one succeeds
and the other gets 412 PreconditionFailed. The patch makes each PUT of an object, its condition
included, one step under one lock.

3. S3 requests at once fail in moto's URL lookup. Upstream (moto/s3/models.py),
`S3Backend._url_module` reloads `moto.s3.urls` on every S3 request, to pick up its environment
variables. `importlib.reload` checks that the module is in `sys.modules` before it takes the
import lock, and a reload running in another thread takes the module out of `sys.modules` and
puts it back: a request that checks in between fails with "ImportError: module moto.s3.urls not
in sys.modules" (about 1 in 3,000 lookups from six threads; CI met it in a race test). The patch
runs the same reload under one lock.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.s3 import notifications

from orderflow_cli.emulator.moto_patches.core import atomically

_versions_applied = False


def patch_s3_event_version_ids() -> None:
    """Adds `versionId` to S3 event records for versioned objects, as AWS does (idempotent)."""
    global _versions_applied
    if _versions_applied:
        return
    original = notifications._get_s3_event

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> Any:
        event = original(event_name, bucket, key, notification_id)
        version = getattr(key, "version_id", None)
        if version and version != "null":
            for record in event["Records"]:
                record["s3"]["object"]["versionId"] = version
        return event

    notifications._get_s3_event = get_s3_event
    _versions_applied = True


_s3_puts_applied = False
_s3_put_lock = threading.RLock()


def patch_s3_atomic_puts() -> None:
    """Makes each PUT of an S3 object, its If-None-Match or If-Match included, one atomic step
    (idempotent)."""
    global _s3_puts_applied
    if _s3_puts_applied:
        return
    from moto.s3.responses import S3Response

    setattr(S3Response, "put_object", atomically(S3Response.put_object, _s3_put_lock))  # noqa: B010
    _s3_puts_applied = True


_s3_urls_applied = False
_s3_urls_lock = threading.Lock()


def patch_s3_url_reload() -> None:
    """Serialises moto's reload of `moto.s3.urls` on each S3 request (idempotent)."""
    global _s3_urls_applied
    if _s3_urls_applied:
        return
    from moto.s3.models import S3Backend

    reloading = S3Backend._url_module.fget  # type: ignore[attr-defined]

    def url_module(backend: Any) -> Any:
        with _s3_urls_lock:
            return reloading(backend)

    setattr(S3Backend, "_url_module", property(url_module))  # noqa: B010
    _s3_urls_applied = True
