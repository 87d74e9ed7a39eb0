from __future__ import annotations

import pytest

from automation_hub import live
from tests.monitoring.helpers import LiveEvents


@pytest.fixture
def live_events(monkeypatch) -> LiveEvents:
    """Every live event published after commit (publish_on_commit calls live.publish)."""
    captured = LiveEvents()
    monkeypatch.setattr(live, "publish", captured)
    return captured


@pytest.fixture
def dispatched(monkeypatch) -> list[int]:
    """Ids the workers were woken for (the render queue's instruction_dispatch)."""
    from rendering.services import dispatch

    woken: list[int] = []
    monkeypatch.setattr(
        dispatch, "instruction_dispatch", lambda *, instruction_id: woken.append(instruction_id)
    )
    return woken


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # person_client authenticates with HTTP Basic on every request; PBKDF2's deliberate cost
    # would dominate these tests without testing anything of ours.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def dispatched_by_monitor(monkeypatch) -> list[int]:
    from rendering.services import dispatch

    woken: list[int] = []
    monkeypatch.setattr(
        dispatch, "instruction_dispatch", lambda *, instruction_id: woken.append(instruction_id)
    )
    return woken
