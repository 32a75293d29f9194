"""Every boto3 client of the product sets its retry mode and ``total_max_attempts`` explicitly.

botocore's default mode is still ``legacy``. Statically: clients are made only by
rollout_core.aws.clients.client() (or with its RETRY_CONFIG), and every botocore Config that
sets retries sets both keys. At run time, test_iam_coverage.py checks the settings of the client
behind every call the functions made during the test session.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from rollout_core.aws import clients

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [*sorted((ROOT / "layers").rglob("*.py")), *sorted((ROOT / "functions").rglob("*.py"))]
FACTORY = ROOT / "layers" / "rollout_core" / "rollout_core" / "aws" / "clients.py"
# Constructors that make a client inside a library: hand over the retry config, or a client
# of the factory (whose settings test_iam_coverage.py checks on every call at run time).
LIBRARY_CLIENTS = {"DynamoDBPersistenceLayer": ("boto_config", "boto3_client")}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _name(node.func) + "()"
    return "?"


def problems_in(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = _name(node.func)
        keywords = {k.arg for k in node.keywords}
        where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{node.lineno}"
        makes_client = callee.endswith((".client", ".resource")) and (callee.startswith("boto3") or "Session" in callee)
        if makes_client and path != FACTORY and "config" not in keywords:
            found.append(f"{where}: {callee}(...) without the retry config (use rollout_core.aws.clients.client)")
        last = callee.rsplit(".", 1)[-1]
        if last in LIBRARY_CLIENTS and not keywords & set(LIBRARY_CLIENTS[last]):
            found.append(f"{where}: {last}(...) without {' or '.join(LIBRARY_CLIENTS[last])}")
        if last == "Config":
            for kw in node.keywords:
                if kw.arg == "retries" and isinstance(kw.value, ast.Dict):
                    keys = {str(k.value) for k in kw.value.keys if isinstance(k, ast.Constant)}
                    if not {"mode", "total_max_attempts"} <= keys:
                        found.append(f"{where}: retries={sorted(keys)} lacks mode or total_max_attempts")
    return found


def test_the_shared_retry_config_is_explicit():
    retries: dict[str, Any] = getattr(clients.RETRY_CONFIG, "retries", None) or {}
    assert retries.get("mode") == "standard"
    assert isinstance(retries.get("total_max_attempts"), int) and retries["total_max_attempts"] >= 2


def test_factory_clients_carry_it(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = clients.client("sagemaker")
    assert client.meta.config.retries == getattr(clients.RETRY_CONFIG, "retries", None)


def test_the_real_time_client_makes_one_attempt_within_api_gateways_wait(monkeypatch):
    """InvokeEndpoint is not idempotent: one attempt, and a read timeout under API Gateway's 29 s
    (tests/integration/test_front_door_limits.py drives a read timeout through it)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = clients.realtime_runtime_client()
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert client.meta.config.connect_timeout + client.meta.config.read_timeout < clients.API_GATEWAY_TIMEOUT_SECONDS


def test_no_product_code_makes_a_client_without_it():
    assert PRODUCT
    found = [p for path in PRODUCT for p in problems_in(path)]
    assert not found, "\n".join(found)


def test_the_check_sees_a_bare_client(tmp_path: Path):
    bad = tmp_path / "bare_client.py"
    bad.write_text(
        "import boto3\nfrom botocore.config import Config\n"
        "c = boto3.client('s3')\nd = boto3.session.Session().client('ssm')\n"
        "e = Config(retries={'max_attempts': 3})\n"
        "f = DynamoDBPersistenceLayer(table_name='t')\n"
    )
    assert len(problems_in(bad)) == 4
