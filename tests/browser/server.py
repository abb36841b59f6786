"""`orders serve` for the browser tests, started as users start it: the installed `orders`
command in its own process, with `--port 0 --s3-port 0 --json`, so the addresses and the demo
sender's key are the ones its `--json` line announces (nothing is guessed or fixed by the test).

`Server` also reads the API from Python (`urllib`, with the announced key) so that what the page
shows is checked against what the API answers. Stopping it checks that the server ended well:
exit 0 after Ctrl-C, no traceback, no error logged.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import REPO

ENDED = frozenset({"succeeded", "failed", "quarantined", "expired"})
START_SECONDS = 90

# Straight to 127.0.0.1, whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Server:
    api: str
    page: str
    endpoint: str
    api_key: str
    process: subprocess.Popen[str]
    stderr_path: Path
    stdout: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Answer:
        """One request to the API with the demo sender's key (or `key`)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"x-api-key": key or self.api_key, "content-type": "application/json"}
        request = urllib.request.Request(self.api + path, data, headers, method=method)
        try:
            with _OPENER.open(request, timeout=30) as response:
                return Answer(response.status, dict(response.headers), _json(response.read()))
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), _json(error.read()))

    def get(self, path: str) -> Any:
        answer = self.call("GET", path)
        assert answer.status == 200, (path, answer.status, answer.body)
        return answer.body

    def newest_batch(self) -> dict[str, Any]:
        batches = self.get("/batches?limit=1")["batches"]
        assert batches, "the API lists no batch"
        return dict(batches[0])

    def next_batch(self, *known: str, timeout: float = 60) -> str:
        """The id of the newest batch once it is none of `known` (the one the page started)."""
        deadline = time.monotonic() + timeout
        while (newest := self.newest_batch()["batch_id"]) in known:
            assert time.monotonic() < deadline, "the page started no new batch"
            time.sleep(0.2)
        return str(newest)

    def ended(self, batch_id: str, timeout: float = 240) -> dict[str, Any]:
        """GET /batches/{batch_id} once the batch has ended."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.get(f"/batches/{batch_id}")
            if status.get("status") in ENDED:
                return dict(status)
            assert time.monotonic() < deadline, f"batch {batch_id} did not end: {status}"
            time.sleep(0.25)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def start(logs: Path, *arguments: str) -> Server:
    """`orders serve --port 0 --s3-port 0 --json` until its JSON line is read."""
    orders = Path(sys.executable).with_name("orders")  # the venv's installed command
    command = [str(orders), "serve", "--port", "0", "--s3-port", "0", "--json", *arguments]
    env = {**os.environ, "ORDERFLOW_LOG_LEVEL": "ERROR"}
    stderr_path = logs / "serve.stderr"
    with stderr_path.open("w") as stderr:  # a file, not a pipe nobody reads: never fills up
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    lines: queue.Queue[str | None] = queue.Queue()
    stdout: list[str] = []

    def read() -> None:  # drains stdout for the server's whole life
        assert process.stdout is not None
        for line in process.stdout:
            stdout.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        first = lines.get(timeout=START_SECONDS)
    except queue.Empty:
        first = None
    if first is None:
        process.kill()
        raise AssertionError("orders serve announced nothing:\n" + stderr_path.read_text())
    shown = json.loads(first)
    server = Server(shown["api"], shown["page"], shown["endpoint"], shown["api_key"], process,
                    stderr_path, stdout)  # fmt: skip
    assert server.page.startswith(server.api), shown
    return server


def stop(server: Server) -> None:
    """Ctrl-C, as a user stops it; then it must have ended cleanly."""
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise
    err = server.stderr_path.read_text()
    assert server.process.returncode == 0, "".join(server.stdout) + err
    assert "stopping" in "".join(server.stdout)
    # a client that hung up (a tab closed while the page polled) is not printed by the server
    # (orderflow_cli/emulator/server.py): any traceback is a fault
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if '"level": "ERROR"' in line]
    assert not errors, "the server logged errors:\n" + "\n".join(errors)
