"""`pip install .` gives an orderflow that starts: pyproject.toml declares every third-party
module the product and the `orders` command import, the Lambda bundle's requirements hold the
functions' own, and the wheel carries the packages, the state machine's definition and the
`orders` entry point.

The real install into a fresh virtual environment (about 45 s, most of it downloads) runs in
CI (`.ci/run`): `pip install .`, then `orders --help`. These tests check the same promises in
about two seconds, from the project's files and one wheel built without its dependencies.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PRODUCT = [REPO / "app.py", *sorted((REPO / "chalicelib").rglob("*.py"))]
CLI = sorted((REPO / "orderflow_cli").rglob("*.py"))
FIRST_PARTY = {"app", "chalicelib", "orderflow_cli"}
# What the Lambda runtime provides (boto3 and its botocore and s3transfer) and what Chalice adds
# to every bundle.
PROVIDED_IN_LAMBDA = {"boto3", "botocore", "s3transfer", "chalice"}


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _imports(paths: list[Path]) -> Iterator[tuple[str, Path]]:
    """Each top-level module imported at run time (not under `if TYPE_CHECKING:`)."""
    for path in paths:
        tree = ast.parse(path.read_text())
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for statement in block.body
            for node in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name.split(".")[0], path
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.module.split(".")[0], path


def _third_party(paths: list[Path]) -> dict[str, list[str]]:
    """Third-party module -> the files that import it."""
    found: dict[str, list[str]] = {}
    for module, path in _imports(paths):
        if module not in sys.stdlib_module_names and module not in FIRST_PARTY:
            found.setdefault(module, []).append(str(path.relative_to(REPO)))
    return found


def _distributions(module: str) -> set[str]:
    return {_name(dist) for dist in packages_distributions().get(module, [])}


def test_every_module_the_product_and_the_cli_import_is_a_declared_dependency() -> None:
    declared = {_name(requirement) for requirement in PYPROJECT["project"]["dependencies"]}
    modules = _third_party(PRODUCT + CLI)
    assert {"pydantic", "openpyxl", "moto", "click", "yaml"} <= set(modules)  # the scan sees them
    undeclared = {
        module: files for module, files in modules.items() if not _distributions(module) & declared
    }
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"


def test_the_declared_dependencies_are_the_ones_imported() -> None:
    # a dependency nothing imports is dead weight in every install (extras are the [dev] list)
    imported = {dist for module in _third_party(PRODUCT + CLI) for dist in _distributions(module)}
    declared = {_name(requirement) for requirement in PYPROJECT["project"]["dependencies"]}
    assert declared <= imported, sorted(declared - imported)


def test_the_lambda_bundle_requirements_hold_what_the_functions_import() -> None:
    pinned = {
        _name(line)
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    }
    modules = _third_party(PRODUCT)
    assert "moto" not in modules, "the product imports the emulator"
    missing = {
        module: files
        for module, files in modules.items()
        if module not in PROVIDED_IN_LAMBDA and not _distributions(module) & pinned
    }
    assert not missing, f"not in requirements.txt (the Lambda bundle): {missing}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The project built as a wheel, without its dependencies, from a copy (the build writes
    build/ and *.egg-info beside its sources)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "app.py"):
        (source / name).write_bytes((REPO / name).read_bytes())
    for package in ("chalicelib", "orderflow_cli"):
        for path in (REPO / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                target = source / path.relative_to(REPO)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    command += ["--no-build-isolation", "--no-index", "-w", str(out), str(source)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    (built,) = out.glob("orderflow-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_carries_the_packages_and_the_definition(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "chalicelib/pipeline/ingest.asl.json" in names
    assert "app.py" in names
    sources = {str(path.relative_to(REPO)) for path in PRODUCT + CLI}
    assert sources <= names, sorted(sources - names)


def test_the_wheel_declares_the_dependencies_and_the_orders_command(
    wheel: zipfile.ZipFile,
) -> None:
    (metadata,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    requires = {
        _name(line.split(":", 1)[1])
        for line in wheel.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    assert requires == {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "orders = orderflow_cli.main:main" in wheel.read(entry_points).decode()
