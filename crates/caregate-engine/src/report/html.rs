//! One self-contained HTML page for people who do not read JSON, quick to open with tens of thousands of
//! findings: a summary of the run, an index of the rules broken (most findings first: code, severity, count,
//! the standard's message), the documents, then one collapsible group per rule (`<details>`) with the fix
//! and clause shown once, and each finding with its place, record, message and source lines; a finding about
//! a whole return lists every record behind it. Inline CSS and one small inline script (filter by record and
//! by rule; in a large report, build a rule's findings when its group is opened, see `INLINE_UP_TO`); no
//! external resources; prints with every group open.
//!
//! Written as the findings come: each finding's markup goes to its rule's group in a spool (`spool.rs`) and
//! the page is put together at the end, when the totals and the order of the rules are known.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;

use super::spool::Spool;
use super::{
    add_counts, excerpt_lines, plural, rule_info, thousands, verdict_phrase, visible, ReportWriter, RuleTally,
};
use crate::finding::{Counts, Finding, Severity};
use crate::model::{DocumentEnd, DocumentStart, RuleInfo, StandardRef, Tool};

/// With at most this many findings in the run, the groups start open; with more, closed.
const OPEN_UP_TO: usize = 200;
/// With at most this many findings in the run, they are in the page's markup. With more, each rule's findings
/// are kept as text in the page (an inert `<script type="text/html">`, which the browser reads without
/// building anything) and built by the script when the group is opened, filtered or printed: 50,000 findings
/// built at once are over a million elements, and the page took 17 s to open, against 2 s so.
const INLINE_UP_TO: usize = 2_000;

/// Escape text for HTML element content and double- or single-quoted attributes; control
/// characters become U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn sev_label(s: Severity) -> &'static str {
    match s {
        Severity::Error => "Error",
        Severity::Query => "Query",
        Severity::Warning => "Warning",
    }
}

const CSS: &str = r#"
:root {
  --ink: #1d2733; --muted: #5b6776; --line: #d8dee6; --bg: #f4f6f8; --card: #ffffff;
  --accent: #2f4a6d;
  --err: #b42318; --err-bg: #fef3f2; --err-line: #fecdca;
  --qry: #a15c07; --qry-bg: #fffaeb; --qry-line: #fedf89;
  --wrn: #0b6a8f; --wrn-bg: #effaff; --wrn-line: #b9e6fe;
  --ok: #067647; --ok-bg: #ecfdf3; --ok-line: #abefc6;
  --mono: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "DejaVu Sans", sans-serif; }
