"""A broadcast day, compressed, at a multiple of peak traffic, with faults: `make soak`.

    python -m bench.broadcast_day [--mode embedded|production] [--minutes 30] [--peak-multiple 10]

Starts the hub as `make run` does (migrate, ensure_admin, `manage.py runhub`) in a throw-away
directory; production mode on a PostgreSQL and a Redis server of its own (so it can restart them
without disturbing anyone else), the render backend is the real Nexrender server (tests/nexrender)
with a farm of simulated AE machines (tests/nexrender/farm.py). Then it plays a 24-hour day
through the real HTTP API while a timetable injects faults, a prober requests the dashboard page,
/api/dashboard and the WebSocket every second, and two browser pages stay open all day. JSON on
stdout (and --out).

Peak traffic, from the PRDs (seeds/; SPEC §7): a 24-hour broadcast day of the RFID feature tables,
the data desk and the AE farm; no PRD gives hourly volumes, so the busiest hour is taken as:
* hands: 4 feature tables x 30 hands/h = 120 hands/h (5 % of them premium in the soak, so hands
  make graphics too: PREMIUM_HAND_MIN_RANK=four_of_a_kind);
* render instructions: 10 % of the day's 1,400 graphics (the PokerVOD PRD's 1,400 files per full
  sync) = 140/h: 100 posted one by one and 2 CSV sheets of 20 rows; plus once, in the peak hour,
  100 at once (the PRD's "100+ concurrent jobs");
* people: 3 engineers with the dashboard open, a page view a minute each (180/h), 12 manual
  actions/h (retry a failed graphic, re-prioritise a waiting one).
Traffic follows a day profile (pre-show 5 % of peak ... the evening's peak hour 100 %), multiplied
by --peak-multiple; the day's 24 hours pass in --minutes of wall time.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.nexrender.farm import Farm  # noqa: E402
from tests.private_servers import (  # noqa: E402
    NexrenderServer,
    PrivatePostgres,
    PrivateRedis,
    free_port,
)

PYTHON = sys.executable
NEXRENDER_SECRET = "soak-secret"  # noqa: S105 (a loopback test server)
ADMIN = ("soak-engineer", "soak-pass-1234")
DB_NAME = "wsop_bench_h13"
REDIS_DB = 12

PEAK_PER_HOUR = {
    "hands": 120,
    "instructions": 100,
    "csv_sheets": 2,
    "page_views": 180,
    "actions": 12,
}
CSV_ROWS = 20
PEAK_BURST = 100
TABLES = 4
PREMIUM_SHARE = 0.05
BROKEN_SHARE = 0.03
# Sim hour of day → share of peak traffic from that hour on.
DAY_PROFILE = [(0, 0.05), (9, 0.2), (11, 0.5), (14, 0.8), (17, 1.0), (20, 0.6), (23, 0.1)]
PEAK_HOUR = 18
# runhub's parts with the Nexrender backend (the health check lists each once it runs).
HUB_PARTS = {"web", "render-workers", "ops-workers", "queue-supervisor", "nexrender-follower"}
# The hub's timings, shortened with the day (each named in the JSON).
HUB_SETTINGS = {
    "RENDER_BACKEND": "nexrender",
    "PREMIUM_HAND_MIN_RANK": "four_of_a_kind",
    "RENDER_ZOMBIE_TIMEOUT_SECONDS": "60",
    "RENDER_HEARTBEAT_SECONDS": "5",
    "NEXRENDER_POLL_SECONDS": "0.5",
    "RENDER_BREAKER_RESET_SECONDS": "20",
    "RENDER_RETRY_POLICIES": json.dumps(
        {
            "default": {"strategy": "fixed", "base_delay": 5},
            "nexrender": {"strategy": "fixed", "base_delay": 5},
        }
    ),
    "LOG_LEVEL": "WARNING",
    "Q_LOG_LEVEL": "ERROR",
}


# ------------------------------------------------------------------------------------------------
# Servers the soak owns
# ------------------------------------------------------------------------------------------------
# ------------------------------------------------------------------------------------------------
# The hub, started as `make run` starts it
# ------------------------------------------------------------------------------------------------
class Hub:
    """`manage.py runhub` of the checkout `hub_dir` (default: this one), ready once its health
    check lists every part of `parts`."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        *,
        hub_dir: Path = ROOT,
        parts: set[str] = HUB_PARTS,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env, self.dir, self.parts = env, hub_dir, parts
        self.log = (workdir / "runhub.log").open("ab")
        self.proc: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        self.manage("migrate", "--noinput")
        self.manage("ensure_admin")
        self.proc = subprocess.Popen(
            [PYTHON, "manage.py", "runhub", "--port", str(self.port)],
            cwd=self.dir,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                body = httpx.get(f"{self.url}/api/health/ready", timeout=2).json()
                if body["status"] == "ok" and set(body["processes"]) >= self.parts:
                    return
            time.sleep(0.5)
        raise RuntimeError("the hub did not become ready in 120 s")

    def stop(self) -> float:
        if self.proc is None or self.proc.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        return round(time.monotonic() - started, 2)

    def part_leaders(self) -> dict[str, int]:
        """runhub's children by part: web (daphne), render-workers, ops-workers,
        queue-supervisor, nexrender-follower."""
        found = {}
        for pid, ppid in _process_parents().items():
            if self.proc and ppid == self.proc.pid:
                cmd = _cmdline(pid)
                if "daphne" in cmd:
                    found["web"] = pid
                elif "runworkers render" in cmd:
                    found["render-workers"] = pid
                elif "runworkers ops" in cmd:
                    found["ops-workers"] = pid
                elif "queue_supervisor" in cmd:
                    found["queue-supervisor"] = pid
                elif "nexrender_follower" in cmd:
                    found["nexrender-follower"] = pid
        return found


def _process_parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    return parents


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    parents = _process_parents()
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ------------------------------------------------------------------------------------------------
# Calls through the real API, timed per endpoint
# ------------------------------------------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def call(
        self, label: str, fn: Callable[[], httpx.Response], ok: tuple[int, ...] = (200, 201)
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = fn()
        except httpx.HTTPError as exc:
            with self.lock:
                self.errors[label][type(exc).__name__] += 1
            return None
        elapsed = (time.monotonic() - started) * 1000
        with self.lock:
            self.latency[label].append(elapsed)
            if response.status_code not in ok:
                self.errors[label][str(response.status_code)] += 1
        return response

    def summary(self) -> dict[str, Any]:
        out = {}
        with self.lock:
            for label, values in sorted(self.latency.items()):
                ordered = sorted(values)
                out[label] = {
                    "count": len(values),
                    "p50_ms": round(_pct(ordered, 50), 1),
                    "p95_ms": round(_pct(ordered, 95), 1),
                    "p99_ms": round(_pct(ordered, 99), 1),
                    "errors": dict(self.errors.get(label, {})),
                }
        return out


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Day:
    """The simulated clock: 24 h of broadcast in `minutes` of wall time."""

    def __init__(self, minutes: float, multiple: float):
        self.wall = minutes * 60
        self.multiple = multiple
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def over(self) -> bool:
        return self.elapsed() >= self.wall

    def sim_hour(self) -> float:
        return min(24.0, self.elapsed() / self.wall * 24)

    def rate(self, what: str) -> float:
        """Events per wall second now."""
        hour = self.sim_hour()
        level = [share for start, share in DAY_PROFILE if start <= hour][-1]
        return PEAK_PER_HOUR[what] * self.multiple * level / 3600


def hand_payload(table: int, number: int) -> dict[str, Any]:
    premium = random.random() < PREMIUM_SHARE
    rank = (
        random.choice(["four_of_a_kind", "straight_flush"])
        if premium
        else random.choice(
            [
                "high_card",
                "one_pair",
                "two_pair",
                "three_of_a_kind",
                "straight",
                "flush",
                "full_house",
            ]
        )
    )
    return {
        "table_id": f"FT-{table}",
        "hand_number": number,
        "source": "rfid",
        "hand_rank": rank,
        "pot_size": random.randint(1000, 5_000_000),
        "winner": random.choice(["P. Ivey", "D. Negreanu", "V. Koon", "J. Bonomo"]),
        "community_cards": random.sample(["As", "Kd", "Qh", "Jc", "Ts", "9d", "8h", "7c"], 5),
    }


def instruction_payload(
    n: int, *, priority: int | None = None, template: str | None = None
) -> dict:
    broken = random.random() < BROKEN_SHARE
    return {
        "template_name": template
        or (
            "broken_bug"
            if broken
            else random.choice(["lower_third", "chip_leader", "elimination", "payout"])
        ),
        "priority": priority or random.randint(2, 8),
        "trigger_type": "manual",
        "layer_data": {"player_name": f"Player {n}", "chips": str(random.randint(1, 10**7))},
    }


def csv_sheet(n: int) -> bytes:
    out = io.StringIO()
    out.write("template_name,priority,trigger_type,trigger_id,layer.player_name,layer.chips\n")
    for row in range(CSV_ROWS):
        out.write(
            f"lower_third,{random.randint(3, 9)},csv,sheet-{n}-{row},Player {n}-{row},{row}\n"
        )
    return out.getvalue().encode()


class Load:
    """Producers and people, each a thread, at the day's rate."""

    def __init__(self, hub_url: str, keys: dict[str, str], day: Day, rec: Recorder):
        self.url, self.keys, self.day, self.rec = hub_url, keys, day, rec
        self.stopping = threading.Event()
        self.accepted: set[int] = set()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.burst_done = False

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Api-Key {self.keys[role]}"}, timeout=15
        )

    def start(self) -> None:
        jobs = [(self._hands, (t,)) for t in range(1, TABLES + 1)]
        jobs += [(self._instructions, ()), (self._csv, ()), (self._people, ())]
        for target, args in jobs:
            thread = threading.Thread(target=target, args=args, daemon=True)
            self.threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=20)

    def _ticks(self, what: str, share: float = 1.0):
        """Yield whenever an event of `what` is due (Poisson at the day's rate)."""
        while not self.stopping.is_set() and not self.day.over():
            rate = self.day.rate(what) * share
            wait = random.expovariate(rate) if rate > 0 else 1.0
            if self.stopping.wait(min(wait, 5.0)):
                return
            if rate > 0 and wait <= 5.0:
                yield

    def _accept(self, response: httpx.Response | None) -> None:
        if response is not None and response.status_code in (200, 201):
            body = response.json()
            ids = [body["id"]] if "id" in body else list(body.get("instruction_ids", []))
            with self.lock:
                self.accepted.update(ids)

    def _hands(self, table: int) -> None:
        http = self.client("feature_table")
        for number, _ in enumerate(self._ticks("hands", 1 / TABLES), start=1):
            payload = hand_payload(table, number)
            self.rec.call("POST /api/hands", lambda p=payload: http.post("/api/hands", json=p))

    def _instructions(self) -> None:
        http = self.client("sub")
        for n, _ in enumerate(self._ticks("instructions"), start=1):
            if not self.burst_done and self.day.sim_hour() >= PEAK_HOUR:
                self.burst_done = True
                for m in range(PEAK_BURST):
                    self._post_instruction(http, instruction_payload(100_000 + m))
            self._post_instruction(http, instruction_payload(n))

    def _post_instruction(self, http: httpx.Client, payload: dict) -> None:
        self._accept(
            self.rec.call(
                "POST /api/instructions", lambda: http.post("/api/instructions", json=payload)
            )
        )

    def _csv(self) -> None:
        http = self.client("sub")
        for n, _ in enumerate(self._ticks("csv_sheets"), start=1):
            files = {"file": (f"sheet-{n}.csv", csv_sheet(n), "text/csv")}
            self._accept(
                self.rec.call(
                    "POST /api/instructions/import",
                    lambda f=files: http.post("/api/instructions/import", files=f),
                )
            )

    def _people(self) -> None:
        http = signed_in(self.url)
        pages = ["/overview/", "/instructions/", "/events/", "/hands/", "/outputs/"]
        action_share = PEAK_PER_HOUR["actions"] / PEAK_PER_HOUR["page_views"]
        for _ in self._ticks("page_views"):
            path = random.choice(pages)
            self.rec.call(f"GET {path}", lambda p=path: http.get(p))
            if random.random() < action_share:
                self._act(http)

    def _act(self, http: httpx.Client) -> None:
        """Retry a failed graphic or re-prioritise a waiting one, with a reason."""
        status = random.choice(["failed", "pending"])
        found = self.rec.call(
            "GET /api/instructions",
            lambda: http.get("/api/instructions", params={"status": status}),
        )
        if found is None or found.status_code != 200 or not found.json().get("results"):
            return
        target = random.choice(found.json()["results"])["id"]
        if status == "failed":
            body = {"instruction_id": target, "reason": "soak: operator retry"}
            self.rec.call(
                "POST /api/actions/retry",
                lambda: http.post("/api/actions/retry", json=body),
                ok=(200, 201, 409),
            )
        else:
            body = {"instruction_id": target, "priority": 1, "reason": "soak: on air next"}
            self.rec.call(
                "POST /api/actions/change-priority",
                lambda: http.post("/api/actions/change-priority", json=body),
                ok=(200, 201, 409),
            )


