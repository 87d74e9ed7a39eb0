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
  // Times as the server writes them (templatetags/hub_format.py `when`): the time of day in the
  // hub's time zone, with the date in front when it is not today.
  var TIME_ZONE = document.body.dataset.timeZone || undefined;
  function zoned(date, opts) {
    try { return new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: TIME_ZONE }, opts)).format(date); }
    catch (e) { return new Intl.DateTimeFormat("en-GB", opts).format(date); }
  }
  function timeText(iso) {
    if (!iso) { return ""; }
    var date = new Date(iso);
    if (isNaN(date)) { return ""; }
    var clock = zoned(date, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    var day = { month: "short", day: "numeric" };
    if (zoned(date, day) === zoned(new Date(), day)) { return clock; }
    var parts = zoned(date, day).split(" ");  // "1 Dec" → "Dec 1"
    return parts.reverse().join(" ") + " " + clock;
  }
  var hhmmss = timeText;
  // How long ago, as templatetags/hub_format.py `age` writes it.
  function ageText(iso) {
    if (!iso) { return ""; }
    var seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return minutes + " m"; }
    var hours = Math.floor(minutes / 60);
    if (hours < 24) { return hours + " h " + String(minutes % 60).padStart(2, "0") + " m"; }
    return Math.floor(hours / 24) + " d " + (hours % 24) + " h";
  }
  // Seconds as templatetags/hub_format.py `duration` writes them: "8.5 s", "42 s", "1 m 12 s".
  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) { return "\u2013"; }
    var total = Math.round(seconds);
    if (total < 60) { return seconds < 10 ? (Math.round(seconds * 10) / 10).toFixed(1) + " s" : total + " s"; }
    var hours = Math.floor(total / 3600), minutes = Math.floor((total % 3600) / 60);
    return hours ? hours + " h " + minutes + " m" : minutes + " m " + (total % 60) + " s";
  }
  window.hubFormat = { timeText: timeText, ageText: ageText, duration: duration, thousands: thousands };
  window.setInterval(function () {
    document.querySelectorAll("[data-age-of]").forEach(function (cell) {
      if (cell.dataset.ageOf) { cell.textContent = ageText(cell.dataset.ageOf); }
    });
  }, 10000);
  function thousands(n) { return n === null || n === undefined || n === "" ? "" : Number(n).toLocaleString("en-US"); }
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
      if (name === "error_message") { cell.title = cell.textContent; }
    });
    if ("render_progress" in data) {
      node.querySelectorAll("[data-progress]").forEach(function (bar) {
        bar.setAttribute("aria-valuenow", String(data.render_progress));
        bar.firstElementChild.style.width = data.render_progress + "%";
      });
    }
    if (node.tagName === "TR") { node.className = "st-" + data.status; }
  }

  function progressCell(percent) {
    var bar = el("span", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
      "aria-valuenow": String(percent || 0), "data-progress": "" }, [el("span", { style: "width: " + (percent || 0) + "%" })]);
    return td([bar, text(" "), el("span", { "data-field": "render_progress", text: String(percent || 0) }), text(" %")], { class: "nowrap" });
  }

  // The same columns as templates/rendering/_instruction_row.html.
  function instructionRow(data, compact) {
    var cells = [
      td([link("/instructions/" + data.id + "/", String(data.id))]),
      td([text(data.template_name)], { "data-field": "template_name" }),
      td([el("span", { class: "badge st-" + data.status, "data-field": "status", text: data.status })]),
      progressCell(data.render_progress),
    ];
    if (!compact) {
      cells.push(td([text(data.error_message || "")], { class: "reason", "data-field": "error_message", title: data.error_message || "" }));
    }
    cells.push(td([text(data.priority)], { "data-field": "priority" }));
    if (!compact) {
      cells.push(td([text(data.trigger_type)], { "data-field": "trigger_type" }));
      cells.push(td(data.hand_id ? [link("/hands/" + data.hand_id + "/", String(data.hand_id))] : []));
    }
    cells.push(td([text(data.retry_count)], { "data-field": "retry_count" }));
    cells.push(td([el("time", { datetime: data.created_at || "", text: timeText(data.created_at) })]));
    if (!compact) { cells.push(td([text(ageText(data.created_at))], { class: "age", "data-age-of": data.created_at || "" })); }
    var row = el("tr", { class: "st-" + data.status, dataset: { instructionId: String(data.id) } }, cells);
    if (data.updated_at) { row.dataset.updatedAt = data.updated_at; }
    return row;
  }

  function tableAccepts(table, data) {
    var f = table.dataset;
    if (f.filterStatus && f.filterStatus.split(",").indexOf(data.status) < 0) { return false; }
    if (f.filterTemplate && String(data.template_name).toLowerCase().indexOf(f.filterTemplate.toLowerCase()) < 0) { return false; }
    if (f.filterTrigger && f.filterTrigger !== data.trigger_type) { return false; }
    if (f.filterHand && String(f.filterHand) !== String(data.hand_id)) { return false; }
    return true;
  }

  function onInstruction(data, replayed) {
    var shownDetail = document.getElementById("instruction-detail");
    var fresh = !!shownDetail && String(shownDetail.dataset.instructionId) === String(data.id) && isNewer(shownDetail, data);
    if (fresh && data.status) { updateActionButtons(data.status); }  // a replayed older state never
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
      var state = [data.status, data.retry_count, data.priority].join("|");
      if (data.status === "processing" && !data.action && state === detail.dataset.liveState) {
        beatTimeline(data.render_progress || 0);  // heartbeats fold into one "rendering … %" line
      } else {
        appendTimeline("Status " + data.status, "retry " + data.retry_count + ", priority " + data.priority +
          (data.error_message ? " — " + data.error_message : ""));
      }
      detail.dataset.liveState = state;
    }
    // A replayed event (catch-up after connect) happened before the page's queries ran: the
    // page already shows its row where it belongs, or rightly leaves it out; never insert it.
    if (replayed) { return; }
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

  function beatTimeline(progress) {
    var list = document.getElementById("timeline");
    if (!list) { return; }
    var last = list.lastElementChild, now = new Date().toISOString();
    var line = last && last.classList.contains("tl-beat") ? last : null;
    if (!line) {
      line = el("li", { class: "tl-beat live-added" }, [el("time", {}), text(" "), el("strong", {})]);
      list.appendChild(line);
    }
    line.querySelector("time").setAttribute("datetime", now);
    line.querySelector("time").textContent = timeText(now);
    line.querySelector("strong").textContent = "Rendering … " + progress + " %";
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
    var rank = data.hand_rank_display || String(data.hand_rank || "");  // the server's label (HandRank)
    var rankCell = td([text(rank)]);
    if (data.is_premium) { rankCell.appendChild(text(" ")); rankCell.appendChild(el("span", { class: "badge premium", text: "premium" })); }
    return el("tr", { class: data.is_premium ? "premium" : "", dataset: { handId: String(data.id) } }, [
      td([link("/hands/" + data.id + "/", String(data.id))]), td([text(data.table_id)]), td([text(data.hand_number)]),
      rankCell, td([text(thousands(data.pot_size))], { class: "num" }), td([text(data.winner)]),
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

  // The same card as templates/rendering/_output_card.html.
  function outputCard(data) {
    var preview = "/outputs/" + data.output_id + "/preview", instruction = "/instructions/" + data.instruction_id + "/";
    var img = el("img", { src: preview, alt: "Output " + data.output_id + " of instruction " + data.instruction_id, class: "thumb" });
    var caption = "#" + data.instruction_id + " " + (data.template_name || "") + " · " + timeText(data.completed_at);
    return el("figure", { class: "output-card live-added", dataset: { outputId: String(data.output_id), instructionId: String(data.instruction_id) } }, [
      el("a", { href: preview, class: "thumb-link", "data-viewer": "", "data-caption": caption, "data-instruction-url": instruction }, [img]),
      el("figcaption", {}, [link(instruction, "#" + data.instruction_id), text(" " + (data.template_name || "") + " · " +
        thousands(Math.round((data.file_size || 0) / 1024)) + " KB · " + timeText(data.completed_at))]),
    ]);
  }

  // ---------------------------------------------------------------------------------------------
  // Full-size viewer: a click on a graphic opens it at its own size; ← → move through the
  // graphics of the page, Esc closes (the dialog's own).
  // ---------------------------------------------------------------------------------------------
  var viewer = document.getElementById("viewer");
  var viewing = -1;
  function viewerLinks() { return [].slice.call(document.querySelectorAll("a[data-viewer]")); }
  function viewerShow(index) {
    var links = viewerLinks();
    if (!links.length) { return; }
    viewing = (index + links.length) % links.length;
    var a = links[viewing];
    document.getElementById("viewer-image").src = a.getAttribute("href");
    document.getElementById("viewer-image").alt = (a.querySelector("img") || {}).alt || "";
    document.getElementById("viewer-caption").textContent = (a.dataset.caption || "") + "  (" + (viewing + 1) + " of " + links.length + ")";
    document.getElementById("viewer-instruction").href = a.dataset.instructionUrl || "#";
    document.getElementById("viewer-original").href = a.getAttribute("href");
    if (!viewer.open) { viewer.showModal(); }
  }
  if (viewer) {
    document.addEventListener("click", function (e) {
      var a = e.target.closest("a[data-viewer]");
      if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) { return; }
      e.preventDefault();
      viewerShow(viewerLinks().indexOf(a));
    });
    viewer.addEventListener("keydown", function (e) {
      if (e.key === "ArrowRight") { e.preventDefault(); viewerShow(viewing + 1); }
      else if (e.key === "ArrowLeft") { e.preventDefault(); viewerShow(viewing - 1); }
    });
    document.getElementById("viewer-next").addEventListener("click", function () { viewerShow(viewing + 1); });
    document.getElementById("viewer-prev").addEventListener("click", function () { viewerShow(viewing - 1); });
    document.getElementById("viewer-close").addEventListener("click", function () { viewer.close(); });
    viewer.addEventListener("click", function (e) { if (e.target === viewer) { viewer.close(); } });  // the backdrop
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
    if (data.hand_id) { concerns.appendChild(text(" ")); concerns.appendChild(link("/hands/" + data.hand_id + "/", "hand " + data.hand_id)); }
    var action = td([]);
    if (data.id && !data.resolved) {
      action.appendChild(el("button", { type: "button", "data-action": "resolve", "data-event-id": String(data.id), text: "Resolve…" }));
    }
    var at = data.created_at || new Date().toISOString();
    return el("tr", { class: "sev-" + data.severity, dataset: { eventId: String(data.id) } }, [
      td([el("time", { datetime: at, text: timeText(at) })]),
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
    // Simulated traffic stays apart: shown only where the filter asks for it.
    var wantsSimulated = f.filterSimulated === "true", wantsBoth = f.filterSimulated === "any";
    if (!wantsBoth && Boolean(data.simulated) !== wantsSimulated) { return; }
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
      .then(function (html) {
        if (html === null) { return; }
        // Alert groups an engineer opened stay open across the refresh.
        var opened = [].map.call(summary.querySelectorAll(".alert-group details[open]"), function (d) { return d.parentNode.dataset.code; });
        summary.innerHTML = html;
        opened.forEach(function (code) {
          var group = summary.querySelector('.alert-group[data-code="' + CSS.escape(code) + '"] details');
          if (group) { group.open = true; }
        });
      });
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
    "edit-retry": { title: "Edit & retry instruction", url: function () { return "/api/actions/edit-retry"; }, label: "Reason (what you changed and why)" },
    cancel: { title: "Cancel instruction", url: function () { return "/api/actions/cancel"; }, label: "Reason" },
    "change-priority": { title: "Change priority", url: function () { return "/api/actions/change-priority"; }, label: "Reason" },
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
  function jsonScript(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  // {"output_settings": {"frame_count": ["…"]}} → ["output_settings.frame_count: …"]
  function fieldMessages(errors, prefix) {
    var out = [];
    Object.keys(errors || {}).forEach(function (k) {
      var name = prefix ? prefix + "." + k : k, value = errors[k];
      if (value && typeof value === "object" && !Array.isArray(value)) { out = out.concat(fieldMessages(value, name)); }
      else { out.push(name + ": " + [].concat(value).join(" ")); }
    });
    return out;
  }
  function errorText(body, status) {
    if (!body) { return "Request failed (" + status + ")."; }
    return [body.detail || ("Request failed (" + status + ").")].concat(fieldMessages(body.errors, "")).join(" ");
  }

  // Buttons that cannot apply to the instruction's current state are disabled, with why.
  var actionRules = jsonScript("action-rules");
  function updateActionButtons(status) {
    var box = document.getElementById("instruction-actions");
    if (!box || !actionRules) { return; }
    box.dataset.status = status;
    box.querySelectorAll("button[data-action]").forEach(function (button) {
      var rule = actionRules[button.dataset.action];
      if (!rule) { return; }
      var why = rule.why_not[status] || "";
      button.disabled = !!why;
      if (why) { button.title = why; } else { button.removeAttribute("title"); }
    });
  }

  function capabilitiesText(caps) {
    if (!caps) { return ""; }
    return "The " + caps.backend + " renderer takes " + caps.formats.join(" / ") + ", " + caps.resolution.min + " … " +
      caps.resolution.max + ", " + caps.frame_count.min + " … " + caps.frame_count.max + " frames" +
      (caps.video_encoding ? "." : " (no video encoder on the workers).");
  }

  function openAction(button) {
    var spec = ACTIONS[button.dataset.action];
    if (!spec || !dialog) { return; }
    current = { button: button, spec: spec };
    var name = button.dataset.action;
    document.getElementById("action-title").textContent = spec.title;
    document.getElementById("action-subject").textContent = button.dataset.eventId ? "Event " + button.dataset.eventId : "Instruction " + button.dataset.instructionId;
    document.getElementById("action-text-label").textContent = spec.label;
    // Only this action's own fields are shown (and required).
    dialog.querySelectorAll("[data-field-of]").forEach(function (node) {
      var mine = node.dataset.fieldOf === name;
      node.hidden = !mine;
      node.querySelectorAll("input, textarea").forEach(function (input) { input.required = mine; input.disabled = !mine; });
    });
    document.getElementById("action-priority").value = button.dataset.priority || "";
    if (name === "edit-retry") {
      document.getElementById("action-layer-data").value = JSON.stringify(jsonScript("instruction-layer-data") || {}, null, 2);
      document.getElementById("action-output-settings").value = JSON.stringify(jsonScript("instruction-output-settings") || {}, null, 2);
      document.getElementById("action-capabilities").textContent = capabilitiesText(jsonScript("render-capabilities"));
    }
    document.getElementById("action-text").value = "";
    document.getElementById("action-error").hidden = true;
    dialog.showModal();
    document.getElementById("action-text").focus();
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-action]");
    if (!button || button.disabled) { return; }
    openAction(button);
  });

  function actionPayload(button, spec, textValue) {
    var name = button.dataset.action;
    if (name === "resolve") {
      // resolved_by is left to the server: it records the signed-in user.
      return { notes: textValue };
    }
    var payload = { instruction_id: parseInt(button.dataset.instructionId, 10), reason: textValue };
    if (name === "change-priority") { payload.priority = parseInt(document.getElementById("action-priority").value, 10); }
    if (name === "edit-retry") {
      [["layer_data", "action-layer-data"], ["output_settings", "action-output-settings"]].forEach(function (pair) {
        var raw = document.getElementById(pair[1]).value.trim();
        try { payload[pair[0]] = raw ? JSON.parse(raw) : {}; }
        catch (err) { throw new Error(pair[0] + ": not valid JSON (" + err.message + ")"); }
      });
    }
    return payload;
  }

  // The admin's "Edit & retry" link lands here with the form open.
  if (window.location.hash === "#edit-retry") {
    var editButton = document.querySelector('button[data-action="edit-retry"]:not([disabled])');
    if (editButton) { openAction(editButton); }
  }

  if (dialog) {
    document.getElementById("action-cancel").addEventListener("click", function () { dialog.close(); });
    // Enter in the reason submits (Shift+Enter: a new line); Ctrl/Cmd+Enter anywhere.
    dialog.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.isComposing) { return; }
      var inReason = e.target.id === "action-text" && !e.shiftKey;
      if (inReason || e.ctrlKey || e.metaKey) {
        e.preventDefault();
        document.getElementById("action-form").requestSubmit();
      }
    });
    document.getElementById("action-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (!current) { return; }
      var button = current.button, spec = current.spec;
      var textValue = document.getElementById("action-text").value.trim();
      var errorBox = document.getElementById("action-error");
      var payload;
      try { payload = actionPayload(button, spec, textValue); }
      catch (err) { errorBox.textContent = err.message; errorBox.hidden = false; return; }
      // The row is found now: a live `alert` may mark it resolved (and drop this button) before
      // the response arrives.
      var row = button.closest("tr");
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
          if (button.dataset.action === "edit-retry") {
            if (payload.layer_data) { document.getElementById("instruction-layer-data").textContent = JSON.stringify(payload.layer_data); }
            if (payload.output_settings) { document.getElementById("instruction-output-settings").textContent = JSON.stringify(payload.output_settings); }
          }
        });
      }).catch(function () {
        errorBox.textContent = "The hub did not answer; nothing was changed on this page.";
        errorBox.hidden = false;
      }).finally(function () { submit.disabled = false; });
    });
  }
})();
