//! One self-contained HTML page for people who do not read JSON: a summary of the run, then a card
//! per document with its findings grouped by rule, each occurrence with its place, record, message,
//! fix and source lines. Inline CSS only, no scripts, no external resources; prints cleanly.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::model::{DocumentResult, Report, RuleInfo};
use super::{counts_phrase, excerpt_lines, plural, verdict_phrase, visible, Renderer};
use crate::finding::{Finding, Severity};

#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlRenderer;

impl Renderer for HtmlRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(page(report).as_bytes())
    }
}

/// Escape text for HTML element content and double- or single-quoted attributes; control
/// characters become U+FFFD.
pub(crate) fn esc(s: &str) -> String {
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
.filter { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; margin: 14px 2px 0; font-size: 13.5px; color: var(--muted); }
.filter label { display: inline-flex; gap: 6px; align-items: center; cursor: pointer; color: var(--ink); }
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
article.doc { background: var(--card); border: 1px solid var(--line); border-radius: 10px; margin: 18px 0; overflow: hidden; }
article.doc > header { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; padding: 14px 20px; border-bottom: 1px solid var(--line); }
article.doc.ok > header { border-left: 5px solid var(--ok); }
article.doc.bad > header { border-left: 5px solid var(--err); }
article.doc h3 { margin: 0; font-size: 17px; font-family: var(--mono); font-weight: 600; overflow-wrap: anywhere; }
article.doc .docmeta { color: var(--muted); font-size: 13.5px; margin-left: auto; }
.clean { padding: 14px 20px; color: var(--ok); }
section.rule { border-bottom: 1px solid var(--line); }
section.rule:last-child { border-bottom: 0; }
.rule-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 10px; padding: 12px 20px 4px; }
.rule-id { font-weight: 700; font-size: 14px; }
.rule-desc { flex: 1 1 300px; }
.count { color: var(--muted); font-size: 13px; white-space: nowrap; }
.rule-notes { padding: 0 20px 6px; font-size: 13.5px; color: var(--muted); }
.rule-notes p { margin: 2px 0; }
ol.occ { list-style: none; margin: 0; padding: 4px 20px 14px; }
ol.occ > li { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin-top: 8px; break-inside: avoid; }
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
  .summary, article.doc, table.overview { border-color: #999; }
  article.doc { break-inside: auto; }
  article.doc > header, .rule-head { break-after: avoid; }
  .src { overflow: hidden; }
  .src .l { white-space: pre-wrap; min-width: 0; }
  .src .l > span:last-child { min-width: 0; overflow-wrap: anywhere; }
  ol.occ > li { break-inside: auto; }
  .src { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  body:has(#show-error:not(:checked)) .sev-error,
  body:has(#show-query:not(:checked)) .sev-query,
  body:has(#show-warning:not(:checked)) .sev-warning { display: block; }
}
"#;

/// The whole page as a string.
pub fn page(report: &Report) -> String {
    let mut h = String::with_capacity(16 * 1024);
    let title = match &report.standard {
        Some(s) => format!("caregate report \u{2014} {} {}", s.id, s.version),
        None => "caregate report".to_string(),
    };
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>{}</title>", esc(&title));
    let _ = writeln!(h, "<style>{CSS}</style>\n</head>\n<body>");

    write_header(&mut h, report);
    h.push_str("<main class=\"wrap\">\n");
    write_summary(&mut h, report);
    if report.documents.len() > 1 {
        write_overview(&mut h, report);
    }
    if !report.documents.is_empty() {
        h.push_str("<h2 class=\"section\">Documents</h2>\n");
    }
    for (i, doc) in report.documents.iter().enumerate() {
        write_document(&mut h, report, i, doc);
    }
    h.push_str("</main>\n");
    let _ = writeln!(
        h,
        "<footer class=\"wrap\">Produced by {} {}. Errors must be corrected before the data is accepted; \
         queries ask the sender to confirm a value; warnings are for information.</footer>",
        esc(&report.tool.name),
        esc(&report.tool.version)
    );
    h.push_str("</body>\n</html>\n");
    h
}

fn write_header(h: &mut String, report: &Report) {
    h.push_str("<header class=\"top\"><div class=\"wrap\">\n");
    let _ = writeln!(h, "<h1>{} <span>validation report</span></h1>", esc(&report.tool.name));
    h.push_str("<dl class=\"meta\">\n");
    if let Some(s) = &report.standard {
        let _ = writeln!(h, "<dt>Standard</dt><dd><b>{}</b> version {}</dd>", esc(&s.id), esc(&s.version));
        let _ = writeln!(h, "<dt>Standard digest</dt><dd><code>{}</code></dd>", esc(&s.digest));
    } else {
        h.push_str("<dt>Standard</dt><dd>detected per document</dd>\n");
    }
    let _ =
        writeln!(h, "<dt>Checked by</dt><dd>{} {}</dd>", esc(&report.tool.name), esc(&report.tool.version));
    h.push_str("</dl>\n</div></header>\n");
}

fn badge(h: &mut String, class: &str, n: usize, one: &str, many: &str) {
    let zero = if n == 0 { " zero" } else { "" };
    let word = if n == 1 { one } else { many };
    let _ = write!(h, "<span class=\"badge {class}{zero}\"><b>{n}</b> {word}</span>");
}

fn write_summary(h: &mut String, report: &Report) {
    let (ok, text) = verdict_phrase(report);
    let c = report.counts();
    h.push_str("<section class=\"summary\" aria-label=\"Summary\">\n");
    let (class, mark) = if ok { ("ok", "\u{2713}") } else { ("bad", "\u{2717}") };
    let _ = writeln!(h, "<div class=\"verdict {class}\">{mark} {}</div>", esc(&capitalise(&text)));
    h.push_str("<div class=\"badges\">");
    badge(h, "docs", report.documents.len(), "document", "documents");
    badge(h, "error", c.error, "error", "errors");
    badge(h, "query", c.query, "query", "queries");
    badge(h, "warning", c.warning, "warning", "warnings");
    h.push_str("</div>\n</section>\n");
    if c.error + c.query + c.warning > 0 {
        h.push_str("<div class=\"filter\" role=\"group\" aria-label=\"Show findings\">Show:");
        for (id, label) in [("error", "Errors"), ("query", "Queries"), ("warning", "Warnings")] {
            let _ = write!(h, "<label><input type=\"checkbox\" id=\"show-{id}\" checked> {label}</label>");
        }
        h.push_str("</div>\n");
    }
}

fn write_overview(h: &mut String, report: &Report) {
    h.push_str("<h2 class=\"section\">Overview</h2>\n<table class=\"overview\">\n");
    h.push_str(
        "<colgroup><col class=\"doc\"><col class=\"fmt\"><col class=\"res\"><col><col><col></colgroup>\n",
    );
    h.push_str(
        "<thead><tr><th>Document</th><th>Format</th><th>Result</th><th class=\"num\">Errors</th>\
                <th class=\"num\">Queries</th><th class=\"num\">Warnings</th></tr></thead>\n<tbody>\n",
    );
    for (i, d) in report.documents.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td><a href=\"#doc-{}\"><code>{}</code></a></td><td>{}</td><td>{}</td>",
            i + 1,
            esc(&d.path),
            esc(&d.format.to_uppercase()),
            verdict_pill(d)
        );
        for (class, n) in
            [("error", d.counts.error), ("query", d.counts.query), ("warning", d.counts.warning)]
        {
            if n == 0 {
                let _ = write!(h, "<td class=\"num\">0</td>");
            } else {
                let _ = write!(h, "<td class=\"num {class}\"><b>{n}</b></td>");
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

fn verdict_pill(d: &DocumentResult) -> &'static str {
    if d.valid {
        "<span class=\"pill ok\">\u{2713} Valid</span>"
    } else {
        "<span class=\"pill bad\">\u{2717} Not valid</span>"
    }
}

/// Findings of one rule (and one severity) in one document, in document order.
struct Group<'a> {
    rule: &'a str,
    severity: Severity,
    info: Option<&'a RuleInfo>,
    findings: Vec<&'a Finding>,
}

fn groups<'a>(report: &'a Report, doc: &'a DocumentResult) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for f in &doc.findings {
        match groups.iter_mut().find(|g| g.rule == f.rule && g.severity == f.severity) {
            Some(g) => g.findings.push(f),
            None => groups.push(Group {
                rule: &f.rule,
                severity: f.severity,
                info: report.rules.iter().find(|r| r.id == f.rule),
                findings: vec![f],
            }),
        }
    }
    // Errors first, then queries, then warnings; within a severity, in order of first appearance.
    groups.sort_by_key(|g| g.severity);
    groups
}

fn write_document(h: &mut String, report: &Report, i: usize, doc: &DocumentResult) {
    let class = if doc.valid { "ok" } else { "bad" };
    let _ = writeln!(h, "<article class=\"doc {class}\" id=\"doc-{}\">", i + 1);
    let _ = write!(h, "<header><h3>{}</h3>{}", esc(&doc.path), verdict_pill(doc));
    let mut meta = vec![doc.format.to_uppercase()];
    if let Some(n) = doc.records {
        meta.push(plural(n, "record", "records"));
    }
    if let Some(s) = &doc.standard {
        meta.push(format!("{} {}", s.id, s.version));
    }
    meta.push(counts_phrase(&doc.counts));
    let _ = writeln!(h, "<span class=\"docmeta\">{}</span></header>", esc(&meta.join(" \u{00b7} ")));

    if doc.findings.is_empty() {
        h.push_str("<p class=\"clean\">No findings: this document meets the standard.</p>\n");
    }
    for g in groups(report, doc) {
        write_group(h, doc, &g);
    }
    h.push_str("</article>\n");
}

fn write_group(h: &mut String, doc: &DocumentResult, g: &Group<'_>) {
    let sev = g.severity.as_str();
    let _ = writeln!(h, "<section class=\"rule sev-{sev}\">");
    let _ = write!(
        h,
        "<div class=\"rule-head\"><span class=\"sev {sev}\">{}</span><code class=\"rule-id\">{}</code>",
        sev_label(g.severity),
        esc(g.rule)
    );
    // The rule's own wording; without rule metadata, the message when every occurrence says the same.
    let description = g.info.map(|i| i.description.as_str()).or_else(|| {
        let first = g.findings.first().map(|f| f.message.as_str());
        first.filter(|m| g.findings.len() > 1 && g.findings.iter().all(|f| f.message == *m))
    });
    match description {
        Some(d) => {
            let _ = write!(h, "<span class=\"rule-desc\">{}</span>", esc(d));
        }
        None => h.push_str("<span class=\"rule-desc\"></span>"),
    }
    let _ = writeln!(
        h,
        "<span class=\"count\">{}</span></div>",
        plural(g.findings.len(), "occurrence", "occurrences")
    );

    let rule_clause = g.info.and_then(|i| i.clause.as_deref());
    let rule_help = g.info.and_then(|i| i.help.as_deref());
    if rule_clause.is_some() || rule_help.is_some() {
        h.push_str("<div class=\"rule-notes\">");
        if let Some(help) = rule_help {
            let _ = write!(h, "<p><b>How to fix:</b> {}</p>", esc(help));
        }
        if let Some(clause) = rule_clause {
            let _ = write!(h, "<p><b>Clause:</b> {}</p>", esc(clause));
        }
        h.push_str("</div>\n");
    }

    h.push_str("<ol class=\"occ\">\n");
    for f in &g.findings {
        write_occurrence(h, doc, f, rule_clause);
    }
    h.push_str("</ol>\n</section>\n");
}

fn write_occurrence(h: &mut String, doc: &DocumentResult, f: &Finding, rule_clause: Option<&str>) {
    h.push_str("<li>");
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
        let _ = write!(h, "<code title=\"Path in {}\">{}</code>", esc(&doc.path), esc(&l.path));
    }
    if let Some(record) = &f.record {
        let _ = write!(h, "<span>Record <code>{}</code></span>", esc(record));
    }
    h.push_str("</div>\n");
    let _ = writeln!(h, "<p class=\"msg\">{}</p>", esc(&f.message));
    if let Some(fix) = &f.fix {
        let _ = writeln!(h, "<p class=\"fix\"><b>Fix:</b> {}</p>", esc(fix));
    }
    if let Some(clause) = f.clause.as_deref().filter(|c| Some(*c) != rule_clause) {
        let _ = writeln!(h, "<p class=\"clause\">Clause: {}</p>", esc(clause));
    }
    let lines = excerpt_lines(f);
    if !lines.is_empty() {
        h.push_str("<div class=\"src\" role=\"figure\" aria-label=\"Source lines\">");
        for line in &lines {
            let (before, marked, after) = line.split();
            let hit = if line.mark.is_some() { " hit" } else { "" };
            let _ = write!(
                h,
                "<div class=\"l{hit}\"><span class=\"n\">{}</span><span>{}",
                line.number,
                esc(before)
            );
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
    h.push_str("</li>\n");
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
    use crate::report::testutil::{render_to_string, sample_report};

    fn html() -> String {
        render_to_string(&HtmlRenderer, &sample_report())
    }

    #[test]
    fn escapes_markup_from_data() {
        let out = html();
        assert!(!out.contains("<script>alert"));
        assert!(
            out.contains("Free text contains &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more.")
        );
        assert!(out.contains("O&#39;Neil &amp; Sons"));
        assert!(out.contains("no &lt;ReferralSource&gt; element"));
        // No script of any kind, no external resources.
        assert!(!out.contains("<script"));
        assert!(!out.contains("http://") && !out.contains("https://") && !out.contains("src="));
    }

    #[test]
    fn summary_documents_and_groups() {
        let out = html();
        assert!(out.starts_with("<!DOCTYPE html>"));
        assert!(out.contains("\u{2717} 1 of 2 documents has errors"));
        assert!(
            out.contains("<b>3</b> errors")
                && out.contains("<b>1</b> query")
                && out.contains("<b>1</b> warning")
        );
        assert!(out.contains("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
        assert_eq!(out.matches("<article class=\"doc").count(), 2);
        // REF-005 occurs twice in the first document and is one group.
        assert_eq!(out.matches("<code class=\"rule-id\">REF-005</code>").count(), 1);
        assert!(out.contains("2 occurrences"));
        assert!(out.contains("An NHS number must pass its Modulus 11 check digit."));
        assert!(out.contains("Line 12, column 18") && out.contains("Record <code>C-1042</code>"));
        assert!(out.contains("Whole document"));
        // Errors come before queries in a document.
        let err = out.find("<code class=\"rule-id\">required</code>").expect("required group");
        let qry = out.find("<code class=\"rule-id\">REF-010</code>").expect("query group");
        assert!(err < qry);
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
