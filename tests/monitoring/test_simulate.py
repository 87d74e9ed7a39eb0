from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from automation_hub.models import MonitoringEvent
from hands.models import Hand
from rendering.models import RenderInstruction

pytestmark = pytest.mark.django_db


def run(*args: str) -> dict:
    out = StringIO()
    call_command("simulate", *args, stdout=out)
    return json.loads(out.getvalue())


def test_it_plays_a_clean_hour_through_the_api_without_alerts(settings):
    settings.MONITOR_ORPHAN_GRACE_SECONDS = 120

    summary = run("--minutes=70", "--hands-per-minute=1", "--fail-rate=0", "--seed=3")

    assert summary["simulation"]["hands"] == 70
    assert Hand.objects.count() == 70
    assert RenderInstruction.objects.filter(status="completed").count() >= 70
    assert not MonitoringEvent.objects.filter(type="anomaly").exists()


def test_it_injects_a_delayed_job_that_the_detector_finds():
    summary = run("--minutes=70", "--hands-per-minute=1", "--inject=delayed", "--seed=1")

    assert summary["simulation"]["injected"]["delayed"] == 3
    assert summary["detectors"]["opened"]["delayed_instruction"] >= 3


def test_it_refuses_bad_options():
    with pytest.raises(CommandError, match="fail-rate"):
        call_command("simulate", "--fail-rate=2")
