"""The dashboard in a real browser: what an engineer sees while the pipeline runs.

Every change comes from another process (the API served by daphne, or a Python process standing
in for a render worker), and the pages must show it without a reload.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from playwright.sync_api import expect

from automation_hub.live import live_last_seq
from automation_hub.services import api_key_create
from rendering.models import InstructionStatus, RenderInstruction
from tests.dashboard.browser import ARTIFACTS, screenshot
from tests.dashboard.factories import instruction
from tests.dashboard.processes import run_python_parallel
from tests.rendering.cluster import cluster_env, running_cluster

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Status changes as a render worker makes them, one transaction each, over its own rows.
BURST_IN_WORKER = """
from django.db import transaction
from django.utils import timezone
from automation_hub.live import publish_on_commit
from rendering.models import RenderInstruction
from rendering.services.payloads import instruction_live_data
ids, changes, offset = {ids}, {changes}, {offset}
statuses = ["processing", "failed", "pending", "processing", "completed"]
for n in range(offset, offset + changes):
    pk = ids[n % len(ids)]
    with transaction.atomic():
        RenderInstruction.objects.filter(pk=pk).update(
            status=statuses[(n // len(ids)) % len(statuses)], priority=1 + (n * 7) % 10,
            retry_count=(n // 3) % 4, updated_at=timezone.now())
        publish_on_commit("instruction_updated",
                          instruction_live_data(RenderInstruction.objects.get(pk=pk)))
"""
BURST_WORKERS = 4
BURST_CHANGES = 2000


def test_it_shows_a_premium_hand_and_its_render_live(hub, page):
    instructions_page = page.context.new_page()
    instructions_page.goto(f"{hub.url}/instructions/")
    instructions_page.wait_for_selector("#live-indicator.live-live")
    page.evaluate("window.__notReloaded = true")
    _, key = api_key_create(role="feature_table", name="table-1")

    response = httpx.post(
        f"{hub.url}/api/hands",
        headers={"Authorization": f"Api-Key {key}"},
        json={
            "table_id": "FT-1",
            "hand_number": 42,
            "source": "rfid",
            "hand_rank": "royal_flush",
            "pot_size": 250000,
            "winner": "Phil I.",
            "community_cards": ["As", "Ks", "Qs", "Js", "Ts"],
        },
        timeout=10,
    )
    posted = time.monotonic()
    assert response.status_code == 201, response.text
    hand_id = response.json()["id"]
    instruction_id = RenderInstruction.objects.get(hand_id=hand_id).pk

    # Within a second of the POST both pages show its instruction, the overview also the hand.
    hand_row = page.locator(f'#recent-hands tr[data-hand-id="{hand_id}"]')
    expect(hand_row).to_be_visible(timeout=1000)
    selector = f'tr[data-instruction-id="{instruction_id}"]'
    row_on_overview = page.locator(f"#recent-instructions {selector}")
    expect(row_on_overview).to_be_visible(timeout=1000)
    row_on_list = instructions_page.locator(f"#instruction-list {selector}")
    expect(row_on_list).to_be_visible(timeout=1000)
    assert time.monotonic() - posted < 1.0
    expect(row_on_list.locator('[data-field="status"]')).to_have_text("pending")
    expect(page.locator("#tile-pending")).to_have_text("1", timeout=3000)

    detail = page.context.new_page()
    detail.goto(f"{hub.url}/instructions/{instruction_id}/")
    detail.wait_for_selector("#live-indicator.live-live")
    # Now a real render worker (django-q2 cluster, preview renderer) takes the queued job.
    env = cluster_env(workers=1, backend="preview", output_root=Path(settings.OUTPUT_ROOT))
    with running_cluster(env, log=ARTIFACTS / "qcluster.log"):
        expect(row_on_list.locator('[data-field="status"]')).to_have_text(
            "completed", timeout=30000
        )
    expect(row_on_overview.locator('[data-field="status"]')).to_have_text("completed")
    expect(detail.locator("#instruction-status")).to_have_text("completed", timeout=3000)
    thumb = detail.locator("#instruction-output img.thumb")
    expect(thumb).to_be_visible(timeout=3000)
    detail.wait_for_function(
        "document.querySelector('#instruction-output img.thumb').naturalWidth > 0"
    )
    expect(page.locator("#tile-throughput")).to_have_text("1", timeout=3000)
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "overview-live")
    screenshot(detail, "instruction-completed")


def test_it_turns_anonymous_visitors_away_from_pages_and_the_socket(browser, hub):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.url}/instructions/")
    assert page.url.startswith(f"{hub.url}/login/")
    code = page.evaluate(
        """() => new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/ws/dashboard`);
            ws.onclose = (e) => resolve(e.code);
        })"""
    )
    assert code == 4401
    assert page.request.get(f"{hub.url}/overview/summary", max_redirects=0).status == 302
    screenshot(page, "login")
    context.close()


def test_it_ends_a_burst_of_2000_changes_showing_the_database_state(hub, page):
    ids = [instruction(template_name=f"burst_{n:02d}").pk for n in range(20)]
    page.goto(f"{hub.url}/instructions/")
    page.wait_for_selector("#live-indicator.live-live")
    assert page.locator("#instruction-list tbody tr").count() == 20

    # Four workers, 500 changes each, each on its own five rows: 2,000 events in a burst.
    share = BURST_CHANGES // BURST_WORKERS
    step = len(ids) // BURST_WORKERS
    run_python_parallel(
        [
            BURST_IN_WORKER.format(ids=ids[w * step : (w + 1) * step], changes=share, offset=w)
            for w in range(BURST_WORKERS)
        ]
    )
    final_seq = live_last_seq()
    page.wait_for_function(f"window.hubLive.lastSeq >= {final_seq}", timeout=60000)
    assert page.evaluate("window.hubLive.received") >= BURST_CHANGES
    shown = page.eval_on_selector_all(
        "#instruction-list tbody tr",
        """rows => rows.map(r => [Number(r.dataset.instructionId),
            r.querySelector('[data-field=status]').textContent,
            Number(r.querySelector('[data-field=priority]').textContent),
            Number(r.querySelector('[data-field=retry_count]').textContent)])""",
    )
    stored = {
        row.pk: [row.pk, row.status, row.priority, row.retry_count]
        for row in RenderInstruction.objects.filter(pk__in=ids)
    }
    assert sorted(shown) == sorted(stored.values())
    assert {s[1] for s in shown} <= set(InstructionStatus.values)
    screenshot(page, "after-burst")


# The same changes, but each transaction stays open a little after its event got its seq, so
# (on PostgreSQL) events commit out of seq order across the four processes.
BURST_LATE_COMMITS = BURST_IN_WORKER.replace(
    "from django.db import transaction",
    "import random, time\nfrom django.db import transaction",
).replace(
    "instruction_live_data(RenderInstruction.objects.get(pk=pk)))",
    "instruction_live_data(RenderInstruction.objects.get(pk=pk)))\n"
    "        time.sleep(random.random() * 0.004)",
)


def _shown_rows(page) -> list:
    return sorted(
        page.eval_on_selector_all(
            "#instruction-list tbody tr",
            """rows => rows.map(r => [Number(r.dataset.instructionId),
                r.querySelector('[data-field=status]').textContent,
                Number(r.querySelector('[data-field=priority]').textContent),
                Number(r.querySelector('[data-field=retry_count]').textContent)])""",
        )
    )


def test_it_ends_a_burst_with_late_commits_and_reconnecting_pages_equal_to_the_database(
    hub, page
):
    import threading

    ids = [instruction(template_name=f"burst_{n:02d}").pk for n in range(20)]
    pages = [page, page.context.new_page()]
    for each in pages:
        each.goto(f"{hub.url}/instructions/")
        each.wait_for_selector("#live-indicator.live-live")
    share, step = BURST_CHANGES // BURST_WORKERS, len(ids) // BURST_WORKERS
    codes = [
        BURST_LATE_COMMITS.format(ids=ids[w * step : (w + 1) * step], changes=share, offset=w)
        for w in range(BURST_WORKERS)
    ]
    failures: list[BaseException] = []

    def burst() -> None:
        try:
            run_python_parallel(codes)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    runner = threading.Thread(target=burst)
    runner.start()
    reconnects = 0
    time.sleep(1.5)  # the interpreters start, then the changes flow
    while runner.is_alive() and reconnects < 8:
        for each in pages:  # the network drops: each page reconnects with ?since=<last seen>
            each.evaluate("window.hubLive.socket && window.hubLive.socket.close()")
            reconnects += 1
        time.sleep(0.7)
    runner.join()
    assert not failures, failures
    assert reconnects >= 4  # the pages reconnected in the middle of the burst

    stored = sorted(
        [row.pk, row.status, row.priority, row.retry_count]
        for row in RenderInstruction.objects.filter(pk__in=ids)
    )
    final_seq = live_last_seq()
    for each in pages:
        each.wait_for_function(f"window.hubLive.lastSeq >= {final_seq}", timeout=60000)
        # Late commits are re-read within LIVE_RECONCILE_SECONDS of being visible.
        deadline = time.monotonic() + 3 * settings.LIVE_RECONCILE_SECONDS + 5
        while _shown_rows(each) != stored and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _shown_rows(each) == stored
    screenshot(page, "after-burst-with-reconnects")


# Final changes of some rows whose transaction stays open after their events got their seqs.
LATE_FINALS = """
import sys, time
from django.db import transaction
from django.utils import timezone
from automation_hub.live import publish_on_commit
from rendering.models import RenderInstruction
from rendering.services.payloads import instruction_live_data
with transaction.atomic():
    for pk in {ids}:
        RenderInstruction.objects.filter(pk=pk).update(
            status="completed", priority=9, retry_count=3, updated_at=timezone.now())
        publish_on_commit("instruction_updated",
                          instruction_live_data(RenderInstruction.objects.get(pk=pk)))
    print("inserted", flush=True)
    time.sleep(3)
"""
# The page's network drops: every new socket fails at once, until it is back.
NETWORK_DOWN = """() => {
    window.__RealWebSocket = window.__RealWebSocket || window.WebSocket;
    window.WebSocket = function () {
        var stub = this;
        stub.close = function () {};
        window.setTimeout(function () { if (stub.onclose) { stub.onclose({ code: 1006 }); } }, 20);
    };
    if (window.hubLive.socket) { window.hubLive.socket.close(); }
}"""
NETWORK_UP = "() => { window.WebSocket = window.__RealWebSocket; }"


def test_it_brings_an_offline_page_up_to_date_with_changes_that_committed_late(hub, page):
    import subprocess
    import sys

    from automation_hub.live import publish
    from tests.dashboard.processes import BASE_DIR, hub_env

    ids = [instruction(template_name=f"late_{n}").pk for n in range(4)]
    page.goto(f"{hub.url}/instructions/")
    page.wait_for_selector("#live-indicator.live-live")
    finals = subprocess.Popen(
        [sys.executable, "-c", "import django; django.setup()\n" + LATE_FINALS.format(ids=ids)],
        cwd=BASE_DIR,
        env=hub_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert finals.stdout.readline().strip() == "inserted"
        # A later event commits first (on PostgreSQL; SQLite waits for the finals) and the page
        # sees it: the seq it will reconnect with is above the finals' seqs.
        publish("hand_created", {"id": 0})
        marker = live_last_seq()
        page.wait_for_function(f"window.hubLive.lastSeq >= {marker}", timeout=10000)
        page.evaluate(NETWORK_DOWN)
        assert finals.wait(timeout=30) == 0  # the finals commit while the page is away
    finally:
        if finals.poll() is None:
            finals.kill()
    page.evaluate(NETWORK_UP)
    page.wait_for_selector("#live-indicator.live-live", timeout=15000)

    stored = sorted(
        [row.pk, row.status, row.priority, row.retry_count]
        for row in RenderInstruction.objects.filter(pk__in=ids)
    )
    assert {tuple(row[1:]) for row in stored} == {("completed", 9, 3)}
    deadline = time.monotonic() + 2 * settings.LIVE_RECONCILE_SECONDS + 5
    while _shown_rows(page) != stored and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _shown_rows(page) == stored
