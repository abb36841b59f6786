"""The local server, started once for the API tests, as a separate process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from orderflow_cli.emulator.server import free_port
from tests.conftest import REPO

API_KEY = "test-key-not-secret"
MAX_ORDERS = 50


@dataclass
class Served:
    url: str
    s3_url: str
    process: subprocess.Popen[str]
    stderr_path: Path

    def call(self, method: str, path: str, key: str | None = API_KEY, **kwargs: Any) -> Any:
        headers = {"x-api-key": key} if key else {}
        headers.update(kwargs.pop("headers", {}))
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def wait_for(self, batch_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.call("GET", f"/batches/{batch_id}").json()
            if status.get("status") in {"succeeded", "failed", "quarantined"}:
                return dict(status)
            time.sleep(0.2)
        raise AssertionError(f"batch {batch_id} did not finish: {status}")

    def client(self, service: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.s3_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    port, s3_port = free_port(), free_port()
    env = {**os.environ, "ORDERFLOW_LOG_LEVEL": "ERROR", "API_MAX_ORDERS": str(MAX_ORDERS)}
    command = [sys.executable, "-m", "orderflow_cli.main", "serve", "--port", str(port)]
    command += ["--s3-port", str(s3_port), "--api-key", API_KEY]
    # Files, not pipes: a pipe nobody reads until the end would fill and block the server.
    logs = tmp_path_factory.mktemp("server")
    log_path, stderr_path = logs / "stdout.log", logs / "stderr.log"
    log_file, stderr_file = log_path.open("w"), stderr_path.open("w")
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log_file, stderr=stderr_file, text=True
    )
    served = Served(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{s3_port}", process, stderr_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(served.url + "/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert process.poll() is None, log_path.read_text() + stderr_path.read_text()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)
    yield served
    process.send_signal(signal.SIGINT)  # Ctrl-C
    process.wait(timeout=30)
    log_file.close()
    stderr_file.close()
    out, err = log_path.read_text(), stderr_path.read_text()
    assert process.returncode == 0, out + err
    assert "stopping" in out
    assert "Traceback" not in err, err  # no request ended in an exception of the server's
    errors = [line for line in err.splitlines() if '"level": "ERROR"' in line]
    assert not errors, "the server logged errors:\n" + "\n".join(errors)