# ------------------------------------------------------------------------------------------------
# The prober: page, API and WebSocket every second
# ------------------------------------------------------------------------------------------------
def websocket_hello(port: int, cookie: str, timeout: float = 5.0) -> bool:
    """Open /ws/dashboard with the session cookie and read the first message (a hello)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/dashboard HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: http://127.0.0.1:{port}\r\nCookie: sessionid={cookie}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            return False
        while len(rest) < 2:
            rest += sock.recv(4096)
        length = rest[1] & 0x7F
        offset = 2
        if length == 126:
            while len(rest) < 4:
                rest += sock.recv(4096)
            length, offset = int.from_bytes(rest[2:4], "big"), 4
        elif length == 127:
            while len(rest) < 10:
                rest += sock.recv(4096)
            length, offset = int.from_bytes(rest[2:10], "big"), 10
        while len(rest) < offset + length:
            chunk = sock.recv(65536)
            if not chunk:
                return False
            rest += chunk
        message = json.loads(rest[offset : offset + length])
        return message.get("type") == "hello"


def signed_in(url: str) -> httpx.Client:
    """A client signed in like an engineer's browser: session cookie, CSRF token on writes.
    (Not HTTP Basic: that hashes the password on every request, which no page does.)"""
    http = httpx.Client(base_url=url, timeout=15)
    http.get("/login/")
    token = http.cookies["csrftoken"]
    http.post(
        "/login/",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrfmiddlewaretoken": token},
        headers={"Referer": f"{url}/login/"},
    )
    http.headers["X-CSRFToken"] = http.cookies["csrftoken"]
    return http


def session_cookie(url: str) -> str:
    http = signed_in(url)
    try:
        return http.cookies["sessionid"]
    finally:
        http.close()


class Prober:
    def __init__(self, hub: Hub, day: Day):
        self.hub, self.day = hub, day
        self.cookie = session_cookie(hub.url)
        self.results: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._loop, args=(name, fn), daemon=True)
            for name, fn in (
                ("page", self._page),
                ("api_dashboard", self._api),
                ("websocket", self._ws),
            )
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=10)

    def _loop(self, name: str, probe: Callable[[], bool]) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                ok = probe()
            except (OSError, httpx.HTTPError, ValueError):
                ok = False
            with self.lock:
                self.results[name].append((self.day.elapsed(), ok))
                self.latency[name].append((time.monotonic() - started) * 1000)
            self.stopping.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    def _page(self) -> bool:
        response = httpx.get(
            f"{self.hub.url}/overview/", cookies={"sessionid": self.cookie}, timeout=5
        )
        return response.status_code == 200 and b"live-indicator" in response.content

    def _api(self) -> bool:
        response = httpx.get(
            f"{self.hub.url}/api/dashboard", cookies={"sessionid": self.cookie}, timeout=5
        )
        return response.status_code == 200 and "metrics" in response.json()

    def _ws(self) -> bool:
        return websocket_hello(self.hub.port, self.cookie)

    def availability(self) -> dict[str, Any]:
        out = {}
        with self.lock:
            for name, samples in self.results.items():
                failed = [round(at, 1) for at, ok in samples if not ok]
                out[name] = {
                    "availability_pct": round(100 * (1 - len(failed) / max(1, len(samples))), 3),
                    "probes": len(samples),
                    "failed": len(failed),
                    "failed_at_s": failed[:50],
                    "p50_ms": round(_pct(sorted(self.latency[name]), 50), 1),
                    "p99_ms": round(_pct(sorted(self.latency[name]), 99), 1),
                    "max_ms": round(max(self.latency[name], default=0.0), 1),
                }
        return out

    def all_ok_since(self, since: float) -> bool:
        with self.lock:
            return all(
                any(at >= since and ok for at, ok in samples) and samples[-1][1]
                for samples in self.results.values()
            )


# ------------------------------------------------------------------------------------------------
# Memory of web and workers, every 10 s
# ------------------------------------------------------------------------------------------------
class MemorySampler(threading.Thread):
    def __init__(self, hub: Hub, day: Day):
        super().__init__(daemon=True)
        self.hub, self.day = hub, day
        self.samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.cpu: dict[str, list[float]] = defaultdict(list)  # % of one core, per 10 s
        self.stopping = threading.Event()

    def run(self) -> None:
        last: dict[int, float] = {}
        while not self.stopping.is_set():
            for part, leader in self.hub.part_leaders().items():
                pids = [leader, *descendants(leader)]
                # Per process: the goal is each process < 512 MB; the largest one is the figure.
                largest = max((rss_mb(pid) for pid in pids), default=0.0)
                self.samples[part].append((self.day.sim_hour(), round(largest, 1)))
                ticks = {pid: cpu_seconds(pid) for pid in pids}
                used = sum(t - last[pid] for pid, t in ticks.items() if pid in last)
                last.update(ticks)
                self.cpu[part].append(round(used * 10, 1))  # seconds per 10 s → % of a core
            self.stopping.wait(10)

    def summary(self) -> dict[str, Any]:
        out = {}
        for part, samples in sorted(self.samples.items()):
            values = [mb for _, mb in samples]
            warm = [(h, mb) for h, mb in samples if h >= 2.0] or samples
            out[part] = {
                "start_mb": values[0],
                "peak_mb": max(values),
                "end_mb": values[-1],
                "slope_mb_per_sim_hour": round(_slope(warm), 2),
                "slope_pct_per_sim_hour": round(
                    100 * _slope(warm) / max(1.0, statistics.mean(v for _, v in warm)), 2
                ),
                "samples": len(values),
                "cpu_pct_of_a_core_p50": _pct(sorted(self.cpu[part][1:]), 50),
                "cpu_pct_of_a_core_max": max(self.cpu[part][1:], default=0.0),
            }
        return out


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


# ------------------------------------------------------------------------------------------------
# Faults on a timetable, and how long the hub takes to recover from each
# ------------------------------------------------------------------------------------------------
class Faults(threading.Thread):
    def __init__(self, soak: Soak):
        super().__init__(daemon=True)
        self.soak = soak
        self.results: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.watchers: list[threading.Thread] = []
        self.stopping = threading.Event()

    def timetable(self) -> list[tuple[float, str, Callable[[], None]]]:
        soak = self.soak
        plan = [
            (0.12, "render worker SIGKILL", lambda: self._kill_worker("render-workers")),
            (0.20, "ops worker SIGKILL", lambda: self._kill_worker("ops-workers")),
            (0.30, "render worker cluster killed", lambda: self._kill_cluster("render-workers")),
            (0.50, "render backend down", self._backend_down),
            (0.60, "nexrender follower killed", lambda: self._kill_cluster("nexrender-follower")),
            (0.85, "ops worker cluster killed", lambda: self._kill_cluster("ops-workers")),
        ]
        if soak.mode == "production":
            plan += [
                (0.40, "Redis restarted", self._redis_restart),
                (0.70, "PostgreSQL restarted", lambda: soak.postgres.restart()),
            ]
        return sorted(plan)

    def run(self) -> None:
        for at, name, inject in self.timetable():
            while self.soak.day.elapsed() < at * self.soak.day.wall:
                if self.stopping.wait(0.5):
                    return
            started = self.soak.day.elapsed()
            detail = ""
            try:
                detail = inject() or ""
            except Exception as exc:  # a fault that could not be injected is reported
                detail = f"not injected: {exc}"
            restored = self.soak.day.elapsed()
            watcher = threading.Thread(
                target=self._recovery, args=(name, started, restored, detail), daemon=True
            )
            self.watchers.append(watcher)
            watcher.start()

    def _kill_worker(self, part: str) -> str:
        leader = self.soak.hub.part_leaders()[part]
        procs = descendants(leader)
        busy = self.soak.processing_worker_pids() & set(procs)
        # A worker in the middle of a render when there is one; else any process of the cluster
        # below its sentinel (worker, monitor or pusher: the sentinel brings each back).
        sentinel = [p for p in procs if _process_parents().get(p) == leader]
        candidates = sorted(busy) or [p for p in procs if p not in sentinel]
        victim = random.choice(candidates)
        os.kill(victim, signal.SIGKILL)
        return f"pid {victim}" + (" (rendering)" if busy else "")

    def _kill_cluster(self, part: str) -> str:
        leader = self.soak.hub.part_leaders()[part]
        os.killpg(leader, signal.SIGKILL)
        return f"process group {leader}"

    def _backend_down(self) -> str:
        down = max(30.0, 0.1 * self.soak.day.wall)
        self.soak.nexrender.stop()
        self.stopping.wait(down)
        self.soak.nexrender.start()
        return f"Nexrender server stopped for {down:.0f} s"

    def _redis_restart(self) -> str:
        self.soak.redis.stop()
        self.stopping.wait(3)
        self.soak.redis.start()
        return "down 3 s"

    def _recovery(self, name: str, started: float, restored: float, detail: str) -> None:
        soak, limit = self.soak, 300
        canary_id = soak.canary(name)
        ready_at = canary_at = probes_at = None
        while soak.day.elapsed() - restored < limit and None in (ready_at, canary_at, probes_at):
            now = soak.day.elapsed()
            if ready_at is None and soak.readiness_ok():
                ready_at = now
            if canary_at is None and canary_id is not None and soak.finished(canary_id):
                canary_at = now
            if probes_at is None and soak.prober.all_ok_since(restored):
                probes_at = now
            time.sleep(0.5)
        times = [t for t in (ready_at, canary_at, probes_at) if t is not None]
        with self.lock:
            self.results.append(
                {
                    "fault": name,
                    "detail": detail,
                    "at_s": round(started, 1),
                    "outage_s": round(restored - started, 1),
                    "ready_after_s": _after(ready_at, started),
                    "probes_ok_after_s": _after(probes_at, started),
                    "new_graphic_done_after_s": _after(canary_at, started),
                    "recovered_s": round(max(times) - started, 1) if len(times) == 3 else None,
                }
            )


def _after(at: float | None, started: float) -> float | None:
    return None if at is None else round(at - started, 1)


# ------------------------------------------------------------------------------------------------
# The soak
# ------------------------------------------------------------------------------------------------
class Soak:
    def __init__(self, args: argparse.Namespace):
        self.mode = args.mode
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix=f"wsop-soak-{args.mode}-"))
        os.chmod(self.workdir, 0o755)  # noqa: S103 (the private PostgreSQL runs as postgres)
        self.postgres = self.redis = None
        if self.mode == "production":
            self.postgres = PrivatePostgres(self.workdir, max_connections=200)
            self.redis = PrivateRedis(home=self.workdir, db=REDIS_DB)
        # Its jobs survive a restart; it hands out the most urgent job first (README).
        self.nexrender = NexrenderServer(
            self.workdir / "nexrender" / "database.js", NEXRENDER_SECRET
        )
        self.rec = Recorder()
        self.farm: Farm | None = None
        self.canaries: dict[str, int] = {}

    # -- set-up ----------------------------------------------------------------------------------
    def hub_env(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "LANG", "TMPDIR")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(HUB_SETTINGS)
        env.update(
            # Sized as the README says: one job per AE machine plus a couple queued.
            NEXRENDER_MAX_IN_FLIGHT=str(self.args.ae_machines + 2),
            DJANGO_SETTINGS_MODULE="automation_hub.settings",
            HUB_VAR_DIR=str(self.workdir / "var"),
            OUTPUT_ROOT=str(self.workdir / "output"),
            NEXRENDER_URL=self.nexrender.url,
            NEXRENDER_SECRET=NEXRENDER_SECRET,
            DJANGO_SUPERUSER_USERNAME=ADMIN[0],
            DJANGO_SUPERUSER_PASSWORD=ADMIN[1],
            PYTHONUNBUFFERED="1",
        )
        if self.mode == "production":
            assert self.postgres and self.redis
            env.update(
                DATABASE_URL=self.postgres.start(DB_NAME),
                REDIS_URL=self.redis.start(),
                SECRET_KEY=base64.b64encode(os.urandom(30)).decode(),
            )
        return env

    def setup(self) -> None:
        env = self.hub_env()
        self.nexrender.start()
        self.farm = Farm(
            self.nexrender.url,
            NEXRENDER_SECRET,
            machines=self.args.ae_machines,
            render_seconds=(0.5, 2.0),
            poll_seconds=0.2,
        ).start()
        self.hub = Hub(self.workdir, env)
        self.hub.start()
        self.keys = {
            role: self.hub.manage("create_api_key", role, "--name", f"soak-{role}")
            .strip()
            .splitlines()[-1]
            for role in ("feature_table", "sub")
        }
        # This process reads the same database for the checks at the end; its ORM calls are
        # plain blocking checks, made beside (not inside) Playwright's event loop.
        os.environ.update(env, DJANGO_ALLOW_ASYNC_UNSAFE="true")
        import django

        django.setup()
        self.day = Day(self.args.minutes, self.args.peak_multiple)
        self.prober = Prober(self.hub, self.day)
        self.load = Load(self.hub.url, self.keys, self.day, self.rec)
        self.memory = MemorySampler(self.hub, self.day)
        self.faults = Faults(self)

    # -- helpers for the faults ------------------------------------------------------------------
    def processing_worker_pids(self) -> set[int]:
        from django.db import close_old_connections

        from rendering.models import InstructionStatus, RenderInstruction

        close_old_connections()
        try:
            holders = RenderInstruction.objects.filter(
                status=InstructionStatus.PROCESSING
            ).values_list("claimed_by", flat=True)
            return {int(h.rsplit(":", 1)[1]) for h in holders if re.match(r".+:\d+$", h or "")}
        except Exception:
            return set()

    def readiness_ok(self) -> bool:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            return httpx.get(f"{self.hub.url}/api/health/ready", timeout=3).json()["status"] == "ok"
        return False

    def canary(self, fault: str) -> int | None:
        """A top-priority graphic asked for right after the fault: done = the pipeline is back."""
        payload = instruction_payload(0, priority=1, template="canary")
        deadline = time.monotonic() + 300
        with httpx.Client(
            base_url=self.hub.url,
            headers={"Authorization": f"Api-Key {self.keys['sub']}"},
            timeout=10,
        ) as http:
            while time.monotonic() < deadline:
                response = self.rec.call(
                    "POST /api/instructions", lambda: http.post("/api/instructions", json=payload)
                )
                if response is not None and response.status_code == 201:
                    self.canaries[fault] = response.json()["id"]
                    return self.canaries[fault]
                time.sleep(0.5)
        return None

    def finished(self, instruction_id: int) -> bool:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            response = httpx.get(
                f"{self.hub.url}/api/instructions/{instruction_id}",
                cookies={"sessionid": self.prober.cookie},
                timeout=5,
            )
            return response.json().get("status") == "completed"
        return False

    # -- the day ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        from playwright.sync_api import sync_playwright

        self.setup()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu"],
                headless=True,
            )
            pages = [self._open_page(browser) for _ in range(self.args.pages)]
            for part in (self.prober, self.memory, self.faults):
                part.start()
            self.load.start()
            while not self.day.over():
                time.sleep(1)
            self.load.stop()
            drained = self._drain()
            self.faults.stopping.set()
            for watcher in self.faults.watchers:
                watcher.join(timeout=330)
            pages_equal = [self._page_equals_database(page) for page in pages]
            self.prober.stop()
            self.memory.stopping.set()
            browser.close()
        report = self.report(drained, pages_equal)
        report["hub_stop_s"] = self.hub.stop()
        return report

    def _open_page(self, browser: Any) -> Any:
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        page.goto(f"{self.hub.url}/login/")
        page.fill("input[name=username]", ADMIN[0])
        page.fill("input[name=password]", ADMIN[1])
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.hub.url}/overview/")
        page.goto(f"{self.hub.url}/instructions/")
        page.wait_for_selector("#live-indicator.live-live")
        return page

    def _drain(self) -> float:
        """After the day: until nothing waits or renders (bounded)."""
        from django.db import close_old_connections

        from rendering.models import InstructionStatus, RenderInstruction

        started, limit = time.monotonic(), max(180.0, 0.2 * self.day.wall)
        while time.monotonic() - started < limit:
            close_old_connections()
            with contextlib.suppress(Exception):
                open_rows = RenderInstruction.objects.filter(
                    status__in=[InstructionStatus.PENDING, InstructionStatus.PROCESSING]
                ).count()
                if open_rows == 0:
                    break
            time.sleep(2)
        return round(time.monotonic() - started, 1)

    def _page_equals_database(self, page: Any) -> dict[str, Any]:
        from rendering.models import RenderInstruction

        def shown() -> list[list]:
            return page.eval_on_selector_all(
                "#instruction-list tbody tr[data-instruction-id]",
                """rows => rows.map(r => [Number(r.dataset.instructionId),
                    r.querySelector('[data-field=status]').textContent,
                    Number(r.querySelector('[data-field=priority]').textContent),
                    Number(r.querySelector('[data-field=retry_count]').textContent)])""",
            )

        deadline = time.monotonic() + 20  # one reconcile round and then some
        while True:
            rows = shown()
            stored = {
                r.pk: [r.pk, r.status, r.priority, r.retry_count]
                for r in RenderInstruction.objects.filter(pk__in=[row[0] for row in rows])
            }
            differ = [row for row in rows if stored.get(row[0]) != row]
            if not differ or time.monotonic() > deadline:
                return {"rows": len(rows), "equal": not differ, "differing": differ[:10]}
            time.sleep(1)

    # -- the figures -----------------------------------------------------------------------------
    def report(self, drained: float, pages_equal: list[dict]) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "minutes": self.args.minutes,
            "peak_multiple": self.args.peak_multiple,
            "peak_per_hour_1x": {
                **PEAK_PER_HOUR,
                "csv_rows": CSV_ROWS,
                "tables": TABLES,
                "peak_burst": PEAK_BURST,
            },
            "hub_settings": {
                **HUB_SETTINGS,
                "NEXRENDER_MAX_IN_FLIGHT": str(self.args.ae_machines + 2),
                "NEXRENDER_ORDERING (server)": "priority",
            },
            "availability": self.prober.availability(),
            "api_latency": self.rec.summary(),
            "rss": self.memory.summary(),
            "rows_at_end": self.table_sizes(),
            "graphics": self.graphics(),
            "faults": sorted(self.faults.results, key=lambda r: r["at_s"]),
            "drain_s": drained,
            "pages": pages_equal,
            "every_page_equals_database": all(p["equal"] for p in pages_equal),
        }

    def graphics(self) -> dict[str, Any]:
        from django.db.models import Count

        from rendering.models import InstructionStatus, RenderInstruction, RenderOutput

        rows = RenderInstruction.objects
        by_status = dict(
            rows.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        )
        accepted = self.load.accepted | set(self.canaries.values())
        existing = set(rows.filter(pk__in=accepted).values_list("pk", flat=True))
        unfinished = rows.filter(
            status__in=[InstructionStatus.PENDING, InstructionStatus.PROCESSING]
        ).count()
        # An instruction's AE renders that ran to a finished file: more than one is a graphic
        # rendered twice. (A graphic whose template is broken fails on AE at each of its retries:
        # those are counted under ae_render_errors, not as doubles.)
        finished = [r for r in self.farm.log() if r.outcome == "finished"] if self.farm else []
        ae = Counter(
            int(m.group(1)) for r in finished if (m := re.match(r"^.+?-(\d+)-[0-9a-f]+$", r.uid))
        )
        outputs = (
            RenderOutput.objects.values("instruction")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
        failed = rows.filter(status=InstructionStatus.FAILED)
        reasons: dict[str, int] = defaultdict(int)
        for message in failed.values_list("error_message", flat=True):
            reasons[re.sub(r"hub-\d+-[0-9a-f]+", "hub-<id>", message)[:120]] += 1
        return {
            "requested": rows.count(),
            "accepted_by_api": len(accepted),
            "from_premium_hands": rows.filter(trigger_type="premium_hand").count(),
            "by_status": by_status,
            "completed": by_status.get(InstructionStatus.COMPLETED, 0),
            "failed_with_reason": failed.exclude(error_message="").count(),
            "failed_without_reason": failed.filter(error_message="").count(),
            "failure_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:8]),
            "lost": len(accepted - existing) + unfinished,
            "unfinished_after_drain": unfinished,
            "rendered_twice": sum(1 for n in ae.values() if n > 1) + outputs,
            "ae_renders": sum(ae.values()),
            "ae_render_errors": (
                sum(1 for r in self.farm.log() if r.outcome == "error") if self.farm else 0
            ),
        }

    def table_sizes(self) -> dict[str, Any]:
        from django.apps import apps
        from django.db import connection

        out = {}
        for model in apps.get_models():
            if model._meta.app_label not in (
                "automation_hub",
                "hands",
                "rendering",
                "monitoring",
                "django_q",
            ):
                continue
            table = model._meta.db_table
            if model._meta.proxy or table in out:
                continue
            entry: dict[str, Any] = {"rows": model._base_manager.count()}
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_total_relation_size(%s)", [table])
                    entry["mb"] = round(cursor.fetchone()[0] / 2**20, 2)
            out[table] = entry
        if connection.vendor == "sqlite":
            out["_sqlite_file_mb"] = round(
                Path(connection.settings_dict["NAME"]).stat().st_size / 2**20, 2
            )
        return out

    def close(self) -> None:
        if getattr(self, "hub", None):
            self.hub.stop()
        if self.farm:
            self.farm.stop()
        self.nexrender.stop()
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--minutes", type=float, default=30.0, help="wall time of the 24 h day")
    parser.add_argument("--peak-multiple", type=float, default=10.0)
    parser.add_argument("--pages", type=int, default=2, help="browser pages open all day")
    parser.add_argument("--ae-machines", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the soak's directory (logs)")
    args = parser.parse_args()
    soak = Soak(args)
    try:
        report = soak.run()
    finally:
        soak.close()
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
