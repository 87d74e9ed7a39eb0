"""Slack and e-mail notifications, against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from automation_hub import notifications
from automation_hub.journal import event_open, event_record
from automation_hub.models import MonitoringEvent
from monitoring.tasks import notify_event

pytestmark = pytest.mark.django_db


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict] = []
        self.got = threading.Event()


@pytest.fixture
def webhook() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            receiver.bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(receiver.status)
            self.end_headers()
            self.wfile.write(b"ok")
            receiver.got.set()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", receiver
    server.shutdown()
    server.server_close()


def warning(code: str = "delayed_instruction", severity: str = "warning") -> MonitoringEvent:
    return MonitoringEvent.objects.create(
        type="anomaly", code=code, severity=severity, source="monitor", message="job 7 waits"
    )


def test_it_posts_a_warning_to_the_slack_webhook_and_mails_it(settings, webhook):
    url, receiver = webhook
    settings.SLACK_WEBHOOK_URL = url
    settings.ALERT_EMAILS = ["td@example.com"]
    event = warning()

    assert notify_event(event.pk) == "sent"

    assert receiver.bodies == [{"text": "[WARNING] delayed_instruction: job 7 waits"}]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["td@example.com"]
    assert "delayed_instruction" in mail.outbox[0].subject
    event.refresh_from_db()
    assert event.notification == "sent" and event.notified_at is not None


def test_it_sends_once_when_the_task_runs_twice(settings, webhook):
    url, receiver = webhook
    settings.SLACK_WEBHOOK_URL = url
    event = warning()

    notify_event(event.pk)
    assert notify_event(event.pk) == "already"

    assert len(receiver.bodies) == 1


def test_it_rate_limits_notifications_of_one_code(settings, webhook):
    url, receiver = webhook
    settings.SLACK_WEBHOOK_URL = url
    settings.MONITOR_NOTIFY_INTERVAL_SECONDS = 300
    first, second, other = warning(), warning(), warning(code="error_rate_spike")

    outcomes = [notify_event(e.pk) for e in (first, second, other)]

    assert outcomes == ["sent", "rate_limited", "sent"]
    assert len(receiver.bodies) == 2
    second.refresh_from_db()
    assert second.notification == "rate_limited"


def test_it_records_a_failed_delivery_without_raising(settings, webhook):
    url, receiver = webhook
    receiver.status = 500
    settings.SLACK_WEBHOOK_URL = url
    event = warning()

    assert notify_event(event.pk) == "failed"

    event.refresh_from_db()
    assert event.notification == "failed"


def test_it_does_not_notify_info_events_or_when_unconfigured(settings, webhook):
    url, receiver = webhook
    info = warning(severity="info")

    assert notify_event(info.pk) == "not_configured"
    settings.SLACK_WEBHOOK_URL = url
    assert notify_event(info.pk) == "below_threshold"
    assert receiver.bodies == []


def test_it_queues_the_notification_after_commit_instead_of_sending_inline(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.SLACK_WEBHOOK_URL = "http://127.0.0.1:9/never-called-inline"
    queued: list[int] = []
    monkeypatch.setattr(notifications, "_enqueue", queued.append)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event, _ = event_open(
            dedup_key="delayed_instruction:1",
            type="anomaly",
            code="delayed_instruction",
            message="m",
            source="monitor",
            severity="warning",
        )
        event_record(type="operation", code="manual_retry", message="m", source="manual")
    assert queued == []  # nothing before commit
    for callback in callbacks:
        callback()

    assert queued == [event.pk]  # the info event is not queued


@pytest.fixture
def tasks_run_at_once(monkeypatch):
    """django-q2 runs each queued task at once, in this process, through its own worker code
    (`Conf.SYNC`): the notification path as a cluster would run it, without waiting for one."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


def test_it_posts_real_queue_failures_to_slack_rate_limited_and_mails_a_multiline_error(
    settings, webhook, tasks_run_at_once, key_client, django_capture_on_commit_callbacks
):
    """A job an ae machine fails for good and a breaker that opens reach the webhook through
    the journal, the commit hook and a django-q2 task; a second failure of the same code
    within the interval is held back; a proxy's multi-line error page still mails."""
    from django.urls import reverse

    from rendering.models import RenderInstruction
    from rendering.services.breaker import breaker_record_failure

    url, receiver = webhook
    settings.SLACK_WEBHOOK_URL = url
    settings.ALERT_EMAILS = ["td@example.com"]
    settings.MONITOR_NOTIFY_INTERVAL_SECONDS = 300
    settings.RENDER_BREAKER_THRESHOLD = 2
    ae = key_client("ae")
    RenderInstruction.objects.create(template_name="lower_third", max_retries=0)
    RenderInstruction.objects.create(template_name="scoreboard", max_retries=0)
    proxy_page = "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>"

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            job = ae.post(reverse("render-claim"), {"worker_id": "ae-1"}, format="json").json()
            failed = ae.post(
                reverse("render-fail", args=[job["id"]]),
                {"worker_id": "ae-1", "lease_id": job["lease_id"], "error_message": proxy_page},
                format="json",
            )
            assert failed.status_code == 200 and failed.json()["status"] == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            breaker_record_failure(backend="nexrender", error="connection refused")

    outcomes = sorted(
        MonitoringEvent.objects.filter(
            code__in=["job_failed_permanently", "circuit_opened"]
        ).values_list("code", "notification")
    )
    assert outcomes == [
        ("circuit_opened", "sent"),
        ("job_failed_permanently", "rate_limited"),
        ("job_failed_permanently", "sent"),
    ]
    texts = [body["text"] for body in receiver.bodies]
    assert len(texts) == 2
    assert texts[0].startswith("[ERROR] job_failed_permanently: Instruction")
    assert texts[1].startswith("[ERROR] circuit_opened: Render backend nexrender is failing")
    subjects = [m.subject for m in mail.outbox]
    assert len(subjects) == 2 and all("\n" not in s and "\r" not in s for s in subjects)
    assert "502 Bad Gateway" in subjects[0]
