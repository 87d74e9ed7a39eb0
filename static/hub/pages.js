/* Page updates from live events (see live.js), and the manual-action buttons.
 *
 * Rows carry data-instruction-id / data-hand-id / data-event-id and their cells data-field, so one
 * event updates every place that shows the row. Text goes in with textContent only.
 * Actions call the JSON API with the session cookie and the CSRF header.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------------------------------------
  // Small DOM helpers
  // ---------------------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "dataset") { Object.assign(node.dataset, attrs[k]); }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function td(children, attrs) { return el("td", attrs || {}, children); }
  function text(value) { return document.createTextNode(value === null || value === undefined ? "" : String(value)); }
  function hhmmss(iso) { return iso ? String(iso).slice(11, 19) : ""; }
  function link(href, label) { return el("a", { href: href, text: label }); }

  function dropEmptyRow(tbody) {
    var empty = tbody.querySelector("tr.empty");
    if (empty) { empty.remove(); }
  }
  function prependLimited(container, node, limit) {
    container.insertBefore(node, container.firstChild);
    var max = parseInt(limit || "0", 10);
    if (max > 0) {
      var rows = container.children;
      while (rows.length > max) { rows[rows.length - 1].remove(); }
    }
  }
  function flash(message, kind) {
    var box = document.getElementById("flash");
    if (!box) { return; }
    box.textContent = message;
    box.className = "flash " + (kind || "ok");
    box.hidden = false;
    window.clearTimeout(flash.timer);
    flash.timer = window.setTimeout(function () { box.hidden = true; }, 6000);
  }

  // ---------------------------------------------------------------------------------------------
  // Instructions
  // ---------------------------------------------------------------------------------------------
  function isNewer(node, data) {
    // Events of one row can arrive out of order (two processes); keep the latest state only.
    var shown = node.dataset.updatedAt;
    return !(shown && data.updated_at && Date.parse(data.updated_at) < Date.parse(shown));
  }

  function applyInstruction(node, data) {
    if (!isNewer(node, data)) { return; }
    if (data.updated_at) { node.dataset.updatedAt = data.updated_at; }
    node.querySelectorAll("[data-field]").forEach(function (cell) {
      var name = cell.dataset.field;
      if (!(name in data)) { return; }
      cell.textContent = data[name] === null ? "" : String(data[name]);
      if (name === "status") { cell.className = "badge st-" + data.status; }
    });
    if (node.tagName === "TR") { node.className = "st-" + data.status; }
  }

  function instructionRow(data, compact) {
    var cells = [
      td([link("/instructions/" + data.id + "/", String(data.id))]),
      td([text(data.template_name)], { "data-field": "template_name" }),
      td([el("span", { class: "badge st-" + data.status, "data-field": "status", text: data.status })]),
      td([text(data.priority)], { "data-field": "priority" }),
    ];
    if (!compact) {
      cells.push(td([text(data.trigger_type)], { "data-field": "trigger_type" }));
      cells.push(td(data.hand_id ? [link("/hands/" + data.hand_id + "/", String(data.hand_id))] : []));
    }
    cells.push(td([text(data.retry_count)], { "data-field": "retry_count" }));
    cells.push(td([el("time", { datetime: data.created_at || "", text: hhmmss(data.created_at) })]));
    var row = el("tr", { class: "st-" + data.status, dataset: { instructionId: String(data.id) } }, cells);
    if (data.updated_at) { row.dataset.updatedAt = data.updated_at; }
    return row;
  }

  function tableAccepts(table, data) {
    var f = table.dataset;
    if (f.filterStatus && f.filterStatus !== data.status) { return false; }
    if (f.filterTemplate && String(data.template_name).toLowerCase().indexOf(f.filterTemplate.toLowerCase()) < 0) { return false; }
    if (f.filterTrigger && f.filterTrigger !== data.trigger_type) { return false; }
    if (f.filterHand && String(f.filterHand) !== String(data.hand_id)) { return false; }
    return true;
  }

  function onInstruction(data, replayed) {
    document.querySelectorAll('[data-instruction-id="' + data.id + '"]').forEach(function (node) {
      if (node.tagName === "TR" || node.id === "instruction-detail") { applyInstruction(node, data); }
    });
    var badge = document.getElementById("instruction-status");
    var detail = document.getElementById("instruction-detail");
    // A replayed event (at or below the seq the page was rendered at) may already be in the
    // rendered timeline: its state still applies, its timeline line is not added again.
    if (badge && detail && !replayed && String(detail.dataset.instructionId) === String(data.id)) {
      badge.textContent = data.status;
      badge.className = "badge st-" + data.status;
      if (data.action) {
        // A manual override: who did what and why, as the audit entry shows it after a reload.
        appendTimeline(data.action + " by " + (data.actor || "?"), data.reason || "");
      }
      appendTimeline("Status " + data.status, "retry " + data.retry_count + ", priority " + data.priority +
        (data.error_message ? " — " + data.error_message : ""));
    }
    document.querySelectorAll("table.instructions[data-live-insert]").forEach(function (table) {
      var tbody = table.tBodies[0];
      if (tbody.querySelector('tr[data-instruction-id="' + data.id + '"]')) { return; }
      if (!tableAccepts(table, data)) { return; }
      // Only a row newer than the newest shown belongs at the top of a newest-first list.
      var first = tbody.querySelector("tr[data-instruction-id]");
      if (first && parseInt(first.dataset.instructionId, 10) > data.id) { return; }
      dropEmptyRow(tbody);
      prependLimited(tbody, instructionRow(data, table.dataset.compact === "true"), table.dataset.limit);
    });
  }

  function appendTimeline(title, detail) {
    var list = document.getElementById("timeline");
    if (!list) { return; }
    var now = new Date().toISOString();
    list.appendChild(el("li", { class: "tl-state live-added" }, [
      el("time", { datetime: now, text: hhmmss(now) }), text(" "), el("strong", { text: title }), text(" "),
      el("span", { class: "muted", text: detail }),
    ]));
  }

  // ---------------------------------------------------------------------------------------------
  // Hands, outputs, events
  // ---------------------------------------------------------------------------------------------
  function handRow(data) {
    var rank = String(data.hand_rank || "").replace(/_/g, " ").replace(/\b\w/g, function (c) { return c.toUpperCase(); });
    var rankCell = td([text(rank)]);
    if (data.is_premium) { rankCell.appendChild(text(" ")); rankCell.appendChild(el("span", { class: "badge premium", text: "premium" })); }
    return el("tr", { class: data.is_premium ? "premium" : "", dataset: { handId: String(data.id) } }, [
      td([link("/hands/" + data.id + "/", String(data.id))]), td([text(data.table_id)]), td([text(data.hand_number)]),
      rankCell, td([text(data.pot_size)], { class: "num" }), td([text(data.winner)]),
      td([el("time", { datetime: data.created_at || "", text: hhmmss(data.created_at) })]),
    ]);
  }

  function onHand(data) {
    document.querySelectorAll("table.hands[data-live-insert]").forEach(function (table) {
      var tbody = table.tBodies[0];
      if (tbody.querySelector('tr[data-hand-id="' + data.id + '"]')) { return; }
      dropEmptyRow(tbody);
      prependLimited(tbody, handRow(data), table.dataset.limit);
    });
  }

  function outputCard(data) {
    var img = el("img", {
      src: "/outputs/" + data.output_id + "/preview", alt: "Output " + data.output_id + " of instruction " + data.instruction_id,
      class: "thumb",
    });
    return el("figure", { class: "output-card live-added", dataset: { outputId: String(data.output_id) } }, [
      el("a", { href: "/instructions/" + data.instruction_id + "/" }, [img]),
      el("figcaption", { text: "#" + data.instruction_id + " · " + Math.round((data.file_size || 0) / 1024) + " KB · " + hhmmss(data.completed_at) }),
    ]);
  }

  function addOutput(container, data) {
    if (container.querySelector('[data-output-id="' + data.output_id + '"]')) { return; }
    var placeholder = container.querySelector(".placeholder");
    if (placeholder) { placeholder.remove(); }
    prependLimited(container, outputCard(data), 0);
  }

  function onRenderCompleted(data) {
    document.querySelectorAll('#instruction-output[data-instruction-id="' + data.instruction_id + '"]').forEach(function (box) { addOutput(box, data); });
    var gallery = document.getElementById("output-gallery");
    if (gallery && gallery.dataset.liveInsert === "true") { addOutput(gallery, data); }
    var handOutputs = document.getElementById("hand-outputs");
    if (handOutputs && String(handOutputs.dataset.handId) === String(data.hand_id)) { addOutput(handOutputs, data); }
    var detail = document.getElementById("instruction-detail");
    if (detail && String(detail.dataset.instructionId) === String(data.instruction_id)) { appendTimeline("Output stored", data.output_path || ""); }
  }

  function eventRow(data) {
    var concerns = td([]);
    if (data.instruction_id) { concerns.appendChild(link("/instructions/" + data.instruction_id + "/", "instruction " + data.instruction_id)); }
    var action = td([]);
    if (data.id && !data.resolved) {
      action.appendChild(el("button", { type: "button", "data-action": "resolve", "data-event-id": String(data.id), text: "Resolve…" }));
    }
    var now = new Date().toISOString();
    return el("tr", { class: "sev-" + data.severity, dataset: { eventId: String(data.id) } }, [
      td([el("time", { datetime: now, text: hhmmss(now) })]),
      td([el("span", { class: "badge sev-" + data.severity, text: data.severity })]),
      td([text(data.code)]), td([text(data.message)]), concerns,
      td([text(data.resolved ? "resolved" : "open")], { "data-field": "state" }), action,
    ]);
  }

  function onAlert(data) {
    var table = document.getElementById("event-list");
    if (!table || !data.id) { return; }
    var f = table.dataset;
    if (table.dataset.liveInsert !== "true") {
      var shown = table.querySelector('tr[data-event-id="' + data.id + '"]');
      if (shown && data.resolved) { markResolved(shown, data.resolved_by, data.notes || null); }
      return;
    }
    if ((f.filterSeverity && f.filterSeverity !== data.severity) || f.filterResolved === "true" ||
        (f.filterCode && f.filterCode !== data.code)) { return; }
    var tbody = table.tBodies[0];
    var existing = tbody.querySelector('tr[data-event-id="' + data.id + '"]');
    if (existing) {
      if (data.resolved) { markResolved(existing, data.resolved_by, data.notes || null); }
      return;
    }
    if (data.resolved) { return; }
    dropEmptyRow(tbody);
    prependLimited(tbody, eventRow(data), 0);
  }

  function markResolved(row, by, notes) {
    row.classList.add("resolved");
    var state = row.querySelector('[data-field="state"]');
    if (state && (notes !== null || state.textContent === "open")) {
      state.textContent = "resolved by " + (by || "") + (notes ? ": " + notes : "");
    }
    var button = row.querySelector('button[data-action="resolve"]');
    if (button) { button.remove(); }
  }

  // ---------------------------------------------------------------------------------------------
  // Overview fragments: re-rendered by the server, at most once a second while events flow
  // ---------------------------------------------------------------------------------------------
  function throttled(fn, gap) {
    var last = 0, timer = null;
    return function () {
      if (timer) { return; }
      var wait = Math.max(0, last + gap - Date.now());
      timer = window.setTimeout(function () { timer = null; last = Date.now(); fn(); }, Math.max(wait, 150));
    };
  }
  var summary = document.getElementById("overview-summary");
  var refreshSummary = throttled(function () {
    fetch(summary.dataset.src, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { summary.innerHTML = html; } });
  }, 1000);
  var refreshCharts = throttled(function () { if (window.hubCharts) { window.hubCharts.refresh(); } }, 5000);

  document.addEventListener("hub:event", function (e) {
    var event = e.detail;
    var data = event.data || {};
    if (event.type === "instruction_updated") { onInstruction(data, event.replayed); }
    else if (event.type === "hand_created") { onHand(data); }
    else if (event.type === "render_completed") { onRenderCompleted(data); }
    else if (event.type === "alert") { onAlert(data); }
    if (summary) {
      refreshSummary();
      if (event.type === "render_completed" || data.status === "failed" || data.status === "completed") { refreshCharts(); }
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Manual actions: a dialog asks the reason, the JSON API does the work (and the audit)
  // ---------------------------------------------------------------------------------------------
  var ACTIONS = {
    retry: { title: "Retry instruction", url: function () { return "/api/actions/retry"; }, label: "Reason" },
    cancel: { title: "Cancel instruction", url: function () { return "/api/actions/cancel"; }, label: "Reason" },
    "change-priority": { title: "Change priority", url: function () { return "/api/actions/change-priority"; }, label: "Reason", priority: true },
    resolve: { title: "Resolve event", url: function (b) { return "/api/events/" + b.dataset.eventId + "/resolve"; }, label: "Notes" },
  };
  var dialog = document.getElementById("action-dialog");
  var current = null;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function username() {
    var who = document.querySelector(".topbar .who");
    return who ? who.textContent.trim() : "";
  }
  function errorText(body, status) {
    if (!body) { return "Request failed (" + status + ")."; }
    var parts = [body.detail || ("Request failed (" + status + ").")];
    Object.keys(body.errors || {}).forEach(function (k) { parts.push(k + ": " + [].concat(body.errors[k]).join(" ")); });
    return parts.join(" ");
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-action]");
    if (!button || !dialog) { return; }
    var spec = ACTIONS[button.dataset.action];
    if (!spec) { return; }
    current = { button: button, spec: spec };
    document.getElementById("action-title").textContent = spec.title;
    document.getElementById("action-subject").textContent = button.dataset.eventId ? "Event " + button.dataset.eventId : "Instruction " + button.dataset.instructionId;
    document.getElementById("action-text-label").textContent = spec.label;
    var priorityLabel = document.getElementById("action-priority-label");
    var priority = document.getElementById("action-priority");
    priorityLabel.hidden = !spec.priority;
    priority.required = !!spec.priority;
    priority.value = button.dataset.priority || "";
    document.getElementById("action-text").value = "";
    document.getElementById("action-error").hidden = true;
    dialog.showModal();
  });

  if (dialog) {
    document.getElementById("action-cancel").addEventListener("click", function () { dialog.close(); });
    document.getElementById("action-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (!current) { return; }
      var button = current.button, spec = current.spec;
      var textValue = document.getElementById("action-text").value.trim();
      var payload;
      if (button.dataset.action === "resolve") {
        // resolved_by is left to the server: it records the signed-in user.
        payload = { notes: textValue };
      } else {
        payload = { instruction_id: parseInt(button.dataset.instructionId, 10), reason: textValue };
        if (spec.priority) { payload.priority = parseInt(document.getElementById("action-priority").value, 10); }
      }
      // The row is found now: a live `alert` may mark it resolved (and drop this button) before
      // the response arrives.
      var row = button.closest("tr");
      var errorBox = document.getElementById("action-error");
      var submit = document.getElementById("action-submit");
      submit.disabled = true;
      fetch(spec.url(button), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(payload),
      }).then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (!response.ok) {
            errorBox.textContent = errorText(body, response.status);
            errorBox.hidden = false;
            return;
          }
          dialog.close();
          flash(spec.title + ": done.", "ok");
          if (button.dataset.action === "resolve") {
            if (row) { markResolved(row, (body && body.resolved_by) || username(), payload.notes); }
          }
        });
      }).catch(function () {
        errorBox.textContent = "The hub did not answer; nothing was changed on this page.";
        errorBox.hidden = false;
      }).finally(function () { submit.disabled = false; });
    });
  }
})();
