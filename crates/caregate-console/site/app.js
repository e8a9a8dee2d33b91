// The console's page: picks files, hands them to the workers, and shows the findings a data officer acts on.
// Plain JS, no framework and no build step. Large results stay responsive: tables and the findings list are
// drawn a page at a time, never all at once.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const PAGE = 100; // findings drawn at a time
  const CHILD_PAGE = 50; // children drawn at a time
  // A census return this large is shared between the workers, one engine each (a worker has one thread, and
  // workers share no memory): each checks the records of a part of the file, and their reports are merged.
  const SHARE_FROM = 2 * 1024 * 1024;
  // Workers to start: one a core, at most three (past that, the share that reads the whole return for its
  // aggregates is the longest whatever the others do).
  const WORKERS = Math.max(1, Math.min(3, navigator.hardwareConcurrency || 1));

  const ui = {
    file: $("file"), drop: $("drop"), standard: $("standard"), laCode: $("la-code"), now: $("now"), run: $("run"),
    progress: $("progress"), status: $("status"), summary: $("summary"), downloads: $("downloads"),
    views: $("views"), severity: $("filter-severity"), rule: $("filter-rule"), child: $("filter-child"),
    byRule: $("by-rule").tBodies[0], byChild: $("by-child").tBodies[0], findings: $("findings"),
    findingsCount: $("findings-count"), findingsPage: $("findings-page"), childrenPage: $("children-page"),
  };

  // The run's state.
  let files = [];
  let reportText = null;
  let findings = []; // flattened, in the report's order
  let shown = []; // findings passing the filters
  let findingsAt = 0;
  let children = [];
  let childrenAt = 0;
  let busy = false;

  // The workers, each with its own engine; the first is the one every run uses.
  const pool = [];
  // The run in hand: one slot per share (its worker's answer once done, its progress meanwhile).
  let run = null;
  if (location.protocol === "file:") {
    startOffline();
  } else {
    try {
      for (let i = 0; i < WORKERS; i++) pool.push({ worker: new Worker("worker.js"), ready: false });
    } catch (error) {
      if (pool.length === 0) unavailable(String(error));
    }
    pool.forEach(listen);
  }

  // From a file share: the browser fetches nothing and starts no worker from a file:// address, so the
  // engine comes in caregate-offline.js (a script, which it does load) and the worker runs from a blob: URL.
  function startOffline() {
    const script = document.createElement("script");
    script.src = "caregate-offline.js";
    script.onerror = () => unavailable("caregate-offline.js is missing beside this page; export the site again.");
    script.onload = async () => {
      try {
        const offline = self.CAREGATE_OFFLINE;
        const source = URL.createObjectURL(new Blob([offline.worker], { type: "text/javascript" }));
        for (let i = 0; i < WORKERS; i++) pool.push({ worker: new Worker(source), ready: false });
        pool.forEach(listen);
        const packed = Uint8Array.from(atob(offline.wasm), (c) => c.charCodeAt(0));
        const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"));
        const bytes = await new Response(stream).arrayBuffer();
        pool.forEach((slot, i) => {
          const copy = i === pool.length - 1 ? bytes : bytes.slice(0);
          slot.worker.postMessage({ type: "engine", bytes: copy }, [copy]);
        });
      } catch (error) {
        unavailable(String(error && error.message ? error.message : error));
      }
    };
    document.head.append(script);
  }

  function unavailable(message) {
    ui.status.textContent = "The checker cannot start: " + message;
    ui.summary.dataset.state = "unavailable";
    ui.file.disabled = true;
    $("folder").disabled = true;
  }

  // Only the first worker decides whether the checker can start; another that fails is left out of sharing.
  // The page says it is ready once every worker has answered, so that a return given then is shared.
  function listen(slot, index) {
    const answered = (ready) => {
      slot.ready = ready;
      slot.answered = true;
      if (pool[0].ready && pool.every((s) => s.answered)) ui.status.textContent = "Ready. Choose or drop files to check.";
    };
    slot.worker.onerror = (event) => {
      answered(false);
      if (index === 0) unavailable(event.message || "the worker failed to load");
    };
    slot.worker.onmessage = (event) => {
      const m = event.data;
      if (m.type === "ready") {
        if (index === 0) {
          for (const s of m.standards) {
            const option = document.createElement("option");
            option.value = s.reference;
            option.textContent = `${s.title} (${s.reference})${s.tables ? " — CSV tables" : ""}`;
            ui.standard.append(option);
          }
        }
        answered(true);
      } else if (m.type === "unavailable") {
        answered(false);
        if (index === 0) unavailable(m.message);
      } else if (!run || !run.shares[m.share]) {
        // An answer to a run that has ended (a share that failed ends it).
      } else if (m.type === "progress") {
        run.shares[m.share].fraction = m.fraction;
        ui.progress.value = run.shares.reduce((sum, s) => sum + s.fraction, 0) / run.shares.length;
      } else if (m.type === "done") {
        run.shares[m.share].done = m;
        if (run.shares.every((s) => s.done)) finished();
      } else if (m.type === "failed") {
        busy = false;
        run = null;
        ui.summary.dataset.state = "failed";
        ui.summary.replaceChildren(para("The files could not be checked: " + m.message, "failed"));
        ui.status.textContent = "Stopped: " + m.message;
      }
    };
  }

  // Every share has answered: one report, as the whole return's run would give it.
  function finished() {
    const answers = run.shares.map((s) => s.done);
    const ms = performance.now() - run.started;
    run = null;
    // How many workers shared the run, and the longest one's time in its engine (for the page's tests and
    // benchmarks; a person sees the whole time).
    ui.summary.dataset.shares = String(answers.length);
    ui.summary.dataset.engineMs = String(Math.round(Math.max(...answers.map((a) => a.ms))));
    busy = false;
    ui.progress.value = 1;
    if (answers.length === 1) {
      const text = answers[0].report;
      show(JSON.parse(text), JSON.parse(answers[0].excerpts), ms, text);
      return;
    }
    const { report, excerpts } = merge(answers.map((a) => ({ report: JSON.parse(a.report), excerpts: JSON.parse(a.excerpts) })));
    // Written out only if it is downloaded, in the layout of the engine's own.
    show(report, excerpts, ms, () => JSON.stringify(report, null, 2) + "\n");
  }

  // The shares' reports as one (the engine's `Share` says why this is the whole return's report): the share to
  // the end gives the documents; each document's findings, and their excerpts, are those of the shares that
  // report it, one share after another; its counts are their sums.
  function merge(shares) {
    const split = (share) => {
      let at = 0;
      return share.report.documents.map((doc) => {
        const excerpts = share.excerpts.slice(at, at + doc.findings.length);
        at += doc.findings.length;
        return { doc, excerpts };
      });
    };
    const last = shares[shares.length - 1].report;
    const others = shares.slice(0, -1).map(split);
    const excerpts = [];
    const documents = split(shares[shares.length - 1]).map(({ doc, excerpts: own }) => {
      const parts = [];
      for (const other of others) {
        if (other.length && other[0].doc.path === doc.path) parts.push(other.shift());
      }
      parts.push({ doc, excerpts: own });
      const counts = {};
      let findings = [];
      for (const part of parts) {
        // Not push(...list): a call takes a limited number of arguments, and a share may have more findings.
        findings = findings.concat(part.doc.findings);
        for (const excerpt of part.excerpts) excerpts.push(excerpt);
        for (const [severity, n] of Object.entries(part.doc.counts)) counts[severity] = (counts[severity] || 0) + n;
      }
      return Object.assign({}, doc, { valid: (counts.error || 0) === 0, counts, findings });
    });
    return { report: Object.assign({}, last, { documents }), excerpts };
  }

  // A link-like button that sets the filter `select` to `value` and shows the findings it leaves.
  function filterButton(select, value, label) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = value;
    button.setAttribute("aria-label", label);
    button.addEventListener("click", () => {
      select.value = value;
      applyFilters();
      $("findings-h").scrollIntoView();
    });
    return button;
  }

  function para(text, cls) {
    const p = document.createElement("p");
    p.textContent = text;
    if (cls) p.className = cls;
    return p;
  }

  // Where the shares of a return of `size` bytes begin: the last share reads the records before its own for the
  // return's aggregates, so it is given fewer of its own.
  function cuts(size, workers) {
    if (workers === 2) return [Math.floor(size * 0.6)];
    return [Math.floor(size * 0.42), Math.floor(size * 0.84)];
  }

  async function start() {
    if (!pool.length || !pool[0].ready || busy || files.length === 0) return;
    busy = true;
    ui.run.disabled = false;
    ui.summary.dataset.state = "running";
    ui.summary.replaceChildren(para(`Checking ${files.length} file(s)…`));
    ui.downloads.hidden = true;
    ui.views.hidden = true;
    ui.progress.value = 0;
    ui.status.textContent = `Checking ${files.map((f) => f.name).join(", ")}…`;
    const buffers = await Promise.all(files.map((f) => f.arrayBuffer()));
    const params = ui.laCode.value.trim() ? [["la_code", ui.laCode.value.trim()]] : [];
    const now = ui.now.value ? `${ui.now.value}T12:00:00Z` : new Date().toISOString();
    const request = { standard: ui.standard.value || null, now, params };
    const ready = pool.filter((slot) => slot.ready);
    const shared = ready.length > 1 && files.length === 1 && /\.xml$/i.test(files[0].name) && files[0].size >= SHARE_FROM;
    const workers = shared ? ready : [pool[0]];
    const from = shared ? [0, ...cuts(files[0].size, workers.length)] : [0];
    run = { started: performance.now(), shares: workers.map(() => ({ fraction: 0, done: null })) };
    workers.forEach((slot, i) => {
      const share = shared ? { from: from[i], until: i + 1 < from.length ? from[i + 1] : null } : null;
      // Each worker is given its own copy of the bytes; the last takes the originals.
      const mine = i === workers.length - 1 ? buffers : buffers.map((b) => b.slice(0));
      slot.worker.postMessage(
        {
          type: "validate", share: i, request: Object.assign({}, request, { share }),
          files: files.map((f, j) => ({ name: f.name, buffer: mine[j] })),
        },
        mine,
      );
    });
  }

  function choose(list) {
    files = Array.from(list);
    if (files.length) start();
  }

  ui.file.addEventListener("change", () => choose(ui.file.files));
  // A folder's files that a return can be made of; the rest (a spreadsheet, notes) are left out.
  $("folder").addEventListener("change", () =>
    choose(Array.from($("folder").files).filter((f) => /\.(xml|json|jsonl|csv)$/i.test(f.name))));
  ui.run.addEventListener("click", start);
  ui.drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    ui.drop.classList.add("over");
  });
  ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
  ui.drop.addEventListener("drop", (e) => {
    e.preventDefault();
    ui.drop.classList.remove("over");
    choose(e.dataTransfer.files);
  });

  function count(report, severity) {
    return report.documents.reduce((n, d) => n + (d.counts[severity] || 0), 0);
  }

  // `text`: the report's JSON text, or a function that writes it.
  function show(report, excerpts, ms, text) {
    reportText = text;
    findings = [];
    for (const doc of report.documents) {
      for (const f of doc.findings) {
        f.file = doc.path;
        f.excerpt = excerpts[findings.length] || null;
        findings.push(f);
      }
    }
    const errors = count(report, "error");
    const queries = count(report, "query");
    const warnings = count(report, "warning");
    const records = report.documents.reduce((n, d) => n + (d.records || 0), 0);
    const standard = report.standard ? `${report.standard.id}@${report.standard.version}` : "no known standard";

    const list = document.createElement("dl");
    list.className = "counts";
    for (const [label, value, cls] of [
      ["Errors", errors, "error"], ["Queries", queries, "query"], ["Warnings", warnings, "warning"],
    ]) {
      const div = document.createElement("div");
      div.className = cls;
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value.toLocaleString("en-GB");
      div.append(dt, dd);
      list.append(div);
    }
    const about = para(`${report.documents.length} document(s), ${records.toLocaleString("en-GB")} record(s), ` +
      `checked against ${standard} in ${(ms / 1000).toFixed(1)} s.`);
    ui.summary.replaceChildren(list, about);
    // The test contract: the counts of the CLI's JSON report for the same files.
    Object.assign(ui.summary.dataset, {
      state: "done", errors: String(errors), queries: String(queries), warnings: String(warnings),
    });
    ui.status.textContent = `Done: ${errors} errors, ${queries} queries, ${warnings} warnings.`;
    ui.downloads.hidden = false;
    ui.views.hidden = findings.length === 0;
    ui.run.disabled = false;
    buildRules();
    ui.severity.value = "";
    ui.rule.value = "";
    ui.child.value = "";
    applyFilters();
  }

  function childrenOf(f) {
    if (f.record) return [f.record];
    return f.records || [];
  }

  function buildRules() {
    const rules = new Map();
    for (const f of findings) {
      let r = rules.get(f.rule);
      if (!r) rules.set(f.rule, (r = { rule: f.rule, severity: f.severity, message: f.message, n: 0, kids: new Set() }));
      r.n += 1;
      for (const c of childrenOf(f)) r.kids.add(c);
    }
    const sorted = Array.from(rules.values()).sort((a, b) => b.n - a.n || a.rule.localeCompare(b.rule));
    const rows = document.createDocumentFragment();
    const options = [new Option("All rules", "")];
    for (const r of sorted) {
      const tr = document.createElement("tr");
      tr.className = r.severity;
      const button = filterButton(ui.rule, r.rule, `Show the findings of rule ${r.rule}`);
      const cells = [button, r.severity, r.message, r.n.toLocaleString("en-GB"), r.kids.size.toLocaleString("en-GB")];
      cells.forEach((value, i) => {
        const td = document.createElement("td");
        if (i >= 3) td.className = "num";
        td.append(value);
        tr.append(td);
      });
      rows.append(tr);
      options.push(new Option(`${r.rule} (${r.n})`, r.rule));
    }
    ui.byRule.replaceChildren(rows);
    ui.rule.replaceChildren(...options);
  }

  function applyFilters() {
    const severity = ui.severity.value;
    const rule = ui.rule.value;
    const child = ui.child.value.trim();
    shown = findings.filter((f) =>
      (!severity || f.severity === severity) && (!rule || f.rule === rule) &&
      (!child || childrenOf(f).some((c) => c.includes(child))));
    // Children of the findings shown, most findings first.
    const kids = new Map();
    for (const f of shown) {
      for (const c of childrenOf(f)) {
        let k = kids.get(c);
        if (!k) kids.set(c, (k = { id: c, error: 0, query: 0, warning: 0, rules: new Set() }));
        k[f.severity] += 1;
        k.rules.add(f.rule);
      }
    }
    children = Array.from(kids.values()).sort((a, b) =>
      (b.error + b.query + b.warning) - (a.error + a.query + a.warning) || a.id.localeCompare(b.id));
    findingsAt = 0;
    childrenAt = 0;
    drawFindings();
    drawChildren();
  }

  function drawChildren() {
    const rows = document.createDocumentFragment();
    for (const k of children.slice(childrenAt, childrenAt + CHILD_PAGE)) {
      const tr = document.createElement("tr");
      const button = filterButton(ui.child, k.id, `Show the findings of child ${k.id}`);
      const cells = [button, String(k.error), String(k.query), String(k.warning), Array.from(k.rules).join(", ")];
      cells.forEach((value, i) => {
        const td = document.createElement("td");
        if (i >= 1 && i <= 3) td.className = "num";
        td.append(value);
        tr.append(td);
      });
      rows.append(tr);
    }
    ui.byChild.replaceChildren(rows);
    ui.childrenPage.textContent = children.length
      ? `Children ${childrenAt + 1}–${Math.min(childrenAt + CHILD_PAGE, children.length)} of ${children.length}`
      : "No child has a finding shown.";
    $("children-prev").disabled = childrenAt === 0;
    $("children-next").disabled = childrenAt + CHILD_PAGE >= children.length;
  }

  function excerptOf(f) {
    const e = f.excerpt;
    if (!e || !e.lines || !e.lines.length) return null;
    const pre = document.createElement("pre");
    pre.className = "excerpt";
    const width = String(e.first_line + e.lines.length - 1).length;
    e.lines.forEach((line, i) => {
      const number = e.first_line + i;
      const row = document.createElement("span");
      row.className = f.location && number === f.location.line ? "at" : "";
      row.textContent = `${String(number).padStart(width)} | ${line.column > 1 ? "…" : ""}${line.text}` +
        `${line.cut_after ? "…" : ""}\n`;
      pre.append(row);
      if (f.location && number === f.location.line) {
        const caret = document.createElement("span");
        caret.className = "caret";
        caret.setAttribute("aria-hidden", "true");
        const offset = Math.max(0, f.location.column - line.column) + (line.column > 1 ? 1 : 0);
        caret.textContent = `${" ".repeat(width)} | ${" ".repeat(offset)}^\n`;
        pre.append(caret);
      }
    });
    return pre;
  }

  function drawFindings() {
    const items = document.createDocumentFragment();
    for (const f of shown.slice(findingsAt, findingsAt + PAGE)) {
      const li = document.createElement("li");
      li.className = `finding ${f.severity}`;
      const head = document.createElement("p");
      head.className = "head";
      const sev = document.createElement("span");
      sev.className = "severity";
      sev.textContent = f.severity;
      const rule = document.createElement("span");
      rule.className = "rule";
      rule.textContent = f.rule;
      const where = f.location ? `${f.file}:${f.location.line}:${f.location.column}` : f.file;
      const place = document.createElement("span");
      place.className = "where";
      place.textContent = where + (f.record ? ` — child ${f.record}` : "");
      head.append(sev, " ", rule, " ", place);
      li.append(head, para(f.message, "message"));
      const pre = excerptOf(f);
      if (pre) li.append(pre);
      if (f.fix) li.append(para("How to fix: " + f.fix, "fix"));
      if (f.records && f.records.length) {
        li.append(para(`Children: ${f.records.slice(0, 20).join(", ")}${f.records.length > 20 ? ", …" : ""}`, "kids"));
      }
      items.append(li);
    }
    ui.findings.replaceChildren(items);
    ui.findings.start = findingsAt + 1;
    ui.findingsCount.textContent = `${shown.length.toLocaleString("en-GB")} finding(s) shown of ` +
      `${findings.length.toLocaleString("en-GB")}.`;
    ui.findingsPage.textContent = shown.length
      ? `Findings ${findingsAt + 1}–${Math.min(findingsAt + PAGE, shown.length)} of ${shown.length}` : "";
    $("findings-prev").disabled = findingsAt === 0;
    $("findings-next").disabled = findingsAt + PAGE >= shown.length;
  }

  $("findings-prev").addEventListener("click", () => { findingsAt = Math.max(0, findingsAt - PAGE); drawFindings(); });
  $("findings-next").addEventListener("click", () => { findingsAt += PAGE; drawFindings(); });
  $("children-prev").addEventListener("click", () => {
    childrenAt = Math.max(0, childrenAt - CHILD_PAGE);
    drawChildren();
  });
  $("children-next").addEventListener("click", () => { childrenAt += CHILD_PAGE; drawChildren(); });
  ui.severity.addEventListener("change", applyFilters);
  ui.rule.addEventListener("change", applyFilters);
  let typing;
  ui.child.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(applyFilters, 200);
  });
  $("filter-clear").addEventListener("click", () => {
    ui.severity.value = "";
    ui.rule.value = "";
    ui.child.value = "";
    applyFilters();
  });

  function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function csvCell(value) {
    const text = value === undefined || value === null ? "" : String(value);
    // A cell a spreadsheet would run as a formula is quoted as text.
    const safe = /^[=+\-@\t\r]/.test(text) ? "'" + text : text;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  }

  $("download-csv").addEventListener("click", () => {
    const header = ["file", "line", "column", "severity", "rule", "message", "child", "children", "fix"];
    const lines = [header.join(",")];
    for (const f of shown) {
      lines.push([f.file, f.location && f.location.line, f.location && f.location.column, f.severity, f.rule,
        f.message, f.record, (f.records || []).join(" "), f.fix].map(csvCell).join(","));
    }
    download("findings.csv", "text/csv", lines.join("\r\n") + "\r\n");
  });
  $("download-json").addEventListener("click", () =>
    download("report.json", "application/json", typeof reportText === "function" ? reportText() : reportText));
})();
