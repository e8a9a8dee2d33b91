//! The conformance report drawn for people and for CI: one self-contained HTML page a standards officer can
//! print (summary, then pass, fail or waived per requirement, then every case with its document excerpt and
//! diffs), and JUnit XML (one test case per case). Inline CSS only, no scripts, no external resources.
//!
//! Not for: the evidence itself (`evidence`), or validation reports (`report`).

use std::fmt::Write as _;

use super::evidence::{CaseResult, Evidence, Excerpt, Outcome, Status};
use caregate_engine::report::html::esc;

pub(crate) const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #1b1b1b;padding-bottom:4px}
.meta{color:#444;margin:0 0 12px}.meta td{padding:1px 12px 1px 0;vertical-align:top}.meta td:first-child{color:#666;white-space:nowrap}
.verdict{font-size:18px;font-weight:600;padding:10px 14px;border-radius:4px;margin:12px 0}
.ok{background:#e6f4ea;color:#0b5d1e;border:1px solid #0b5d1e}.incomplete{background:#fff4d6;color:#7a4b00;border:1px solid #7a4b00}.bad{background:#fde8e8;color:#8a1010;border:1px solid #8a1010}
.tiles{display:flex;gap:10px;margin:10px 0}.tile{border:1px solid #bbb;border-radius:4px;padding:6px 12px;min-width:90px}.tile b{font-size:20px;display:block}
table.grid{border-collapse:collapse;width:100%;font-size:13px}table.grid th,table.grid td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
table.grid th{background:#f0f0f0}
.badge{display:inline-block;font-weight:600;font-size:12px;padding:1px 7px;border-radius:3px;border:1px solid;white-space:nowrap}
.pass{color:#0b5d1e;background:#e6f4ea}.fail{color:#8a1010;background:#fde8e8}.waived{color:#7a4b00;background:#fff4d6}.untested{color:#555;background:#f0f0f0}
.case{border:1px solid #ccc;border-left:6px solid #0b5d1e;border-radius:3px;padding:8px 12px;margin:10px 0;page-break-inside:avoid}
.case.failed{border-left-color:#8a1010}.case h3{font-size:15px;margin:0 0 4px}.case .kv{font-size:13px;color:#333}.case .kv span{color:#666}
ul.problems{margin:6px 0;padding-left:20px;color:#8a1010}
pre{background:#f7f7f7;border:1px solid #ddd;padding:6px 8px;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;overflow-x:auto;margin:6px 0;white-space:pre-wrap}
pre .mark{background:#ffe3a3;display:inline-block;width:100%}pre .add{color:#0b5d1e;background:#e6f4ea;display:inline-block;width:100%}pre .del{color:#8a1010;background:#fde8e8;display:inline-block;width:100%}
.digest{font:11px ui-monospace,Menlo,Consolas,monospace;word-break:break-all;color:#555}
@media print{body{margin:0;max-width:none}.case{page-break-inside:avoid}h2{page-break-after:avoid}}
"#;

fn badge(status: Status) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", status.as_str())
}

fn excerpt(out: &mut String, e: &Excerpt) {
    out.push_str("<pre>");
    for (i, line) in e.lines.iter().enumerate() {
        let n = e.first_line + i as u32;
        let text = format!("{n:>4} | {}", esc(line));
        if e.mark == Some(n) {
            let _ = writeln!(out, "<span class=\"mark\">{text}</span>");
        } else {
            let _ = writeln!(out, "{text}");
        }
    }
    out.push_str("</pre>");
}

fn diff(out: &mut String, text: &str) {
    out.push_str("<pre>");
    for line in text.lines() {
        let class = if line.starts_with('+') && !line.starts_with("+++") {
            "add"
        } else if line.starts_with('-') && !line.starts_with("---") {
            "del"
        } else {
            ""
        };
        if class.is_empty() {
            let _ = writeln!(out, "{}", esc(line));
        } else {
            let _ = writeln!(out, "<span class=\"{class}\">{}</span>", esc(line));
        }
    }
    out.push_str("</pre>");
}

fn case_card(out: &mut String, case: &CaseResult) {
    let _ = write!(
        out,
        "<div class=\"case{}\" id=\"case-{}\"><h3>{} {}{}</h3>",
        if case.passed { "" } else { " failed" },
        esc(&case.id),
        badge(if case.passed { Status::Pass } else { Status::Fail }),
        esc(&case.id),
        case.title.as_deref().map(|t| format!(" — {}", esc(t))).unwrap_or_default()
    );
    let _ = write!(
        out,
        "<div class=\"kv\"><span>Document:</span> {} <span class=\"digest\">{}</span><br><span>Requirements:</span> {}<br><span>Expected:</span> {}<br><span>Observed:</span> {}</div>",
        esc(&case.document),
        esc(&case.sha256),
        esc(&case.requirements.join(", ")),
        esc(&case.expected),
        esc(&case.observed)
    );
    if !case.problems.is_empty() {
        out.push_str("<ul class=\"problems\">");
        for p in &case.problems {
            let _ = write!(out, "<li>{}</li>", esc(p));
        }
        out.push_str("</ul>");
    }
    for d in &case.diffs {
        let _ = write!(
            out,
            "<div class=\"kv\"><span>Field</span> <code>{}</code>: expected (−) and produced (+)</div>",
            esc(&d.pointer)
        );
        diff(out, &d.diff);
    }
    if let Some(e) = &case.excerpt {
        excerpt(out, e);
    }
    out.push_str("</div>\n");
}

/// `report.html`.
pub fn html(evidence: &Evidence) -> String {
    let s = &evidence.summary;
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("{} — {} {}", evidence.kind.title(), evidence.standard.id, evidence.standard.version);
    let _ = write!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n", esc(&title));
    let _ = write!(out, "<h1>{}</h1>", esc(&title));
    out.push_str("<table class=\"meta\">");
    let mut row = |k: &str, v: String| {
        let _ = write!(out, "<tr><td>{}</td><td>{}</td></tr>", esc(k), v);
    };
    row("Supplier", esc(&evidence.subject.supplier));
    if let Some(endpoint) = &evidence.subject.endpoint {
        row("Endpoint", esc(endpoint));
    }
    row(
        "Standard",
        format!(
            "{} {} <span class=\"digest\">{}</span>",
            esc(&evidence.standard.id),
            esc(&evidence.standard.version),
            esc(&evidence.standard.digest)
        ),
    );
    row(
        "Suite",
        format!("{} <span class=\"digest\">{}</span>", esc(&evidence.suite.origin), esc(&evidence.suite.sha256)),
    );
    row("Run", format!("{} at {}", esc(&evidence.run_id), esc(&evidence.created)));
    row("Tool", format!("{} {}", esc(&evidence.tool.name), esc(&evidence.tool.version)));
    row(
        "Signature",
        match &evidence.signature {
            Some(sig) => format!(
                "{} by key <span class=\"digest\">{}</span> (check with <code>caregate report verify</code>)",
                esc(&sig.algorithm),
                esc(&sig.key_id)
            ),
            None => "not signed".into(),
        },
    );
    out.push_str("</table>");
    let (class, verdict) = match evidence.verdict {
        Outcome::Conformant => (
            "ok",
            format!(
                "CONFORMANT: every requirement of the suite passed{}.",
                if s.waived > 0 { format!(" or is waived ({} waived)", s.waived) } else { String::new() }
            ),
        ),
        Outcome::Incomplete => (
            "incomplete",
            format!(
                "INCOMPLETE: no requirement failed, but {} of {} {} not tested: {}.",
                s.untested,
                s.requirements,
                if s.untested == 1 { "was" } else { "were" },
                evidence.untested.join(", ")
            ),
        ),
        Outcome::NotConformant if s.passed + s.waived == 0 && s.failed == 0 => {
            ("bad", "NOT CONFORMANT: nothing was tested.".to_string())
        }
        Outcome::NotConformant => {
            ("bad", format!("NOT CONFORMANT: {} requirement{} failed.", s.failed, if s.failed == 1 { "" } else { "s" }))
        }
    };
    let _ = write!(out, "<div class=\"verdict {class}\">{}</div>", esc(&verdict));
    let _ = write!(
        out,
        "<div class=\"tiles\"><div class=\"tile\"><b>{}</b>requirements</div><div class=\"tile pass\"><b>{}</b>passed</div><div class=\"tile fail\"><b>{}</b>failed</div><div class=\"tile waived\"><b>{}</b>waived</div><div class=\"tile untested\"><b>{}</b>untested</div><div class=\"tile\"><b>{}/{}</b>cases passed</div></div>",
        s.requirements, s.passed, s.failed, s.waived, s.untested, s.cases_passed, s.cases
    );
    out.push_str("<h2>Requirements</h2><table class=\"grid\"><tr><th>Requirement</th><th>Level</th><th>What it requires</th><th>Result</th><th>Cases</th></tr>");
    let mut ordered: Vec<_> = evidence.requirements.iter().collect();
    ordered.sort_by_key(|r| (r.status, r.level));
    for r in ordered {
        let mut what = esc(&r.text);
        if let Some(clause) = &r.clause {
            let _ = write!(what, "<br><span class=\"digest\">{}</span>", esc(clause));
        }
        if let Some(w) = &r.waiver {
            let _ = write!(
                what,
                "<br><i>Waiver for {}: {} (expires {})</i>",
                esc(&w.supplier),
                esc(&w.reason),
                esc(&w.expires)
            );
        }
        if let Some(note) = &r.note {
            let _ = write!(what, "<br><b>{}</b>", esc(note));
        }
        let cases: Vec<String> = r.cases.iter().map(|c| format!("<a href=\"#case-{0}\">{0}</a>", esc(c))).collect();
        let _ = write!(
            out,
            "<tr><td><b>{}</b></td><td>{}</td><td>{what}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.id),
            r.level.as_str(),
            badge(r.status),
            cases.join(" ")
        );
    }
    out.push_str("</table>");
    let (failed, passed): (Vec<&CaseResult>, Vec<&CaseResult>) = evidence.cases.iter().partition(|c| !c.passed);
    if !failed.is_empty() {
        let _ = write!(out, "<h2>Failed cases ({})</h2>", failed.len());
        for case in failed {
            case_card(&mut out, case);
        }
    }
    if !passed.is_empty() {
        let _ = write!(out, "<h2>Passed cases ({})</h2>", passed.len());
        for case in passed {
            case_card(&mut out, case);
        }
    }
    out.push_str("<h2>Inputs</h2><table class=\"grid\"><tr><th>Input</th><th>SHA-256</th></tr>");
    for input in &evidence.inputs {
        let _ = write!(out, "<tr><td>{}</td><td class=\"digest\">{}</td></tr>", esc(&input.name), esc(&input.sha256));
    }
    out.push_str("</table></body></html>\n");
    out
}

fn xml_esc(s: &str) -> String {
    esc(s)
}

/// `junit.xml`: one test case per case, named by its id and the requirements it covers.
pub fn junit(evidence: &Evidence) -> String {
    let mut out = String::new();
    let name = format!("{} {}@{}", evidence.kind.title(), evidence.standard.id, evidence.standard.version);
    let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\">",
        xml_esc(&name),
        evidence.summary.cases,
        evidence.summary.cases_failed
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" timestamp=\"{}\">",
        xml_esc(&name),
        evidence.summary.cases,
        evidence.summary.cases_failed,
        xml_esc(&evidence.created)
    );
    for case in &evidence.cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\">",
            xml_esc(&format!("{}.{}", evidence.standard.id, case.requirements.join("+"))),
            xml_esc(&case.id)
        );
        if !case.passed {
            let mut text = case.problems.join("\n");
            for d in &case.diffs {
                text.push('\n');
                text.push_str(&d.diff);
            }
            let _ = write!(
                out,
                "<failure message=\"{}\">{}</failure>",
                xml_esc(case.problems.first().map(String::as_str).unwrap_or("failed")),
                xml_esc(&text)
            );
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