code, pre, .mono { font-family: var(--mono); font-size: 0.9em; }
a { color: var(--accent); }
.wrap { max-width: 1100px; margin: 0 auto; padding: 0 24px; }
header.top { background: var(--accent); color: #fff; padding: 22px 0 18px; }
header.top h1 { margin: 0; font-size: 22px; font-weight: 650; letter-spacing: .2px; }
header.top h1 span { font-weight: 400; opacity: .85; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 12px 0 0; font-size: 13.5px; }
dl.meta dt { opacity: .8; }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
dl.meta code { font-size: 12.5px; }
main.wrap { padding-top: 22px; padding-bottom: 40px; }
.summary { display: flex; flex-wrap: wrap; align-items: center; gap: 14px 24px; background: var(--card);
  border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; }
.verdict { font-size: 19px; font-weight: 650; }
.verdict.ok { color: var(--ok); } .verdict.bad { color: var(--err); }
.badges { display: flex; flex-wrap: wrap; gap: 8px; margin-left: auto; }
.badge { display: inline-flex; align-items: baseline; gap: 6px; border-radius: 999px; padding: 4px 12px;
  border: 1px solid var(--line); background: #fff; font-size: 13.5px; white-space: nowrap; }
.badge b { font-size: 16px; }
.badge.error { color: var(--err); background: var(--err-bg); border-color: var(--err-line); }
.badge.query { color: var(--qry); background: var(--qry-bg); border-color: var(--qry-line); }
.badge.warning { color: var(--wrn); background: var(--wrn-bg); border-color: var(--wrn-line); }
.badge.zero { color: var(--muted); background: #fff; border-color: var(--line); }
.filter { display: flex; flex-wrap: wrap; gap: 10px 16px; align-items: center; margin: 14px 2px 0; font-size: 13.5px; color: var(--muted); }
.filter label { display: inline-flex; gap: 6px; align-items: center; cursor: pointer; color: var(--ink); }
.filter .find { display: inline-flex; flex-wrap: wrap; gap: 10px 16px; align-items: center; margin-left: auto; }
.filter .find[hidden] { display: none; }
.filter input[type=search], .filter select { font: inherit; padding: 3px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: var(--ink); max-width: 16em; }
.filter output { min-width: 7em; }
body:has(#show-error:not(:checked)) .sev-error,
body:has(#show-query:not(:checked)) .sev-query,
body:has(#show-warning:not(:checked)) .sev-warning { display: none; }
h2.section { font-size: 15px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted); margin: 28px 0 10px; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
table.overview { background: var(--card); border: 1px solid var(--line); border-radius: 10px; overflow: hidden; font-size: 14px; }
table.overview th, table.overview td { padding: 8px 12px; text-align: left; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; vertical-align: top; }
table.overview th { white-space: nowrap; background: #eef1f5; font-weight: 600; color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: .4px; }
table.overview tr:last-child td { border-bottom: 0; }
table.overview td.num, table.overview th.num { text-align: right; width: 104px; }
table.overview col.doc { width: auto; } table.overview col.res { width: 130px; } table.overview col.fmt { width: 96px; }
table.index col.rule { width: 130px; } table.index col.sev { width: 110px; } table.index col.num { width: 104px; }
table.index td a { text-decoration: none; }
@media (max-width: 820px) {
  table.overview th, table.overview td { padding: 7px 8px; }
  table.overview th { font-size: 11px; }
  table.overview td.num, table.overview th.num { width: 78px; }
  table.overview col.res { width: 110px; } table.overview col.fmt { width: 64px; }
}
td.num.error b { color: var(--err); } td.num.query b { color: var(--qry); } td.num.warning b { color: var(--wrn); }
.pill { display: inline-block; border-radius: 999px; padding: 1px 10px; font-size: 12.5px; font-weight: 600; border: 1px solid; white-space: nowrap; }
.pill.ok { color: var(--ok); background: var(--ok-bg); border-color: var(--ok-line); }
.pill.bad { color: var(--err); background: var(--err-bg); border-color: var(--err-line); }
.sev { display: inline-block; border-radius: 4px; padding: 0 7px; font-size: 12px; font-weight: 700; text-transform: uppercase; letter-spacing: .5px; border: 1px solid; }
.sev.error { color: var(--err); background: var(--err-bg); border-color: var(--err-line); }
.sev.query { color: var(--qry); background: var(--qry-bg); border-color: var(--qry-line); }
.sev.warning { color: var(--wrn); background: var(--wrn-bg); border-color: var(--wrn-line); }
details.rule { background: var(--card); border: 1px solid var(--line); border-radius: 10px; margin: 12px 0; }
details.rule.sev-error { border-left: 5px solid var(--err); }
details.rule.sev-query { border-left: 5px solid var(--qry); }
details.rule.sev-warning { border-left: 5px solid var(--wrn); }
details.rule[open] > summary { border-bottom: 1px solid var(--line); }
.rule-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 10px; padding: 12px 20px; cursor: pointer; list-style: none; }
.rule-head::-webkit-details-marker { display: none; }
.rule-head::before { content: "\25B8"; color: var(--muted); width: 1em; }
details[open] > .rule-head::before { content: "\25BE"; }
.rule-id { font-weight: 700; font-size: 14px; }
.rule-desc { flex: 1 1 300px; }
.count { color: var(--muted); font-size: 13px; white-space: nowrap; }
.rule-notes { padding: 8px 20px 2px; font-size: 13.5px; color: var(--muted); }
.rule-notes p { margin: 2px 0; }
ol.occ { list-style: none; margin: 0; padding: 4px 20px 14px; }
ol.occ > li { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin-top: 8px; break-inside: avoid; }
/* Only the findings on screen are laid out: opening a rule of thousands of findings takes 0.1 s, not 6. */
ol.occ > li { content-visibility: auto; contain-intrinsic-size: auto 170px; }
.sev-error ol.occ > li { border-left: 4px solid var(--err-line); }
.sev-query ol.occ > li { border-left: 4px solid var(--qry-line); }
.sev-warning ol.occ > li { border-left: 4px solid var(--wrn-line); }
.where { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; color: var(--muted); }
.where .loc { font-weight: 600; color: var(--ink); }
.where code { overflow-wrap: anywhere; }
.msg { margin: 4px 0 0; font-weight: 500; overflow-wrap: anywhere; }
.fix { margin: 4px 0 0; font-size: 14px; overflow-wrap: anywhere; }
.fix b { color: var(--ok); }
.clause { margin: 2px 0 0; font-size: 13px; color: var(--muted); }
.recs { margin: 4px 0 0; font-size: 13px; overflow-wrap: anywhere; }
.recs code { margin-right: 6px; }
.one-doc .where .file { display: none; }
.src { margin: 8px 0 2px; background: #f7f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 6px 0; overflow-x: auto; font-family: var(--mono); font-size: 13px; line-height: 1.45; }
.src .l { display: flex; white-space: pre; min-width: max-content; }
.src .n { flex: 0 0 auto; width: 4.5em; padding: 0 10px 0 0; text-align: right; color: #8a94a3; user-select: none; border-right: 1px solid var(--line); margin-right: 10px; }
.src .l.hit { background: #fff4e0; }
.src .l.hit .n { color: var(--ink); font-weight: 700; }
.src mark { background: #ffd9a8; color: inherit; border-radius: 2px; }
.src .caret { color: var(--err); }
.src .l.under { line-height: 1; height: 0.85em; overflow: hidden; }
.sev-query .src .caret { color: var(--qry); } .sev-warning .src .caret { color: var(--wrn); }
footer { color: var(--muted); font-size: 12.5px; padding: 8px 0 30px; }
@media print {
  @page { margin: 14mm; }
  body { background: #fff; font-size: 11pt; }
  header.top { background: #fff; color: var(--ink); border-bottom: 2px solid var(--ink); padding: 0 0 8px; }
  .wrap { max-width: none; padding: 0; }
  .filter { display: none; }
  .summary, details.rule, table.overview { border-color: #999; }
  details.rule { break-inside: auto; }
  .rule-head { break-after: avoid; }
  .src { overflow: hidden; }
  .src .l { white-space: pre-wrap; min-width: 0; }
  .src .l > span:last-child { min-width: 0; overflow-wrap: anywhere; }
  ol.occ > li { break-inside: auto; content-visibility: visible; }
  .src { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  body:has(#show-error:not(:checked)) .sev-error,
  body:has(#show-query:not(:checked)) .sev-query,
  body:has(#show-warning:not(:checked)) .sev-warning { display: block; }
}
"#;

const SCRIPT: &str = r##"
(function () {
  var groups = document.querySelectorAll('details.rule');
  // A large report holds each rule's findings as text until they are needed.
  function held(g) { return g.querySelector('script[type="text/html"]'); }
  function build(g) {
    var text = held(g);
    if (!text) return;
    g.querySelector('ol.occ').innerHTML = text.textContent;
    text.remove();
    g.text = null;
  }
  // A record's `data-r` is in lower case: text without the query has no finding of that record.
  function mentions(g, q) {
    if (g.text == null) g.text = held(g).textContent;
    return g.text.indexOf(q) >= 0;
  }
  for (var i = 0; i < groups.length; i++) {
    groups[i].addEventListener('toggle', function () { if (this.open) build(this); });
    if (groups[i].open) build(groups[i]);
  }
  function open(id) {
    var target = id && document.getElementById(id);
    if (target && target.tagName === 'DETAILS') { target.hidden = false; target.open = true; build(target); }
  }
  document.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[href^="#rule-"]');
    if (a) open(a.getAttribute('href').slice(1));
  });
  open(location.hash.slice(1));
  window.addEventListener('beforeprint', function () {
    for (var i = 0; i < groups.length; i++) { build(groups[i]); groups[i].open = true; }
  });
  var find = document.querySelector('.find');
  if (!find) return;
  find.hidden = false;
  var record = document.getElementById('find-record'), rule = document.getElementById('find-rule');
  var shown = document.getElementById('find-count'), timer;
  function apply() {
    var q = record.value.trim().toLowerCase(), r = rule.value, found = 0;
    for (var i = 0; i < groups.length; i++) {
      var g = groups[i], n = 0;
      if ((r && g.getAttribute('data-rule') !== r) || (q && held(g) && !mentions(g, q))) {
        g.hidden = true;
        continue;
      }
      if (q) build(g);
      var items = g.querySelectorAll('ol.occ > li');
      if (!items.length) n = +g.getAttribute('data-count');
      for (var j = 0; j < items.length; j++) {
        var hit = !q || (items[j].getAttribute('data-r') || '').indexOf(q) >= 0;
        items[j].hidden = !hit;
        if (hit) n++;
      }
      g.hidden = n === 0;
      g.open = q || r ? n > 0 : g.hasAttribute('data-open');
      found += n;
    }
    shown.textContent = q || r ? found + (found === 1 ? ' finding' : ' findings') : '';
  }
  record.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(apply, 200); });
  rule.addEventListener('change', apply);
})();
"##;

/// One document's row in the documents table.
struct DocumentRow {
    path: String,
    format: String,
    standard: Option<StandardRef>,
    counts: Counts,
    valid: bool,
    records: Option<usize>,
}

/// Writes the HTML page; see the module documentation.
pub struct HtmlWriter<'a> {
    out: Box<dyn Write + 'a>,
    tool: Tool,
    standard: Option<StandardRef>,
    documents: Vec<DocumentRow>,
    /// The path of the document whose findings are coming.
    path: String,
    rules: RuleTally,
    /// Each rule's findings as markup, grouped by the rule's position in `rules`.
    groups: Spool,
}

impl<'a> HtmlWriter<'a> {
    pub fn new(out: Box<dyn Write + 'a>, spool_dir: Option<PathBuf>) -> Self {
        HtmlWriter {
            out,
            tool: Tool { name: String::new(), version: String::new() },
            standard: None,
            documents: Vec::new(),
            path: String::new(),
            rules: RuleTally::default(),
            groups: Spool::new(spool_dir),
        }
    }
}

impl ReportWriter for HtmlWriter<'_> {
    fn begin_run(&mut self, tool: &Tool, standard: Option<&StandardRef>) -> io::Result<()> {
        self.tool = tool.clone();
        self.standard = standard.cloned();
        Ok(())
    }

    fn begin_document(&mut self, d: &DocumentStart<'_>) -> io::Result<()> {
        self.path = d.path.to_string();
        self.documents.push(DocumentRow {
            path: d.path.to_string(),
            format: d.format.to_string(),
            standard: d.standard.cloned(),
            counts: Counts::default(),
            valid: true,
            records: None,
        });
        Ok(())
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        let group = self.rules.add(f);
        let rule = &self.rules.rules[group];
        let mut h = String::with_capacity(1024);
        write_occurrence(&mut h, &self.path, f, rule.fix.as_deref(), rule.clause.as_deref());
        self.groups.append(group, h.as_bytes())
    }

    fn end_document(&mut self, end: &DocumentEnd) -> io::Result<()> {
        if let Some(row) = self.documents.last_mut() {
            row.counts = end.counts;
            row.valid = end.valid;
            row.records = end.records;
        }
        Ok(())
    }

    fn finish(&mut self, infos: &[RuleInfo]) -> io::Result<()> {
        let mut h = String::with_capacity(64 * 1024);
        let title = match &self.standard {
            Some(s) => format!("caregate report \u{2014} {} {}", s.id, s.version),
            None => "caregate report".to_string(),
        };
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        let _ = writeln!(h, "<title>{}</title>", esc(&title));
        let _ = writeln!(h, "<style>{CSS}</style>\n</head>");
        let one_doc = if self.documents.len() == 1 { " class=\"one-doc\"" } else { "" };
        let _ = writeln!(h, "<body{one_doc}>");
        write_header(&mut h, &self.tool, self.standard.as_ref());
        h.push_str("<main class=\"wrap\">\n");
        let mut totals = Counts::default();
        for d in &self.documents {
            add_counts(&mut totals, &d.counts);
        }
        write_summary(&mut h, &self.documents, &totals);
        let order = self.rules.by_count();
        if !order.is_empty() {
            write_filter(&mut h, &self.rules, &order);
            write_index(&mut h, &self.rules, &order, infos);
        }
        if !self.documents.is_empty() {
            write_documents(&mut h, &self.documents);
        }
        self.out.write_all(h.as_bytes())?;

        let total: usize = self.rules.rules.iter().map(|r| r.count).sum();
        let deferred = total > INLINE_UP_TO;
        if !order.is_empty() {
            self.out.write_all(b"<h2 class=\"section\">Findings by rule</h2>\n")?;
        }
        if deferred {
            self.out.write_all(
                b"<noscript><p class=\"clean\">This report has too many findings to lay out at once: each rule's \
                  findings are shown when its group is opened, which needs scripts. With scripts off, read the \
                  CSV or JSON report (caregate validate --format csv).</p></noscript>\n",
            )?;
        }
        for (n, &i) in order.iter().enumerate() {
            let mut head = String::new();
            write_group_head(&mut head, n, &self.rules.rules[i], infos, total <= OPEN_UP_TO);
            self.out.write_all(head.as_bytes())?;
            if deferred {
                // Escaped data holds no `<`, so nothing in the findings' markup can end the script element.
                self.out.write_all(b"</ol><script type=\"text/html\">\n")?;
                self.groups.drain(i, &mut self.out)?;
                self.out.write_all(b"</script>\n</details>\n")?;
            } else {
                self.groups.drain(i, &mut self.out)?;
                self.out.write_all(b"</ol>\n</details>\n")?;
            }
        }

        let mut h = String::new();
        h.push_str("</main>\n");
        let _ = writeln!(
            h,
            "<footer class=\"wrap\">Produced by {} {}. Errors must be corrected before the data is accepted; \
             queries ask the sender to confirm a value; warnings are for information.</footer>",
            esc(&self.tool.name),
            esc(&self.tool.version)
        );
        let _ = writeln!(h, "<script>{SCRIPT}</script>");
        h.push_str("</body>\n</html>\n");
        self.out.write_all(h.as_bytes())?;
        self.out.flush()
    }
}

fn write_header(h: &mut String, tool: &Tool, standard: Option<&StandardRef>) {
    h.push_str("<header class=\"top\"><div class=\"wrap\">\n");
    let _ = writeln!(h, "<h1>{} <span>validation report</span></h1>", esc(&tool.name));
    h.push_str("<dl class=\"meta\">\n");
    if let Some(s) = standard {
        let _ = writeln!(h, "<dt>Standard</dt><dd><b>{}</b> version {}</dd>", esc(&s.id), esc(&s.version));
        let _ = writeln!(h, "<dt>Standard digest</dt><dd><code>{}</code></dd>", esc(&s.digest));
    } else {
        h.push_str("<dt>Standard</dt><dd>detected per document</dd>\n");
    }
    let _ = writeln!(h, "<dt>Checked by</dt><dd>{} {}</dd>", esc(&tool.name), esc(&tool.version));
    h.push_str("</dl>\n</div></header>\n");
}

fn badge(h: &mut String, class: &str, n: usize, one: &str, many: &str) {
    let zero = if n == 0 { " zero" } else { "" };
    let word = if n == 1 { one } else { many };
    let _ = write!(h, "<span class=\"badge {class}{zero}\"><b>{}</b> {word}</span>", thousands(n));
}

fn write_summary(h: &mut String, documents: &[DocumentRow], c: &Counts) {
    let failing = documents.iter().filter(|d| !d.valid).count();
    let (ok, text) = verdict_phrase(documents.len(), failing);
    h.push_str("<section class=\"summary\" aria-label=\"Summary\">\n");
    let (class, mark) = if ok { ("ok", "\u{2713}") } else { ("bad", "\u{2717}") };
    let _ = writeln!(h, "<div class=\"verdict {class}\">{mark} {}</div>", esc(&capitalise(&text)));
    h.push_str("<div class=\"badges\">");
    badge(h, "docs", documents.len(), "document", "documents");
    badge(h, "error", c.error, "error", "errors");
    badge(h, "query", c.query, "query", "queries");
    badge(h, "warning", c.warning, "warning", "warnings");
    h.push_str("</div>\n</section>\n");
}

/// The severity switches (CSS alone), and the record and rule filters (shown by the script).
fn write_filter(h: &mut String, tally: &RuleTally, order: &[usize]) {
    h.push_str("<div class=\"filter\" role=\"group\" aria-label=\"Show findings\">Show:");
    for (id, label) in [("error", "Errors"), ("query", "Queries"), ("warning", "Warnings")] {
        let _ = write!(h, "<label><input type=\"checkbox\" id=\"show-{id}\" checked> {label}</label>");
    }
    h.push_str("<span class=\"find\" hidden>");
    h.push_str(
        "<label>Record <input type=\"search\" id=\"find-record\" placeholder=\"child ID\" autocomplete=\"off\"></label>",
    );
    h.push_str("<label>Rule <select id=\"find-rule\"><option value=\"\">All rules</option>");
    for r in order.iter().map(|&i| &tally.rules[i]) {
        let _ = write!(h, "<option value=\"{0}\">{0} ({1})</option>", esc(&r.rule), thousands(r.count));
    }
    h.push_str("</select></label><output id=\"find-count\" aria-live=\"polite\"></output></span></div>\n");
}

/// The rules broken, most findings first, each linking to its group.
fn write_index(h: &mut String, tally: &RuleTally, order: &[usize], infos: &[RuleInfo]) {
    h.push_str("<h2 class=\"section\">Rules</h2>\n<table class=\"overview index\">\n");
    h.push_str("<colgroup><col class=\"rule\"><col class=\"sev\"><col class=\"num\"><col></colgroup>\n");
    h.push_str(
        "<thead><tr><th>Rule</th><th>Severity</th><th class=\"num\">Findings</th><th>Message</th></tr></thead>\n<tbody>\n",
    );
    for (n, r) in order.iter().map(|&i| &tally.rules[i]).enumerate() {
        let sev = r.severity.as_str();
        let _ = writeln!(
            h,
            "<tr class=\"sev-{sev}\"><td><a href=\"#rule-{}\"><code class=\"rule-id\">{}</code></a></td>\
             <td><span class=\"sev {sev}\">{}</span></td><td class=\"num {sev}\"><b>{}</b></td><td>{}</td></tr>",
            n + 1,
            esc(&r.rule),
            sev_label(r.severity),
            thousands(r.count),
            esc(&r.wording(rule_info(infos, &r.rule)))
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn write_documents(h: &mut String, documents: &[DocumentRow]) {
    h.push_str("<h2 class=\"section\">Documents</h2>\n<table class=\"overview\">\n");
    h.push_str("<colgroup><col class=\"doc\"><col class=\"fmt\"><col class=\"res\"><col><col><col></colgroup>\n");
    h.push_str(
        "<thead><tr><th>Document</th><th>Format</th><th>Result</th><th class=\"num\">Errors</th>\
                <th class=\"num\">Queries</th><th class=\"num\">Warnings</th></tr></thead>\n<tbody>\n",
    );
    for d in documents {
        let mut meta = vec![d.format.to_uppercase()];
        if let Some(n) = d.records {
            meta.push(plural(n, "record", "records"));
        }
        if let Some(s) = &d.standard {
            meta.push(format!("{} {}", s.id, s.version));
        }
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td>",
            esc(&d.path),
            esc(&meta.join(" \u{00b7} ")),
            verdict_pill(d.valid)
        );
        for (class, n) in [("error", d.counts.error), ("query", d.counts.query), ("warning", d.counts.warning)] {
            if n == 0 {
                let _ = write!(h, "<td class=\"num\">0</td>");
            } else {
                let _ = write!(h, "<td class=\"num {class}\"><b>{}</b></td>", thousands(n));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

fn verdict_pill(valid: bool) -> &'static str {
    if valid {
        "<span class=\"pill ok\">\u{2713} Valid</span>"
    } else {
        "<span class=\"pill bad\">\u{2717} Not valid</span>"
    }
}

/// A rule's group up to its list of findings: the summary line (severity, code, wording, count) and the
/// fix and clause said once for all its findings.
fn write_group_head(h: &mut String, n: usize, r: &super::RuleCount, infos: &[RuleInfo], open: bool) {
    let info = rule_info(infos, &r.rule);
    let sev = r.severity.as_str();
    let open = if open { " open data-open" } else { "" };
    let _ = writeln!(
        h,
        "<details class=\"rule sev-{sev}\" id=\"rule-{}\" data-rule=\"{}\" data-count=\"{}\"{open}>",
        n + 1,
        esc(&r.rule),
        r.count
    );
    let _ = writeln!(
        h,
        "<summary class=\"rule-head\"><span class=\"sev {sev}\">{}</span><code class=\"rule-id\">{}</code>\
         <span class=\"rule-desc\">{}</span><span class=\"count\">{}</span></summary>",
        sev_label(r.severity),
        esc(&r.rule),
        esc(&r.wording(info)),
        plural_thousands(r.count, "occurrence", "occurrences")
    );
    let help = info.and_then(|i| i.help.as_deref());
    let clause = info.and_then(|i| i.clause.as_deref()).or(r.clause.as_deref());
    let fix = r.fix.as_deref().filter(|f| Some(*f) != help);
    if help.is_some() || fix.is_some() || clause.is_some() {
        h.push_str("<div class=\"rule-notes\">");
        if let Some(help) = help {
            let _ = write!(h, "<p class=\"fix\"><b>How to fix:</b> {}</p>", esc(help));
        }
        if let Some(fix) = fix {
            let label = if help.is_some() { "Fix" } else { "How to fix" };
            let _ = write!(h, "<p class=\"fix\"><b>{label}:</b> {}</p>", esc(fix));
        }
        if let Some(clause) = clause {
            let _ = write!(h, "<p><b>Clause:</b> {}</p>", esc(clause));
        }
        h.push_str("</div>\n");
    }
    h.push_str("<ol class=\"occ\">\n");
}

/// `1 occurrence`, `4,213 occurrences`.
fn plural_thousands(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// One finding in its rule's group. Its fix and clause are shown only where they differ from the group's
/// (`group_fix`, `group_clause`: the first a finding of the rule gave); `data-r` holds its records, in
/// lower case, for the filter.
fn write_occurrence(h: &mut String, path: &str, f: &Finding, group_fix: Option<&str>, group_clause: Option<&str>) {
    let records: Vec<&str> = f.record.iter().map(String::as_str).chain(f.records.iter().map(String::as_str)).collect();
    if records.is_empty() {
        h.push_str("<li>");
    } else {
        let _ = write!(h, "<li data-r=\"{}\">", esc(&records.join(" ").to_lowercase()));
    }
    h.push_str("<div class=\"where\">");
    match &f.location {
        Some(l) if l.line > 0 && l.column > 0 => {
            let _ = write!(h, "<span class=\"loc\">Line {}, column {}</span>", l.line, l.column);
        }
        Some(l) if l.line > 0 => {
            let _ = write!(h, "<span class=\"loc\">Line {}</span>", l.line);
        }
        _ => {
            let _ = write!(h, "<span class=\"loc\">Whole document</span>");
        }
    }
    if let Some(l) = f.location.as_ref().filter(|l| !l.path.is_empty()) {
        let _ = write!(h, "<code>{}</code>", esc(&l.path));
    }
    if let Some(record) = &f.record {
        let _ = write!(h, "<span>Record <code>{}</code></span>", esc(record));
    }
    let _ = write!(h, "<span class=\"file\">{}</span>", esc(path));
    h.push_str("</div>\n");
    let _ = writeln!(h, "<p class=\"msg\">{}</p>", esc(&f.message));
    if let Some(fix) = f.fix.as_deref().filter(|fix| Some(*fix) != group_fix) {
        let _ = writeln!(h, "<p class=\"fix\"><b>Fix:</b> {}</p>", esc(fix));
    }
    if let Some(clause) = f.clause.as_deref().filter(|c| Some(*c) != group_clause) {
        let _ = writeln!(h, "<p class=\"clause\">Clause: {}</p>", esc(clause));
    }
    if !f.records.is_empty() {
        let _ = write!(h, "<p class=\"recs\">{}: ", plural_thousands(f.records.len(), "record", "records"));
        for record in &f.records {
            let _ = write!(h, "<code>{}</code>", esc(record));
        }
        h.push_str("</p>\n");
    }
    write_source(h, f);
    h.push_str("</li>\n");
}

/// The finding's source lines, its place marked and underlined.
fn write_source(h: &mut String, f: &Finding) {
    let lines = excerpt_lines(f);
    if !lines.is_empty() {
        h.push_str("<div class=\"src\" role=\"figure\" aria-label=\"Source lines\">");
        for line in &lines {
            let (before, marked, after) = line.split();
            let hit = if line.mark.is_some() { " hit" } else { "" };
            let _ = write!(h, "<div class=\"l{hit}\"><span class=\"n\">{}</span><span>{}", line.number, esc(before));
            if !marked.is_empty() {
                let _ = write!(h, "<mark>{}</mark>", esc(marked));
            }
            let _ = write!(h, "{}</span></div>", esc(after));
            if let Some((start, len)) = line.mark {
                let _ = write!(
                    h,
                    "<div class=\"l under\" aria-hidden=\"true\"><span class=\"n\"></span><span class=\"caret\">{}{}</span></div>",
                    " ".repeat(start),
                    "^".repeat(len)
                );
            }
        }
        h.push_str("</div>\n");
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{render, sample_report};
    use crate::report::OutputFormat;

    fn html() -> String {
        render(OutputFormat::Html, &sample_report())
    }

    #[test]
    fn escapes_markup_from_data() {
        let out = html();
        assert!(!out.contains("<script>alert"));
        assert!(out.contains("Free text contains &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more."));
        assert!(out.contains("O&#39;Neil &amp; Sons"));
        assert!(out.contains("no &lt;ReferralSource&gt; element"));
        // One script, inline, and no external resources.
        assert_eq!(out.matches("<script").count(), 1);
        assert!(out.contains("<script>\n(function () {"));
        assert!(!out.contains("http://") && !out.contains("https://") && !out.contains("src="));
        assert!(!out.contains("fetch(") && !out.contains("XMLHttpRequest") && !out.contains("import("));
    }

    #[test]
    fn summary_index_and_groups() {
        let out = html();
        assert!(out.starts_with("<!DOCTYPE html>"));
        assert!(out.contains("\u{2717} 1 of 2 documents has errors"));
        assert!(out.contains("<b>3</b> errors") && out.contains("<b>1</b> query") && out.contains("<b>1</b> warning"));
        assert!(out.contains("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
        // The index: most findings first, each row linking to its group, with the standard's wording.
        let index = &out[out.find("<table class=\"overview index\">").expect("index")..];
        let index = &index[..index.find("</table>").expect("end of index")];
        let rows: Vec<&str> = index.lines().filter(|l| l.starts_with("<tr class")).collect();
        assert_eq!(rows.len(), 4);
        assert!(rows[0].contains("<a href=\"#rule-1\"><code class=\"rule-id\">REF-005</code></a>"));
        assert!(rows[0].contains("<td class=\"num error\"><b>2</b></td>"));
        assert!(rows[0].contains("An NHS number must pass its Modulus 11 check digit."));
        assert!(rows[1].contains(">required<") && rows[2].contains(">REF-010<") && rows[3].contains(">REF-099<"));
        // One group per rule across the documents, in the index's order.
        assert_eq!(out.matches("<details class=\"rule").count(), 4);
        let groups: Vec<usize> = ["REF-005", "required", "REF-010", "REF-099"]
            .iter()
            .map(|r| out.find(&format!("data-rule=\"{r}\"")).expect("group"))
            .collect();
        assert!(groups.windows(2).all(|w| w[0] < w[1]));
        assert!(out.contains(
            "<details class=\"rule sev-error\" id=\"rule-1\" data-rule=\"REF-005\" data-count=\"2\" open data-open>"
        ));
        assert!(out.contains("2 occurrences"));
        assert!(out.contains("Line 12, column 18") && out.contains("Record <code>C-1042</code>"));
        assert!(out.contains("Whole document"));
        // Each finding says which document it is in; the documents table lists both.
        assert!(out.contains("<span class=\"file\">referral-2.json</span>"));
        assert!(!out.contains("<body class=\"one-doc\">"));
        assert!(out.contains("<tr><td><code>referral.xml</code></td><td>XML</td>"));
    }

    #[test]
    fn the_fix_is_said_once_per_rule() {
        let mut r = sample_report();
        let again = r.documents[0].findings[0].clone();
        r.documents[0].findings.push(again);
        let out = render(OutputFormat::Html, &r);
        // REF-005's help from the standard, then the findings' own fix (different words) once, not per finding.
        assert_eq!(out.matches("Re-key the NHS number from the child&#39;s health record.").count(), 1);
        assert_eq!(
            out.matches("Check the number against the child&#39;s NHS record and correct the typing.").count(),
            1
        );
        assert_eq!(out.matches("Referral standard 4.2.1").count(), 1);
        // A finding whose fix differs from its group's shows its own.
        r.documents[0].findings[3].fix = Some("Ask the carer.".into());
        let out = render(OutputFormat::Html, &r);
        assert!(out.contains("<p class=\"fix\"><b>Fix:</b> Ask the carer.</p>"));
    }

    #[test]
    fn records_are_listed_and_searchable() {
        let mut r = sample_report();
        r.documents[0].findings[2].records = (1..=100).map(|i| format!("A{i}")).collect();
        let out = render(OutputFormat::Html, &r);
        assert!(out.contains("<p class=\"recs\">100 records: <code>A1</code><code>A2</code>"));
        assert!(out.contains("<code>A100</code></p>"));
        assert!(out.contains("<li data-r=\"a1 a2 a3 "));
        assert!(out.contains("<li data-r=\"c-1042\">"));
        // The filter's controls: by record and by rule (every rule broken, with its count).
        assert!(out.contains("id=\"find-record\""));
        assert!(out.contains("<option value=\"REF-005\">REF-005 (2)</option>"));
    }

    #[test]
    fn many_findings_start_closed() {
        let mut r = sample_report();
        let template = r.documents[0].findings[2].clone();
        r.documents[0].findings.extend((0..OPEN_UP_TO).map(|_| template.clone()));
        r.documents[0].counts = Counts::of(&r.documents[0].findings);
        let out = render(OutputFormat::Html, &r);
        assert!(!out.contains(" open data-open>"));
        assert!(out.contains(&format!("{} occurrences", thousands(OPEN_UP_TO + 1))));
        assert_eq!(out.matches("<li").count(), OPEN_UP_TO + 5);
    }

    #[test]
    fn a_large_report_holds_each_rules_findings_as_text() {
        let mut r = sample_report();
        let template = r.documents[0].findings[0].clone();
        r.documents[0].findings.extend((0..INLINE_UP_TO).map(|i| Finding {
            record: Some(format!("C-{i}")),
            message: format!("</script><script>alert({i})</script>"),
            ..template.clone()
        }));
        r.documents[0].counts = Counts::of(&r.documents[0].findings);
        let out = render(OutputFormat::Html, &r);
        // Every group's findings are inert text after its empty list; nothing in them closes the element early.
        assert_eq!(out.matches("<ol class=\"occ\">\n</ol><script type=\"text/html\">").count(), 4);
        assert_eq!(out.matches("<script").count(), 5);
        assert_eq!(out.matches("</script>").count(), 5);
        assert!(out.contains("<noscript>"));
        let held = &out[out.find("<script type=\"text/html\">").expect("held findings")..];
        let held = &held[..held.find("</script>").expect("end")];
        assert_eq!(held.matches("<li").count(), INLINE_UP_TO + 2);
        assert!(held.contains("<li data-r=\"c-1999\">"));
        assert!(held.contains("&lt;/script&gt;&lt;script&gt;alert(1999)"));
        assert!(out.contains("data-rule=\"REF-005\" data-count=\"2002\">"));
    }

    #[test]
    fn one_document_hides_the_file_on_each_finding() {
        let mut r = sample_report();
        r.documents.truncate(1);
        assert!(render(OutputFormat::Html, &r).contains("<body class=\"one-doc\">"));
        r.documents.clear();
        let empty = render(OutputFormat::Html, &r);
        assert!(empty.contains("No documents validated") && !empty.contains("<details"));
    }

    #[test]
    fn excerpt_is_highlighted_with_a_caret() {
        let out = html();
        assert!(out.contains(
            "<div class=\"l hit\"><span class=\"n\">12</span><span>      &lt;NhsNumber&gt;<mark>9434765918</mark>&lt;/NhsNumber&gt;</span></div>"
        ));
        assert!(out.contains(&format!("<span class=\"caret\">{}{}</span>", " ".repeat(17), "^".repeat(10))));
    }
}
