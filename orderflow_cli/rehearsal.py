"""A rehearsed deploy: `make deploy` and `make destroy` against moto's server as an AWS account.

`Rehearsal` starts moto's server (`ThreadedMotoServer`) on a free loopback port, copies the
project's files (what git tracks or would track: a fresh checkout, with the current edits) to a
scratch directory beside its own `.venv` link, and runs the Makefile's real targets there
with AWS_ENDPOINT_URL pointing at the server and dummy credentials. botocore honours that
variable in every client, boto3's (`orderflow_cli.deploy`) and Chalice's alike. The scratch
copy keeps Chalice's record of the rehearsal (`.chalice/deployed/`) away from a real one.

The fallbacks, each for a gap of moto 5.2.5 (docs/deploy.md, "Rehearsed deploy"): its CloudFormation
lacks some resource types (`MOTO_LACKS`); it skips a resource it cannot create, but a reference
to one (the dashboard names every alarm) makes it refuse the template, so the scratch copy's
`infra/stack.yaml` leaves out those resources and whatever names them (`reduced_template`).
Everything else is the stack as deployed. And in the rehearsal's server only, moto is made to
take two things AWS takes from Chalice: an S3 filter rule named `Prefix`
(`_accept_capitalised_filter_rules`) and a Swagger 2.0 API document
(`_accept_chalices_api_document`).

Nothing here can reach AWS: the credentials are dummies, the AWS configuration files are
empty ones in the scratch directory, and an `aws` first on PATH refuses to run (the deploy
needs no AWS CLI, and this proves it).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orderflow_cli.emulator.cloudformation import load_template
from orderflow_cli.emulator.template import references

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
STAGE = "dev"

# Resource types of infra/stack.yaml that moto 5.2.5's CloudFormation cannot create, and how
# the rehearsal checks that part instead (docs/deploy.md, "Rehearsed deploy").
MOTO_LACKS: dict[str, str] = {
    "AWS::CloudWatch::Alarm": "tests/infra/test_alarms.py checks each alarm offline",
    "AWS::SecretsManager::Secret": "its name and generation are checked in infra/stack.yaml",
    "AWS::S3::BucketPolicy": "the TLS-only statement is checked in infra/stack.yaml",
    "AWS::SNS::Subscription": "test_alarms.py (created only with AlarmEmail)",
}
# Every API document Chalice sent to the rehearsal's API Gateway, as sent (Swagger 2.0).
API_DOCUMENTS: list[dict[str, Any]] = []


def reduced_template(template: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The template without the resources of `MOTO_LACKS` and whatever names one of them
    (resources and outputs), and the logical ids left out."""
    resources = dict(template["Resources"])
    dropped = {k for k, r in resources.items() if r.get("Type") in MOTO_LACKS}
    while True:
        more = {
            k for k, r in resources.items() if k not in dropped and set(references(r)) & dropped
        }
        if not more:
            break
        dropped |= more
    reduced = dict(template)
    reduced["Resources"] = {k: r for k, r in resources.items() if k not in dropped}
    reduced["Outputs"] = {
        k: o for k, o in template.get("Outputs", {}).items() if not set(references(o)) & dropped
    }
    return reduced, sorted(dropped)


