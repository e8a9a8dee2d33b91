// The gateway console: the gateway's own API read with the token typed in (kept in this page's memory only).
// Operators (the admin token) see dead letters and replay them; organisations see their mailbox and the
// recipients of a message they sent; everyone sees the health figures of /healthz and /metrics.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let token = null;

  async function api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (_) {
      body = text;
    }
    return { status: response.status, body };
  }

  function problem(body) {
    return (body && (body.detail || body.title)) || "the gateway refused the request";
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      td.append(cell === null || cell === undefined ? "" : cell);
      tr.append(td);
    }
    return tr;
  }

  async function health() {
    const list = $("health");
    const healthz = await api("/healthz");
    const metrics = await fetch("/metrics").then((r) => r.text());
    const figures = {};
    const outcomes = [];
    for (const line of metrics.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const [name, value] = line.split(/ (?=[^ ]+$)/);
      figures[name] = Number(value);
      if (name.startsWith("caregate_deliveries_total") || name.startsWith("caregate_messages_rejected_total")) {
        outcomes.push([name.replace("caregate_", "").replace(/_total/, ""), value]);
      }
    }
    const items = [
      ["Status", healthz.status === 200 && healthz.body && healthz.body.status === "ok" ? "OK" : "Not OK"],
      ["Messages accepted", figures.caregate_messages_accepted_total ?? 0],
      ["Waiting for delivery or collection", figures.caregate_queue_depth ?? 0],
      ["Mean time to accept (ms)", figures.caregate_accept_seconds_count
        ? ((figures.caregate_accept_seconds_sum / figures.caregate_accept_seconds_count) * 1000).toFixed(1) : "—"],
    ];
    list.replaceChildren(...items.map(([label, value]) => {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = String(value);
      div.append(dt, dd);
      return div;
    }));
    list.dataset.state = "done";
    $("outcomes").tBodies[0].replaceChildren(...outcomes.map(([n, v]) => row([n, v])));
  }

  // The audit chain verified by the gateway (`GET /v1/admin/audit`, the admin token only).
  async function audit() {
    const { status, body } = await api("/v1/admin/audit");
    const out = $("audit");
    if (status !== 200) {
      out.textContent = `The audit chain could not be read: ${problem(body)}`;
      out.dataset.state = "error";
      return;
    }
    if (body.intact) {
      const head = body.head ? ` Its head is entry ${body.head.seq}, hash ${body.head.hash.slice(0, 12)}…, written ${body.head.at}.` : "";
      out.textContent = `Intact: ${body.entries} entries, each chained to the one before.${head}`;
      out.dataset.state = "intact";
    } else {
      out.textContent = `BROKEN at entry ${body.broken.position} (seq ${body.broken.seq}): ${body.broken.reason}`;
      out.dataset.state = "broken";
    }
  }

  // `said`: what the last action did, kept above the refreshed list.
  async function deadLetters(said) {
    const { status, body } = await api("/v1/admin/dead-letters");
    const tbody = $("dead").tBodies[0];
    if (status !== 200) {
      $("dead-status").textContent = problem(body);
      return;
    }
    const letters = body.deadLetters || [];
    $("dead-status").textContent = (said ? said + " " : "") + `${letters.length} dead letter(s) left.`;
    tbody.replaceChildren(...letters.map((d) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Replay";
      button.className = "replay";
      button.dataset.id = d.id;
      button.setAttribute("aria-label", `Replay message ${d.id} to ${d.recipient}`);
      button.addEventListener("click", async () => {
        button.disabled = true;
        const r = await api(`/v1/admin/dead-letters/${encodeURIComponent(d.id)}/replay`, { method: "POST" });
        await deadLetters(r.status === 202
          ? `Replayed ${d.id} to ${(r.body.replayed || []).join(", ")}.` : `Not replayed: ${problem(r.body)}`);
      });
      return row([d.id, d.sender, d.recipient, d.standard, String(d.attempts), d.lastError, button]);
    }));
    $("dead").dataset.count = String(letters.length);
  }

  async function mailbox() {
    const { status, body } = await api("/v1/mailbox");
    if (status !== 200) return;
    $("mailbox").tBodies[0].replaceChildren(...(body.messages || []).map((m) =>
      row([m.id, m.sender, m.standard, m.receivedAt, m.state])));
  }

  $("signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    const admin = await api("/v1/admin/dead-letters");
    const organisation = admin.status === 200 ? null : await api("/v1/mailbox");
    $("admin").hidden = admin.status !== 200;
    $("organisation").hidden = !organisation || organisation.status !== 200;
    if (admin.status === 200) {
      $("who").textContent = "Signed in as the operator (admin token).";
      $("who").dataset.role = "admin";
      await deadLetters();
      await audit();
    } else if (organisation && organisation.status === 200) {
      $("who").textContent = `Signed in as organisation ${organisation.body.organisation}.`;
      $("who").dataset.role = "organisation";
      await mailbox();
    } else {
      token = null;
      $("who").textContent = "That token is not known to this gateway.";
      $("who").dataset.role = "";
    }
  });

  $("lookup").addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = $("message-id").value.trim();
    const { status, body } = await api(`/v1/messages/${encodeURIComponent(id)}`);
    const tbody = $("recipients").tBodies[0];
    if (status !== 200) {
      $("message-status").textContent = problem(body);
      tbody.replaceChildren();
      return;
    }
    $("message-status").textContent = `${body.standard}, received ${body.receivedAt}.`;
    tbody.replaceChildren(...body.recipients.map((c) =>
      row([c.organisation, c.role, c.delivery, c.state, String(c.attempts), c.lastError, c.updatedAt])));
  });

  $("health-refresh").addEventListener("click", health);
  $("dead-refresh").addEventListener("click", () => deadLetters());
  $("mailbox-refresh").addEventListener("click", mailbox);
  health();
})();
