"""The hub keeps the contract it publishes: schemathesis against a live daphne on this run's
database, as staff and as each producer key, over the operations that caller may use.

Checks: not_a_server_error, status_code_conformance, response_schema_conformance and
negative_data_rejection; the answer must be 0 findings. Seeded (`SEED`) and without an example
database, so a run repeats exactly and a finding reproduces with `st replay` or the curl line it
prints. Bounded by FUZZ_MAX_EXAMPLES per operation and phase (a minute or two per run mode).
Figures per caller (operations, test cases, findings) are written to
`test-artifacts/schemathesis-<mode>.json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils.crypto import get_random_string

from automation_hub.journal import event_record
from automation_hub.services import api_key_create
from hands.services import hand_ingest
from rendering.models import InstructionStatus, RenderInstruction
from rendering.services.instructions import instruction_create
from tests.conftest import redis_unreachable, require_service
from tests.dashboard.processes import BASE_DIR, HubServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SEED = 20261201
FUZZ_MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "5"))
CHECKS = (
    "not_a_server_error,status_code_conformance,response_schema_conformance,"
    "negative_data_rejection"
)
ROLES = ("feature_table", "sub", "ae", "metrics")
# Generous rates on the fuzzed server: the fuzzer is one caller sending as fast as it can; the
# throttles themselves are tested elsewhere (their 429 is documented on every operation).
SERVER_ENV = {
    "API_THROTTLE_RATES": json.dumps({r: "100000/min" for r in (*ROLES, "person")}),
    "LOGIN_FAILURES_PER_ADDRESS": "100000",
    "LOGIN_FAILURES_PER_USER": "100000",
}


@dataclass
class Figures:
    caller: str
    operations: int
    test_cases: int
    findings: int
    seconds: float


def seed_rows() -> None:
    """Something for each read to find, and rows in the states the actions start from."""
    hand = hand_ingest(
        data={
            "table_id": "FT-1",
            "hand_number": 1,
            "tournament": "WSOP-2026-ME",
            "source": "rfid",
            "hand_rank": "royal_flush",
            "pot_size": 1000,
            "winner": "A",
            "players": [{"name": "A", "seat": 1, "stack": 5, "hole_cards": ["As", "Ks"]}],
            "community_cards": ["Qs", "Js", "Ts"],
        },
        created_by="seed",
    ).hand
    for status in (InstructionStatus.FAILED, InstructionStatus.CANCELLED):
        row, _ = instruction_create(template_name="lower_third", hand=hand, created_by="seed")
        RenderInstruction.objects.filter(pk=row.pk).update(status=status)
    event_record(
        type="alert", code="seeded", message="seeded", source="monitor", severity="warning"
    )


def callers(server_url: str) -> dict[str, list[str]]:
    """Headers per caller: staff by session (a password hash per request would be the whole
    budget), each producer by its key."""
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("fuzz-staff", "s@example.com", "x-pass-42")
    client = Client()
    client.force_login(staff)
    csrf = get_random_string(32)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    found = {
        "staff": [
            "-H",
            f"Cookie: {settings.SESSION_COOKIE_NAME}={session}; csrftoken={csrf}",
            "-H",
            f"X-CSRFToken: {csrf}",
        ]
    }
    for role in ROLES:
        _, raw_key = api_key_create(role=role, name=f"fuzz-{role}")
        found[role] = ["-H", f"Authorization: Api-Key {raw_key}"]
    return found


def schema_for(schema: dict, caller: str) -> dict:
    """The operations this caller may use (`x-hub-callers`); the others are the auth matrix's."""
    kept: dict = {}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            who = operation["x-hub-callers"]
            allowed = who["people"] if caller == "staff" else caller in who["roles"]
            if allowed and not (caller != "staff" and who["public"]):
                kept.setdefault(path, {})[method] = operation
    return {**schema, "paths": kept}


def fuzz(schema_path: Path, url: str, caller: str, headers: list[str], out: Path) -> Figures:
    report = out / f"{caller}.json"
    command = [
        str(Path(sys.executable).parent / "st"),
        "--no-color",
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        str(schema_path),
        "--url",
        url,
        *headers,
        "--checks",
        CHECKS,
        "--max-examples",
        str(FUZZ_MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        # The caller's own credentials on every request: other callers are the auth matrix's.
        "--generation-with-security-parameters",
        "false",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    # Run from the report folder: schemathesis keeps a cache where it runs, not in the checkout.
    done = subprocess.run(
        command, cwd=out, capture_output=True, text=True, timeout=600, check=False
    )
    (out / f"{caller}.txt").write_text(done.stdout + done.stderr)
    if not report.exists():
        raise AssertionError(f"schemathesis did not run for {caller}:\n{done.stdout}{done.stderr}")
    data = json.loads(report.read_text())
    return Figures(
        caller=caller,
        operations=data["operations"]["tested"],
        test_cases=data["test_cases"]["generated"],
        findings=data["test_cases"]["unique_failures"] + len(data["errors"]),
        seconds=round(data["running_time"], 1),
    )


def test_it_answers_every_caller_as_its_openapi_schema_says(tmp_path):
    if settings.HUB_MODE == "production":
        require_service("Redis", redis_unreachable(settings.REDIS_URL))
    seed_rows()
    server = HubServer(**SERVER_ENV)
    server.start()
    try:
        headers = callers(server.url)
        request = urllib.request.Request(  # noqa: S310 (a loopback http URL)
            f"{server.url}/api/schema/?format=json",
            headers={"Cookie": headers["staff"][1].removeprefix("Cookie: ")},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            schema = json.load(response)
        artifacts = BASE_DIR / "test-artifacts" / f"schemathesis-{settings.HUB_MODE}"
        artifacts.mkdir(parents=True, exist_ok=True)
        figures = []
        for caller, caller_headers in headers.items():
            path = tmp_path / f"schema-{caller}.json"
            path.write_text(json.dumps(schema_for(schema, caller)))
            figures.append(fuzz(path, server.url, caller, caller_headers, artifacts))
    finally:
        server.stop()
    summary = {"mode": settings.HUB_MODE, "seed": SEED, "max_examples": FUZZ_MAX_EXAMPLES}
    summary["callers"] = [asdict(f) for f in figures]
    (artifacts.parent / f"schemathesis-{settings.HUB_MODE}.json").write_text(
        json.dumps(summary, indent=2)
    )
    print(json.dumps(summary))
    failing = {f.caller: (artifacts / f"{f.caller}.txt") for f in figures if f.findings}
    details = "\n\n".join(f"== {c}\n{p.read_text()[-6000:]}" for c, p in failing.items())
    assert not failing, f"schemathesis findings for {sorted(failing)}:\n{details}"
    assert all(f.operations > 0 and f.test_cases > 0 for f in figures), figures
