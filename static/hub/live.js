/* Live feed of every dashboard page: one WebSocket to /ws/dashboard.
 *
 * The page is rendered at seq N (body[data-live-seq]); the socket asks for everything after the last
 * seq it saw, so a reconnect replays what was missed. Each event is dispatched once, as a
 * "hub:event" DOM event, to the page scripts (pages.js). The indicator says live / reconnecting.
 * The server also re-sends recent events that committed late (see automation_hub/live.py): seqs
 * already seen are dropped here; those at or below the rendered seq are marked `replayed`.
 * The hub status badge (#hub-status) shows /api/health/ready: which part of the hub is down.
 */
(function () {
  "use strict";
  var body = document.body;
  var indicator = document.getElementById("live-indicator");
  var state = {
    lastSeq: parseInt(body.dataset.liveSeq || "0", 10) || 0,
    status: "connecting",
    received: 0,
    // Arrival times (ms since epoch) of recent events, by seq: read by the latency benchmark.
    arrivals: new Map(),
    seen: new Set(),
    socket: null,
  };
  var renderedSeq = state.lastSeq;
  window.hubLive = state;

  function setStatus(status, text) {
    state.status = status;
    body.dataset.liveStatus = status;
    if (indicator) {
      indicator.className = "live live-" + status;
      indicator.textContent = text;
    }
  }

  function remember(seq) {
    state.seen.add(seq);
    state.arrivals.set(seq, performance.timeOrigin + performance.now());
    if (state.seen.size > 20000) {
      // Only recent seqs can still arrive twice (a catch-up racing the live feed).
      var floor = state.lastSeq - 10000;
      state.seen.forEach(function (s) { if (s < floor) { state.seen.delete(s); state.arrivals.delete(s); } });
    }
  }

  function handle(event) {
    if (event.type === "resync") {
      // Too far behind (or the log was reset): the page itself is the only safe catch-up.
      setStatus("reconnecting", "reloading…");
      window.location.reload();
      return;
    }
    if (typeof event.seq !== "number" || state.seen.has(event.seq)) {
      return;
    }
    remember(event.seq);
    event.replayed = event.seq <= renderedSeq;
    if (event.seq > state.lastSeq) {
      state.lastSeq = event.seq;
    }
    state.received += 1;
    document.dispatchEvent(new CustomEvent("hub:event", { detail: event }));
  }

  var backoff = 250;
  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var socket = new WebSocket(scheme + "//" + window.location.host + "/ws/dashboard?since=" + state.lastSeq);
    state.socket = socket;
    socket.onopen = function () {
      backoff = 250;
      setStatus("live", "live");
    };
    socket.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      handle(event);
    };
    socket.onclose = function (close) {
      state.socket = null;
      if (close.code === 4401) {
        setStatus("signed-out", "signed out");
        window.location.assign("/login/?next=" + encodeURIComponent(window.location.pathname + window.location.search));
        return;
      }
      setStatus("reconnecting", "reconnecting…");
      window.setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 5000);
    };
  }

  setStatus("connecting", "connecting…");
  connect();

  // Which part of the hub is down (web, render workers, ops workers, database, broker).
  var hubStatus = document.getElementById("hub-status");
  var names = { "render-workers": "render workers", "ops-workers": "ops workers", web: "web server" };
  function showHealth(body) {
    var down = [];
    Object.keys(body.checks || {}).forEach(function (k) { if (body.checks[k] !== "ok") { down.push(k + ": " + body.checks[k]); } });
    Object.keys(body.processes || {}).forEach(function (k) { if (body.processes[k] !== "ok") { down.push((names[k] || k) + ": " + body.processes[k]); } });
    hubStatus.dataset.status = body.status;
    hubStatus.className = "hub-status hub-status-" + body.status;
    hubStatus.textContent = down.length ? down.map(function (d) { return d.split(":")[0]; }).join(", ") + " down" : "all parts running";
    hubStatus.title = down.length ? down.join("\n") : "database, broker and every worker cluster answer";
    hubStatus.hidden = false;
  }
  function pollHealth() {
    fetch("/api/health/ready", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(showHealth)
      .catch(function () { showHealth({ status: "unavailable", checks: { web: "not answering" } }); })
      .then(function () { window.setTimeout(pollHealth, 5000); });
  }
  if (hubStatus) { pollHealth(); }
})();
