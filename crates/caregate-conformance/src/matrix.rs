//! The standards body's view: one table across suppliers (supplier × requirement) from many runs' reports,
//! in HTML and JSON. A supplier's cell is the outcome of its latest report that tested the requirement.
//!
//! Not for: running anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::evidence::{Evidence, Status};
use super::ConformanceError;
use caregate_engine::report::html::esc;

/// One supplier's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub supplier: String,
    /// Requirement id → status.
    pub cells: BTreeMap<String, Status>,
    /// The reports read, as `run-id (kind standard)`.
    pub reports: Vec<String>,
    pub conformant: bool,
}

/// `matrix.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    /// Requirement ids, as `standard requirement` columns: (standard, id, text).
    pub requirements: Vec<(String, String, String)>,
    pub suppliers: Vec<Row>,
}

fn reports_below(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), ConformanceError> {
    let report = dir.join("report.json");
    if report.is_file() {
        found.push(report);
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| ConformanceError::io(dir, e))?;
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for sub in dirs {
        reports_below(&sub, found)?;
    }
    Ok(())
}

impl Matrix {
    /// Reads every report.json in (or below) the folders.
    pub fn collect(dirs: &[PathBuf]) -> Result<Matrix, ConformanceError> {
        let mut paths = Vec::new();
        for dir in dirs {
            reports_below(dir, &mut paths)?;
        }
        if paths.is_empty() {
            return Err(ConformanceError::file(dirs.first().cloned().unwrap_or_default(), "holds no report.json"));
        }
        let mut reports: Vec<Evidence> = paths.iter().map(|p| Evidence::read(p)).collect::<Result<_, _>>()?;
        reports.sort_by(|a, b| a.created.cmp(&b.created).then(a.run_id.cmp(&b.run_id)));
        Ok(Matrix::of(&reports))
    }

    pub fn of(reports: &[Evidence]) -> Matrix {
        let mut columns: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut rows: BTreeMap<String, Row> = BTreeMap::new();
        for report in reports {
            let standard = format!("{}@{}", report.standard.id, report.standard.version);
            let row = rows.entry(report.subject.supplier.clone()).or_insert_with(|| Row {
                supplier: report.subject.supplier.clone(),
                cells: BTreeMap::new(),
                reports: Vec::new(),
                conformant: true,
            });
            row.reports.push(format!("{} ({} {standard})", report.run_id, format!("{:?}", report.kind).to_lowercase()));
            for r in &report.requirements {
                columns.entry((standard.clone(), r.id.clone())).or_insert_with(|| r.text.clone());
                let key = format!("{standard} {}", r.id);
                if r.status != Status::Untested || !row.cells.contains_key(&key) {
                    row.cells.insert(key, r.status);
                }
            }
        }
        for row in rows.values_mut() {
            // Conformant: every requirement its reports hold passed or is waived in the latest that tested it.
            row.conformant = !row.cells.values().any(|s| matches!(s, Status::Fail | Status::Untested))
                && row.cells.values().any(|s| matches!(s, Status::Pass | Status::Waived));
        }
        let tested: BTreeSet<String> = rows
            .values()
            .flat_map(|r| r.cells.iter().filter(|(_, s)| **s != Status::Untested).map(|(k, _)| k.clone()))
            .collect();
        let requirements = columns
            .into_iter()
            .filter(|((s, id), _)| tested.contains(&format!("{s} {id}")))
            .map(|((s, id), text)| (s, id, text))
            .collect();
        Matrix { requirements, suppliers: rows.into_values().collect() }
    }

    pub fn html(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Conformance matrix</title><style>{}
table.grid td.cell{{text-align:center;padding:2px}} th.req{{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500;font-size:12px;padding:6px 2px}}
@page{{size:landscape}}</style></head><body>", super::render::STYLE);
        let _ = write!(out, "<h1>Conformance matrix</h1><p class=\"meta\">{} suppliers × {} requirements tested. Each cell is the supplier's latest result for the requirement: <span class=\"badge pass\">pass</span> <span class=\"badge fail\">fail</span> <span class=\"badge waived\">waived</span> <span class=\"badge untested\">untested</span>.</p>", self.suppliers.len(), self.requirements.len());
        let mut standards: Vec<&str> = self.requirements.iter().map(|(s, _, _)| s.as_str()).collect();
        standards.dedup();
        for standard in standards {
            let columns: Vec<&(String, String, String)> =
                self.requirements.iter().filter(|(s, _, _)| s == standard).collect();
            let _ =
                write!(out, "<h2>{}</h2><table class=\"grid\"><tr><th>Supplier</th><th>Verdict</th>", esc(standard));
            for (_, id, text) in &columns {
                let _ = write!(out, "<th class=\"req\" title=\"{}\">{}</th>", esc(text), esc(id));
            }
            out.push_str("</tr>");
            for row in &self.suppliers {
                let cells: Vec<Option<Status>> =
                    columns.iter().map(|(s, id, _)| row.cells.get(&format!("{s} {id}")).copied()).collect();
                if cells.iter().all(|c| c.is_none()) {
                    continue;
                }
                let failed = cells.iter().filter(|c| **c == Some(Status::Fail)).count();
                let untested = cells.iter().filter(|c| matches!(c, None | Some(Status::Untested))).count();
                let verdict = if failed > 0 {
                    format!("<span class=\"badge fail\">{failed} failed</span>")
                } else if untested > 0 {
                    format!("<span class=\"badge untested\">incomplete: {untested} untested</span>")
                } else {
                    "<span class=\"badge pass\">conformant</span>".to_string()
                };
                let _ = write!(out, "<tr><td><b>{}</b></td><td>{verdict}</td>", esc(&row.supplier));
                for cell in cells {
                    let status = cell.unwrap_or(Status::Untested);
                    let mark = match status {
                        Status::Pass => "✔",
                        Status::Fail => "✘",
                        Status::Waived => "W",
                        Status::Untested => "·",
                    };
                    let _ =
                        write!(out, "<td class=\"cell {}\" title=\"{}\">{mark}</td>", status.as_str(), status.as_str());
                }
                out.push_str("</tr>");
            }
            out.push_str("</table>");
        }
        out.push_str("<h2>Reports read</h2><table class=\"grid\"><tr><th>Supplier</th><th>Reports</th></tr>");
        for row in &self.suppliers {
            let _ = write!(out, "<tr><td>{}</td><td>{}</td></tr>", esc(&row.supplier), esc(&row.reports.join("; ")));
        }
        out.push_str("</table></body></html>\n");
        out
    }

    /// Writes `matrix.html` and `matrix.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ConformanceError> {
        std::fs::create_dir_all(dir).map_err(|e| ConformanceError::io(dir, e))?;
        let json = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        let mut written = Vec::new();
        for (name, text) in [("matrix.html", self.html()), ("matrix.json", json)] {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| ConformanceError::io(&path, e))?;
            written.push(path);
        }
        Ok(written)
    }
}