def project_files(root: Path) -> list[Path]:
    """What git tracks or would track under `root` (not .venv, build/, .chalice/deployed)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [Path(name) for name in listed.split("\0") if name and (root / name).is_file()]


@dataclass
class Step:
    command: list[str]
    returncode: int
    seconds: float
    output: str


@dataclass
class Rehearsal:
    """One emulated account and a scratch copy of the project; `make(target)` runs a target."""

    scratch: Path
    endpoint: str = ""
    dropped: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    _server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer  # the emulator only when rehearsing

        _accept_capitalised_filter_rules()
        _accept_chalices_api_document()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._copy_project()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def environment(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "MAKE", "MFLAGS")) and k != "PYTHONPATH"
        }  # the scratch copy's own code, its own make
        fake_bin = self.scratch / ".rehearsal-bin"
        env.update(
            PATH=f"{fake_bin}{os.pathsep}{env.get('PATH', '')}",
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="rehearsal",
            AWS_SECRET_ACCESS_KEY="rehearsal",  # noqa: S106 - a dummy, for the emulator
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=str(self.scratch / ".aws-none"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.scratch / ".aws-none"),
            AWS_EC2_METADATA_DISABLED="true",
        )
        return env

    def make(self, *arguments: str, timeout: float = 600) -> Step:
        """`make ARGUMENTS STAGE=dev` in the scratch copy, the venv taken as built."""
        command = ["make", "-o", ".venv/.installed", *arguments, f"STAGE={STAGE}"]
        started = time.monotonic()
        done = subprocess.run(  # noqa: S603
            command,
            cwd=self.scratch,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        step = Step(command, done.returncode, time.monotonic() - started, done.stdout)
        self.steps.append(step)
        return step

    def _copy_project(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        for name in project_files(REPO):
            target = self.scratch / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target)
        venv = self.scratch / ".venv"
        if not venv.exists():
            venv.symlink_to(Path(sys.prefix))
        # Chalice's dependency bundle is cached by requirements.txt; share the project's cache.
        cache = REPO / ".chalice" / "deployments"
        cache.mkdir(exist_ok=True)
        (self.scratch / ".chalice" / "deployments").symlink_to(cache)
        fake_bin = self.scratch / ".rehearsal-bin"
        fake_bin.mkdir(exist_ok=True)
        aws = fake_bin / "aws"
        aws.write_text("#!/bin/sh\necho 'rehearsal: the deploy needs no AWS CLI' >&2\nexit 97\n")
        aws.chmod(0o755)
        template = self.scratch / "infra" / "stack.yaml"
        reduced, self.dropped = reduced_template(load_template(template))
        template.write_text(json.dumps(reduced, indent=1), encoding="utf-8")  # JSON is YAML


def _accept_capitalised_filter_rules() -> None:
    """moto 5.2.5 refuses an S3 notification filter rule named `Prefix` (asserting `prefix` or
    `suffix`: a 500); S3 accepts either case, and Chalice sends `Prefix`. Lower-cased here,
    in the rehearsal's server only (docs/deploy.md, "Rehearsed deploy")."""
    from moto.s3.responses import S3Response

    original = S3Response._notification_config_from_body
    if getattr(original, "rehearsal", False):
        return

    def lenient(self: Any) -> Any:
        if isinstance(self.body, bytes):
            self.body = re.sub(
                rb"<Name>(Prefix|Suffix)</Name>",
                lambda m: b"<Name>" + m.group(1).lower() + b"</Name>",
                self.body,
            )
        return original(self)

    lenient.rehearsal = True  # type: ignore[attr-defined]
    setattr(S3Response, "_notification_config_from_body", lenient)  # noqa: B010


def _accept_chalices_api_document() -> None:
    """moto 5.2.5's ImportRestApi and PutRestApi take OpenAPI 3 only and refuse the Swagger 2.0
    document Chalice sends (and fail on a document without the optional `info.description`).
    Here, in the rehearsal's server only, the document is kept in `API_DOCUMENTS` as sent and
    handed to moto labelled 3.0 with an empty description: moto then creates its paths,
    methods and Lambda integrations; it never creates authorizers from any document, so the
    test reads the authorizer from the document kept (docs/deploy.md, "Rehearsed deploy")."""
    from moto.apigateway.models import APIGatewayBackend

    if getattr(APIGatewayBackend.import_rest_api, "rehearsal", False):
        return
    original_import = APIGatewayBackend.import_rest_api
    original_put = APIGatewayBackend.put_rest_api

    def relabelled(document: dict[str, Any]) -> dict[str, Any]:
        if document.get("swagger") != "2.0":
            return document
        API_DOCUMENTS.append(json.loads(json.dumps(document)))
        relabelled = {k: v for k, v in document.items() if k != "swagger"}
        relabelled["openapi"] = "3.0.1"
        relabelled["info"] = {"description": "", **document.get("info", {})}
        return relabelled

    def import_rest_api(self: Any, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        return original_import(self, relabelled(api_doc), fail_on_warnings)

    def put_rest_api(
        self: Any, function_id: str, api_doc: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        return original_put(self, function_id, relabelled(api_doc), *args, **kwargs)

    import_rest_api.rehearsal = True  # type: ignore[attr-defined]
    setattr(APIGatewayBackend, "import_rest_api", import_rest_api)  # noqa: B010
    setattr(APIGatewayBackend, "put_rest_api", put_rest_api)  # noqa: B010
