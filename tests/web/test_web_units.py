"""Tokens and body limits on their own (no servers)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ccroute.web.limits import MAX_NESTING, body_problem
from ccroute.web.tokens import (
    REVOKED_FILE,
    SECRET_FILE,
    TokenError,
    TokenKeeper,
    issue_token,
    load_or_create_secret,
    revoke,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_secret_is_created_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    assert load_or_create_secret(tmp_path) == first and len(first) == 64
    mode = stat.S_IMODE(os.stat(tmp_path / SECRET_FILE).st_mode)
    assert mode == 0o600


def test_a_token_carries_its_role_and_scope_and_nothing_else_passes(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path)
    keeper = TokenKeeper(secret, tmp_path / REVOKED_FILE)
    token, claims = issue_token(secret, "tenant_supervisor", tenant="lumo")
    assert keeper.check(token) == claims
    assert claims.sees_tenant("lumo") and not claims.sees_tenant("kide")
    head, body, sig = token.split(".")
    # Another secret, a changed claim, a changed signature: all refused.
    other, _ = issue_token(b"x" * 64, "provider_supervisor")
    forged_body = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    forged_sig = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    for bad in (other, f"{head}.{forged_body}.{sig}", f"{head}.{body}.{forged_sig}", "", "a.b"):
        with pytest.raises(TokenError):
            keeper.check(bad)


def test_expiry_and_revocation(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path)
    keeper = TokenKeeper(secret, tmp_path / REVOKED_FILE)
    short, _ = issue_token(secret, "agent", agent="a1", ttl_seconds=1)
    keeper.check(short)
    time.sleep(1.1)
    with pytest.raises(TokenError, match="expired"):
        keeper.check(short)
    token, claims = issue_token(secret, "integration", tenant="lumo")
    keeper.check(token)
    assert revoke(tmp_path, token) == claims.jti
    time.sleep(1.05)
    with pytest.raises(TokenError, match="revoked"):
        keeper.check(token)


@pytest.mark.parametrize(
    ("role", "kw"),
    [
        ("agent", {}),
        ("tenant_supervisor", {}),
        ("integration", {}),
        ("provider_supervisor", {"tenant": "lumo"}),
        ("root", {}),
    ],
)
def test_a_token_without_what_its_role_needs_is_not_issued(role: str, kw: dict[str, str]) -> None:
    with pytest.raises(TokenError):
        issue_token(b"s" * 64, role, **kw)  # type: ignore[arg-type]


def test_token_cli_issues_and_revokes(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ccroute",
            "token",
            "issue",
            "--role",
            "agent",
            "--agent",
            "a1",
            "--json",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    doc = json.loads(run.stdout)
    assert doc["role"] == "agent" and doc["agent"] == "a1" and doc["token"].startswith("ccr1.")
    TokenKeeper.for_data_dir(tmp_path).check(doc["token"])
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ccroute",
            "token",
            "revoke",
            doc["id"],
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert run.stdout.strip() == f"revoked {doc['id']}"
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "ccroute",
            "token",
            "issue",
            "--role",
            "integration",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "needs --tenant" in bad.stderr


def test_a_body_is_held_to_the_input_limits_outside_strings() -> None:
    assert body_problem(b'{"a": [1, {"b": 2}]}') is None
    assert body_problem(b'{"tags": ["[[[[[[[[[[[[[[[[[[[[[[[[[["]}') is None  # brackets in a string
    assert body_problem(b'{"t": "\\"[[[[[[[[[[[[[[[[[[[[[[[[["}') is None  # after an escaped quote
    found = body_problem(b"[" * 10_000)
    assert found is not None and found[0] == "max_depth"
    found = body_problem(b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1))
    assert found is not None and found[0] == "max_depth"
    assert body_problem(b"[" * MAX_NESTING + b"]" * MAX_NESTING) is None
    found = body_problem(b'{"id": "' + b"x" * 5_000 + b'"}')
    assert found is not None and found[0] == "max_string_bytes"
