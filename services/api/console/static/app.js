/* Vigil console: sign-in, incidents (live), approvals, silences, the kill switch, predictions
 * and models, over the REST API with the operator's key.
 *
 * The key lives in sessionStorage (this tab only, gone when it closes) and goes out only as
 * an Authorization header to this origin. Pages are built with the DOM and textContent, never
 * innerHTML with data, so nothing the API returns can run as markup. The API decides every
 * permission (roles, N-of-M approval, no self-approval); the console shows its answer.
 */
"use strict";

(function () {
  const KEY = "vigil.apiKey";
  const ROLES = ["viewer", "responder", "approver", "admin"];
  const STATUSES = ["open", "acknowledged", "mitigating", "resolved"];
  const SEVERITIES = ["info", "warning", "error", "critical"];
  const FEEDBACK = [
    ["true_positive", "True positive"], ["false_positive", "False positive"],
    ["wrong_grouping", "Wrong grouping"], ["root_cause", "Root cause"],
  ];
  const state = { me: null, stream: null, refresh: null };
  const main = () => document.getElementById("main");

  // --- small DOM helpers --------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  // Replace an element's children; null, undefined and false (absent parts) are left out.
  function show(parent, ...children) {
    parent.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  }

  function table(caption, headers, rows) {
    const head = h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)));
    return h("table", {}, h("caption", {}, caption), h("thead", {}, head), h("tbody", {}, rows));
  }

  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toISOString().replace("T", " ").slice(0, 19);
  }

  function badge(severity) {
    return h("span", { class: "badge sev-" + severity }, severity);
  }

  function can(role) {
    return state.me && ROLES.indexOf(state.me.role) >= ROLES.indexOf(role);
  }

  function announce(text) {
    const live = document.getElementById("live");
    live.appendChild(h("p", {}, text));
    while (live.childNodes.length > 5) live.removeChild(live.firstChild);
  }

  function notice(text) {
    const box = document.getElementById("notice");
    box.textContent = text || "";
    box.hidden = !text;
  }

  // --- the API ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, detail) {
      super(`${status}: ${detail}`);
      this.status = status;
      this.detail = detail;
    }
  }

  function describe(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {  // FastAPI's validation errors: name each field
      return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
    }
    return JSON.stringify(detail);
  }

  async function api(method, path, body, key) {
    const headers = { Authorization: "Bearer " + (key || sessionStorage.getItem(KEY) || "") };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch("/api/v1" + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
    });
    if (response.status === 204) return null;
    let payload = null;
    try { payload = await response.json(); } catch (err) { payload = null; }
    if (!response.ok) {
      if (response.status === 401 && !key) signOut("Your key was refused (401); sign in again.");
      const reasons = { 403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Invalid input", 429: "Too many attempts" };
      const what = reasons[response.status] || "Error";
      throw new ApiError(response.status, `${what} (${response.status}): ${describe(payload && payload.detail)}`);
    }
    return payload;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      for (const item of [].concat(v)) if (item !== "" && item !== null && item !== undefined) q.append(k, item);
    }
    const s = q.toString();
    return s ? "?" + s : "";
  }

  // A button that calls the API, disables itself meanwhile and shows failures in `out`.
  function actionButton(label, out, run, attrs) {
    const button = h("button", { type: "button", ...(attrs || {}) }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      out.textContent = "";
      out.className = "row-error";
      try {
        const message = await run();
        out.className = "ok";
        out.textContent = message || "";
      } catch (err) {
        out.textContent = err instanceof ApiError ? err.detail : String(err);
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  // --- sign-in ------------------------------------------------------------------------------

  function renderSignIn(message) {
    document.getElementById("nav").hidden = true;
    document.getElementById("who").hidden = true;
    const error = h("p", { id: "signin-error", class: "error", role: "alert" }, message || "");
    const input = h("input", {
      id: "api-key", name: "api-key", type: "password", autocomplete: "off", required: true,
      spellcheck: "false", "aria-describedby": "key-help signin-error",
    });
    const form = h("form", {},
      h("label", { for: "api-key" }, "API key"), input,
      h("p", { id: "key-help", class: "muted" },
        "A key from `vigil keys create --role ROLE --name NAME` (or printed by `vigil up`). ",
        "It is kept in this tab only and sent only to this server."),
      h("button", { type: "submit" }, "Sign in"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      try {
        state.me = await api("GET", "/whoami", undefined, key);
        sessionStorage.setItem(KEY, key);
        input.value = "";
        startSession();
      } catch (err) {
        error.textContent = err instanceof ApiError && err.status === 401
          ? "That key was not accepted (401). Check it and try again."
          : (err instanceof ApiError ? err.detail : "Cannot reach the API: " + err);
        input.focus();
      }
    });
    show(main(), h("section", { class: "signin", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title" }, "Sign in to Vigil"), error, form));
    input.focus();
  }

  function startSession() {
    document.getElementById("nav").hidden = false;
    document.getElementById("who").hidden = false;
    document.getElementById("who-name").textContent = `${state.me.name} (${state.me.role})`;
    if (state.stream) state.stream.stop();
    state.stream = new window.VigilStream(sessionStorage.getItem(KEY), onStreamEvent, (up) => {
      const badgeEl = document.getElementById("stream-state");
      badgeEl.textContent = up ? "live" : "offline";
      badgeEl.classList.toggle("live", up);
    });
    state.stream.start();
    if (!location.hash || location.hash === "#/") location.hash = "#/incidents";
    else route();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    state.me = null;
    if (state.stream) state.stream.stop();
    state.stream = null;
    renderSignIn(message);
  }

  function onStreamEvent(ev) {
    if (ev.type === "unauthorized") { signOut("Your key was refused by the stream; sign in again."); return; }
    const inc = ev.data;
    if (!inc || !inc.incident_id) return;
    announce(`Incident ${ev.type}: ${inc.title} (${inc.service}, ${inc.severity})`);
    if (state.refresh && state.refresh.matches(inc)) state.refresh.run();
  }

  // Coalesce bursts of stream events into one reload of the current view. While the operator
  // is typing in the view, offer the update instead of wiping what they typed.
  function refresher(matches, reload) {
    let pending = null;
    const editing = () => {
      const el = document.activeElement;
      return el && main().contains(el) && /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
    };
    return {
      matches,
      run() {
        if (pending) return;
        pending = setTimeout(() => {
          pending = null;
          if (!editing()) { reload(); return; }
          const box = document.getElementById("notice");
          box.replaceChildren("This view has changed. ",
            h("button", { type: "button", class: "secondary", onclick: () => { notice(""); reload(); } }, "Show changes"));
          box.hidden = false;
        }, 300);
      },
    };
  }

  // --- incidents ----------------------------------------------------------------------------

  function filtersFromHash(params) {
    return {
      status: params.getAll("status"), severity: params.getAll("severity"),
      service: params.get("service") || "",
    };
  }

  async function renderIncidents(params) {
    const f = filtersFromHash(params);
    const statusSel = h("select", { id: "f-status", name: "status" },
      h("option", { value: "" }, "any"), STATUSES.map((s) => h("option", { value: s, selected: f.status[0] === s }, s)));
    const sevSel = h("select", { id: "f-severity", name: "severity" },
      h("option", { value: "" }, "any"), SEVERITIES.map((s) => h("option", { value: s, selected: f.severity[0] === s }, s)));
    const svc = h("input", { id: "f-service", name: "service", value: f.service, size: 16 });
    const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter incidents" },
      h("label", { for: "f-status" }, "Status", statusSel),
      h("label", { for: "f-severity" }, "Severity", sevSel),
      h("label", { for: "f-service" }, "Service", svc),
      h("button", { type: "submit" }, "Apply"));
    filters.addEventListener("submit", (ev) => {
      ev.preventDefault();
      location.hash = "#/incidents" + query({ status: statusSel.value, severity: sevSel.value, service: svc.value.trim() });
    });
    const body = h("div", { id: "incident-list" });
    show(main(), h("h1", {}, "Incidents"), filters, body);

    let items = [];
    let cursor = null;
    const load = async (more) => {
      const page = await api("GET", "/incidents" + query({ ...f, limit: 50, cursor: more ? cursor : "" }));
      items = more ? items.concat(page.items) : page.items;
      cursor = page.next_cursor;
      const rows = items.map((i) => h("tr", { "data-incident": i.id },
        h("td", {}, when(i.opened_at)), h("td", {}, badge(i.severity)), h("td", {}, i.status),
        h("td", {}, i.service), h("td", {}, h("a", { href: "#/incidents/" + encodeURIComponent(i.id) }, i.title)),
        h("td", {}, String(i.signal_count)), h("td", {}, i.assignee || "")));
      const more_ = cursor ? h("button", { type: "button", class: "secondary", onclick: () => load(true) }, "Load more") : null;
      show(body,
        items.length ? table(`${items.length} incident(s), newest first; updates live`,
          ["Opened (UTC)", "Severity", "Status", "Service", "Title", "Signals", "Assignee"], rows)
          : h("p", { class: "muted" }, "No incidents match. New ones appear here as they open."),
        more_);
    };
    state.refresh = refresher((inc) => !f.service || inc.service === f.service || (inc.services || []).includes(f.service), () => load(false));
    await load(false);
  }

  async function renderIncident(id) {
    const [inc, timeline, feedback, actions] = await Promise.all([
      api("GET", "/incidents/" + encodeURIComponent(id)),
      api("GET", `/incidents/${encodeURIComponent(id)}/timeline`),
      api("GET", `/incidents/${encodeURIComponent(id)}/feedback`),
      api("GET", "/actions" + query({ incident_id: id, limit: 100 })),
    ]);
    const out = h("p", { class: "row-error", role: "status" });
    const lifecycle = can("responder") ? h("div", { class: "buttons" },
      ["acknowledge", "mitigate", "resolve", "reopen"].map((cmd) => actionButton(cmd[0].toUpperCase() + cmd.slice(1), out, async () => {
        await api("POST", `/incidents/${encodeURIComponent(id)}/${cmd}`, {});
        await renderIncident(id);
        return "";
      }, { class: "secondary" }))) : null;

    const facts = h("dl", { class: "facts" }, [
      ["Status", inc.status], ["Severity", badge(inc.severity)], ["Service", inc.service],
      ["Services", (inc.services || []).join(", ")], ["Opened", when(inc.opened_at) + " UTC"],
      ["Last signal", when(inc.last_signal_at)], ["Signals", String(inc.signal_count)],
      ["Assignee", inc.assignee || "nobody"], ["Silenced", inc.silenced ? "yes" : "no"],
    ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));

    const firing = timeline.filter((e) => e.kind === "anomaly.firing" && e.detail && e.detail.explanation);
    const explanation = firing.length
      ? h("ul", {}, firing.map((e) => h("li", {}, h("strong", {}, e.detail.series || ""), ": ",
        e.detail.explanation.detail || "", ` [${e.detail.detector || e.detail.explanation.component}, score ${Number(e.detail.score).toFixed(2)}]`)))
      : h("p", { class: "muted" }, "No anomaly explanation (the incident came from alerts or predictions).");

    const series = window.VigilChart.seriesFromTimeline(timeline);
    const charts = series.size
      ? [...series.entries()].map(([name, pts], i) => window.VigilChart.render(name, pts, i))
      : [h("p", { class: "muted" }, "No anomalous series to chart.")];

    const causes = (inc.root_causes || []).length
      ? table("Most likely first", ["Rank", "Service", "Score", "Reason", "Anomalous"],
        inc.root_causes.map((c, i) => h("tr", {}, h("td", {}, String(i + 1)), h("td", {}, c.service),
          h("td", {}, Number(c.score).toFixed(2)), h("td", {}, c.reason), h("td", {}, c.anomalous ? "yes" : "no (silent dependency)"))))
      : h("p", { class: "muted" }, "No ranking yet: it appears once signals of a second service join.");

    show(main(),
      h("p", {}, h("a", { href: "#/incidents" }, "← All incidents")),
      h("h1", {}, inc.title), facts, lifecycle, out,
      h("section", { "aria-labelledby": "h-expl" }, h("h2", { id: "h-expl" }, "Explanation"), explanation),
      h("section", { "aria-labelledby": "h-series" }, h("h2", { id: "h-series" }, "Anomalous series"), charts),
      h("section", { "aria-labelledby": "h-rca" }, h("h2", { id: "h-rca" }, "Root-cause ranking"), causes),
      h("section", { "aria-labelledby": "h-actions" }, h("h2", { id: "h-actions" }, "Remediation actions"),
        actions.items.length ? actionsTable(actions.items, () => renderIncident(id), "Proposed for this incident") : h("p", { class: "muted" }, "No actions proposed.")),
      feedbackSection(id, feedback, [...series.keys()]),
      h("section", { "aria-labelledby": "h-timeline" }, h("h2", { id: "h-timeline" }, "Timeline"),
        h("ol", { class: "timeline" }, timeline.map((e) => h("li", {},
          h("time", { datetime: e.at }, when(e.at)), h("span", { class: "kind" }, e.kind), " by ", e.actor,
          summaryOf(e) ? " — " + summaryOf(e) : ""))))
    );
    state.refresh = refresher((ev) => ev.incident_id === id, () => renderIncident(id).catch(showError));
  }

  function summaryOf(entry) {
    const d = entry.detail || {};
    if (d.explanation && d.explanation.detail) return d.explanation.detail;
    for (const k of ["summary", "text", "note", "comment", "reason"]) if (typeof d[k] === "string" && d[k]) return d[k];
    if (d.label) return d.label;
    if (d.from !== undefined && d.to !== undefined) return `${d.from ?? "none"} → ${d.to ?? "none"}`;
    return "";
  }

  function feedbackSection(id, given, seriesNames) {
    const out = h("p", { class: "row-error", role: "status", id: "feedback-status" });
    const comment = h("input", { id: "fb-comment", name: "comment", size: 40, maxlength: 2000 });
    const seriesSel = h("select", { id: "fb-series", name: "series" },
      h("option", { value: "" }, "(none)"), seriesNames.map((s) => h("option", { value: s }, s)));
    const list = given.length
      ? table("Feedback given", ["When (UTC)", "Label", "By", "Comment"], given.map((f) => h("tr", {},
        h("td", {}, when(f.created_at)), h("td", {}, f.label), h("td", {}, f.author), h("td", {}, f.comment))))
      : h("p", { class: "muted" }, "No feedback yet.");
    const buttons = can("responder")
      ? h("div", {},
        h("div", { class: "filters" }, h("label", { for: "fb-comment" }, "Comment (optional)", comment),
          h("label", { for: "fb-series" }, "Series (root cause, or grouped wrongly)", seriesSel)),
        h("div", { class: "buttons", role: "group", "aria-label": "Label this incident" },
          FEEDBACK.map(([label, text]) => actionButton(text, out, async () => {
            const body = { label, comment: comment.value };
            if (seriesSel.value) body.series = [seriesSel.value];
            await api("POST", `/incidents/${encodeURIComponent(id)}/feedback`, body);
            await renderIncident(id);
            announce(`Feedback recorded: ${text}`);
            return "";
          }, { class: "secondary", "data-label": label }))))
      : h("p", { class: "muted" }, "Giving feedback needs the responder role.");
    return h("section", { "aria-labelledby": "h-feedback" }, h("h2", { id: "h-feedback" }, "Feedback"), buttons, out, list);
  }

  // --- approvals ----------------------------------------------------------------------------

  function actionsTable(items, after, caption) {
    const rows = items.map((a) => {
      const out = h("span", { class: "row-error", role: "status" });
      const comment = h("input", { id: "c-" + a.id, size: 18, maxlength: 2000 });
      const decide = a.state === "proposed" && can("approver")
        ? h("div", { class: "buttons" },
          h("label", { for: "c-" + a.id, class: "visually-hidden" }, `Comment on ${a.action} ${a.target}`), comment,
          actionButton("Approve", out, async () => {
            const r = await api("POST", `/actions/${encodeURIComponent(a.id)}/approve`, { comment: comment.value });
            announce(`Action ${a.action} on ${a.target}: ${r.state}`);
            setTimeout(after, 800);
            return `Recorded: now ${r.state} (${r.approved_by.length} of ${r.required_approvals})`;
          }, { "aria-label": `Approve ${a.action} on ${a.target}` }),
          actionButton("Reject", out, async () => {
            const r = await api("POST", `/actions/${encodeURIComponent(a.id)}/reject`, { comment: comment.value });
            announce(`Action ${a.action} on ${a.target}: ${r.state}`);
            setTimeout(after, 800);
            return "Recorded: " + r.state;
          }, { class: "danger", "aria-label": `Reject ${a.action} on ${a.target}` }), out)
        : h("span", { class: "muted" }, a.state === "proposed" ? "needs the approver role" : "");
      return h("tr", { "data-action": a.id },
        h("td", {}, `${a.action} → ${a.target}`), h("td", {}, a.risk),
        h("td", {}, h("a", { href: "#/incidents/" + encodeURIComponent(a.incident_id) }, a.incident_id.slice(0, 8))),
        h("td", {}, a.policy), h("td", {}, a.requested_by), h("td", { class: "state" }, a.state + (a.held ? " (held)" : "")),
        h("td", {}, `${a.approved_by.length} of ${a.required_approvals}`), h("td", {}, when(a.expires_at)), h("td", {}, decide));
    });
    return table(caption || "Newest first", ["Action", "Risk", "Incident", "Policy", "Requested by", "State", "Approvals", "Expires (UTC)", "Decision"], rows);
  }

  async function renderApprovals() {
    const body = h("div", { id: "approvals" });
    show(main(), h("h1", {}, "Pending approvals"),
      h("p", { class: "muted" }, "The API enforces roles, the number of approvals a policy needs, and that nobody approves their own request; its refusals are shown next to the action."),
      body);
    const load = async () => {
      const page = await api("GET", "/actions" + query({ state: "proposed", limit: 100 }));
      show(body, page.items.length ? actionsTable(page.items, load, "Waiting for a decision")
        : h("p", { class: "muted" }, "Nothing waits for approval."));
      const recent = await api("GET", "/actions" + query({ limit: 20 }));
      const decided = recent.items.filter((a) => a.state !== "proposed");
      if (decided.length) body.append(h("h2", {}, "Recently decided"), actionsTable(decided, load, "The last 20 actions, newest first"));
    };
    state.refresh = refresher(() => true, () => load().catch(showError));
    await load();
  }

  // --- silences -----------------------------------------------------------------------------

  async function renderSilences() {
    const list = h("div", { id: "silence-list" });
    const out = h("p", { class: "row-error", role: "status" });
    const label = h("input", { id: "s-label", value: "service", required: true, size: 12 });
    const op = h("select", { id: "s-op" }, ["=", "!=", "=~", "!~"].map((o) => h("option", { value: o }, o)));
    const value = h("input", { id: "s-value", required: true, size: 16 });
    const minutes = h("input", { id: "s-minutes", type: "number", min: 1, max: 100000, value: 60, required: true, size: 6 });
    const kind = h("select", { id: "s-kind" }, h("option", { value: "silence" }, "silence"), h("option", { value: "maintenance" }, "maintenance"));
    const comment = h("input", { id: "s-comment", size: 24, maxlength: 2000 });
    const form = h("form", { class: "inline", "aria-labelledby": "h-new-silence" },
      h("label", { for: "s-label" }, "Label", label), h("label", { for: "s-op" }, "Operator", op),
      h("label", { for: "s-value" }, "Value", value), h("label", { for: "s-minutes" }, "Minutes", minutes),
      h("label", { for: "s-kind" }, "Kind", kind), h("label", { for: "s-comment" }, "Comment", comment),
      h("button", { type: "submit" }, "Create silence"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      out.textContent = "";
      const ends = new Date(Date.now() + Number(minutes.value) * 60000).toISOString();
      try {
        await api("POST", "/silences", {
          kind: kind.value, comment: comment.value, ends_at: ends,
          matchers: [{ label: label.value.trim(), op: op.value, value: value.value }],
        });
        announce("Silence created");
        value.value = "";
        await load();
      } catch (err) {
        out.textContent = err instanceof ApiError ? err.detail : String(err);
      }
    });
    const load = async () => {
      const page = await api("GET", "/silences" + query({ limit: 200 }));
      const rows = page.items.map((s) => {
        const rowOut = h("span", { class: "row-error", role: "status" });
        const expire = s.active && can("responder") ? actionButton("Expire", rowOut, async () => {
          await api("PATCH", `/silences/${encodeURIComponent(s.id)}`, { ends_at: new Date().toISOString() });
          announce("Silence expired");
          await load();
          return "";
        }, { class: "secondary", "aria-label": "Expire silence " + s.matchers.map((m) => m.label + m.op + m.value).join(", ") }) : null;
        return h("tr", {}, h("td", {}, s.kind), h("td", {}, s.matchers.map((m) => `${m.label} ${m.op} "${m.value}"`).join(", ")),
          h("td", {}, when(s.starts_at)), h("td", {}, when(s.ends_at)), h("td", {}, s.active ? "active" : "not active"),
          h("td", {}, s.created_by), h("td", {}, s.comment), h("td", {}, expire, rowOut));
      });
      show(list, rows.length ? table("Silences and maintenance windows", ["Kind", "Matchers", "Starts (UTC)", "Ends (UTC)", "State", "By", "Comment", ""], rows)
        : h("p", { class: "muted" }, "No silences."));
    };
    show(main(), h("h1", {}, "Silences"),
      can("responder") ? h("section", {}, h("h2", { id: "h-new-silence" }, "New silence"), form, out) : null, list);
    state.refresh = null;
    await load();
  }

  // --- automation (kill switch) -------------------------------------------------------------

  async function renderAutomation() {
    const ks = await api("GET", "/remediation/kill-switch");
    const out = h("p", { class: "row-error", role: "status" });
    const reason = h("input", { id: "ks-reason", size: 40, maxlength: 2000, value: ks.engaged ? ks.reason : "" });
    const flip = can("admin") ? h("div", {},
      h("label", { for: "ks-reason" }, "Reason", reason),
      h("div", { class: "buttons" }, actionButton(ks.engaged ? "Release the kill switch" : "Engage the kill switch", out, async () => {
        await api("PUT", "/remediation/kill-switch", { engaged: !ks.engaged, reason: reason.value });
        announce(ks.engaged ? "Kill switch released" : "Kill switch engaged");
        await renderAutomation();
        return "";
      }, { class: ks.engaged ? "" : "danger" })))
      : h("p", { class: "muted" }, "Changing the kill switch needs the admin role.");
    const rates = await api("GET", "/remediation/success-rates");
    show(main(), h("h1", {}, "Automation"),
      h("p", { id: "ks-state", class: ks.engaged ? "switch-engaged" : "ok" },
        ks.engaged ? `Kill switch ENGAGED: all automation stopped (${ks.reason || "no reason given"}; by ${ks.changed_by}, ${when(ks.changed_at)} UTC).`
          : "Kill switch released: approved actions run."),
      flip, out,
      h("h2", {}, "Success rates"),
      rates.length ? table("Per runbook and incident kind", ["Action", "Incident kind", "Attempts", "Verified", "Failed", "Rolled back", "Success rate"],
        rates.map((r) => h("tr", {}, h("td", {}, r.runbook), h("td", {}, r.incident_kind), h("td", {}, String(r.attempts)),
          h("td", {}, String(r.verified)), h("td", {}, String(r.failed)), h("td", {}, String(r.rolled_back)),
          h("td", {}, r.success_rate === null ? "" : (100 * r.success_rate).toFixed(0) + "%"))))
        : h("p", { class: "muted" }, "No actions have run yet."));
    state.refresh = null;
  }

  // --- predictions and models ---------------------------------------------------------------

  async function renderPredictions() {
    const page = await api("GET", "/predictions" + query({ limit: 100 }));
    show(main(), h("h1", {}, "Predictions"),
      page.items.length ? table("Newest first", ["At (UTC)", "Service", "Kind", "Series", "Probability", "Lead time", "Value", "Status"],
        page.items.map((p) => h("tr", {}, h("td", {}, when(p.at)), h("td", {}, p.service), h("td", {}, p.kind), h("td", {}, p.series || ""),
          h("td", {}, (100 * p.probability).toFixed(0) + "%"), h("td", {}, p.lead_time_s === null ? "" : Math.round(p.lead_time_s) + " s"),
          h("td", {}, p.value === null ? "" : String(p.value)), h("td", {}, p.status || ""))))
        : h("p", { class: "muted" }, "No predictions yet."));
    state.refresh = null;
  }

  async function renderModels() {
    const [records, versions] = await Promise.all([api("GET", "/models" + query({ limit: 200 })), api("GET", "/models/versions")]);
    show(main(), h("h1", {}, "Models"),
      h("h2", {}, "Detector versions"),
      versions.length ? table("Newest first", ["Version", "Detector", "Status", "By", "Created (UTC)", "Comment"], versions.map((v) => h("tr", {},
        h("td", {}, String(v.version)), h("td", {}, v.detector), h("td", {}, v.status), h("td", {}, v.created_by),
        h("td", {}, when(v.created_at)), h("td", {}, v.comment))))
        : h("p", { class: "muted" }, "No versions recorded."),
      h("h2", {}, `Series models (${records.total})`),
      records.items.length ? table("As their detect workers last reported them", ["Series", "Service", "Model", "Version", "Points", "Reported (UTC)"],
        records.items.map((r) => h("tr", {}, h("td", {}, r.series), h("td", {}, r.service), h("td", {}, r.model_type),
          h("td", {}, String(r.version)), h("td", {}, String(r.points)), h("td", {}, when(r.reported_at)))))
        : h("p", { class: "muted" }, "No model reports yet."));
    state.refresh = null;
  }

  // --- routing ------------------------------------------------------------------------------

  function showError(err) {
    if (!state.me) return;  // signed out meanwhile (a refused key): the sign-in form stays
    show(main(), h("h1", {}, "Something went wrong"),
      h("p", { class: "error", role: "alert" }, err instanceof ApiError ? err.detail : String(err)));
  }

  async function route() {
    if (!state.me) return;
    notice("");
    state.refresh = null;
    const [path, search] = (location.hash.slice(1) || "/incidents").split("?");
    const params = new URLSearchParams(search || "");
    const parts = path.split("/").filter(Boolean);
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.getAttribute("href") === "#/" + parts[0]) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const views = {
      incidents: () => (parts[1] ? renderIncident(decodeURIComponent(parts[1])) : renderIncidents(params)),
      approvals: renderApprovals, silences: renderSilences, automation: renderAutomation,
      predictions: renderPredictions, models: renderModels,
    };
    const view = views[parts[0]] || views.incidents;
    try {
      await view();
      const title = main().querySelector("h1");
      document.title = (title ? title.textContent + " · " : "") + "Vigil console";
    } catch (err) {
      showError(err);
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
    // The skip link moves focus without touching the hash, which routes the console's views.
    document.querySelector(".skip-link").addEventListener("click", (ev) => { ev.preventDefault(); main().focus(); });
    window.addEventListener("hashchange", () => {
      if (location.hash.startsWith("#/")) route().then(() => main().focus());
    });
    const key = sessionStorage.getItem(KEY);
    if (!key) { renderSignIn(); return; }
    try {
      state.me = await api("GET", "/whoami", undefined, key);
      startSession();
    } catch (err) {
      signOut(err instanceof ApiError && err.status === 401 ? "Your key was refused (401); sign in again." : String(err));
    }
  });
})();
