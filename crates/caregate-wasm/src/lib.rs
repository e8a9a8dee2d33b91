//! caregate's engine for the browser: the files a person picked, in memory, validated into the JSON report
//! that `caregate validate --format json` writes for the same files.
//!
//! For: the console's Web Worker, through the plain C interface of [`exports`] (wasm32 only) and a
//! hand-written JS loader (no wasm-bindgen, so no tool pinned to a crate version). The logic is here, in
//! safe Rust tested natively; `exports` only moves bytes across the boundary.
//!
//! Not for: reading files, the clock or the network; the page gives the bytes and the time, and the module
//! can reach nothing else (it imports one function, the progress callback).
#![cfg_attr(not(target_family = "wasm"), forbid(unsafe_code))]

use std::sync::OnceLock;

use caregate_engine::finding::Finding;
use caregate_engine::model::{DocumentEnd, DocumentStart, RuleInfo, StandardRef, Tool};
use caregate_engine::report::{self, OutputFormat, ReportWriter, WriterOptions};
use caregate_engine::run::{self, MemoryInput};
use caregate_engine::standard::Catalog;
use caregate_engine::validate::{Options, Validator};
use serde::{Deserialize, Serialize};

#[cfg(target_family = "wasm")]
pub mod exports;

/// What a run is asked to do, as the page sends it (JSON).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `id` or `id@version`; `None`: recognised from each file, as the command line does.
    #[serde(default)]
    pub standard: Option<String>,
    /// The time the rules compare dates with (RFC 3339). The page gives its clock's: wasm32 has none.
    pub now: String,
    /// Values the return does not carry (`la_code` for SSDA903), as `--param NAME=VALUE`.
    #[serde(default)]
    pub params: Vec<(String, String)>,
    /// The part of a bulk return this run checks, when several workers share it (see
    /// `caregate_engine::validate::Share`); `None`: all of it.
    #[serde(default)]
    pub share: Option<caregate_engine::validate::Share>,
}

/// One standard the page can offer in its list.
#[derive(Debug, Serialize)]
pub struct StandardEntry {
    pub reference: String,
    pub id: String,
    pub version: String,
    pub title: String,
    /// Whether its returns come as CSV tables (the page says so beside the file input).
    pub tables: bool,
}

/// How far a run has gone: the files done of all, and the bytes read of the file being read.
pub trait Progress {
    fn files(&self, done: usize, total: usize);
    fn bytes(&self, file: usize, read: u64, total: u64);
}

/// The embedded packs, compiled once for the module's life (compiling is most of a small run's time).
fn catalog() -> Result<&'static Catalog, String> {
    static CATALOG: OnceLock<Result<Catalog, String>> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::embedded().map_err(|e| e.to_string())).as_ref().map_err(Clone::clone)
}

/// The standards of the embedded packs, for the page's list.
pub fn standards() -> Result<Vec<StandardEntry>, String> {
    Ok(catalog()?
        .packs()
        .iter()
        .map(|p| StandardEntry {
            reference: p.reference(),
            id: p.manifest.id.clone(),
            version: p.manifest.version.clone(),
            title: p.manifest.title.clone(),
            tables: p.manifest.tables.is_some(),
        })
        .collect())
}

/// An input in memory that tells `progress` how much of it a bulk check has read.
struct Tracked<P: Progress + Clone + Send + Sync + 'static> {
    input: MemoryInput,
    index: usize,
    progress: P,
}

impl<P: Progress + Clone + Send + Sync + 'static> run::Input for Tracked<P> {
    fn path(&self) -> &str {
        self.input.path()
    }
    fn head(&self) -> std::io::Result<Option<Vec<u8>>> {
        self.input.head()
    }
    fn open(&self, offset: u64) -> std::io::Result<Box<dyn std::io::BufRead + Send + '_>> {
        self.input.open(offset)
    }
    fn read(
        &self,
        limits: &caregate_engine::document::Limits,
    ) -> std::io::Result<Result<Vec<u8>, Box<caregate_engine::finding::Finding>>> {
        self.input.read(limits)
    }
    fn progress(&self) -> Option<Box<dyn Fn(u64) + Send + Sync>> {
        let (progress, index, total) = (self.progress.clone(), self.index, self.input.bytes.len() as u64);
        Some(Box::new(move |read| progress.bytes(index, read, total)))
    }
}

/// What a run gives the page.
pub struct Validated {
    /// The JSON report, byte for byte what `caregate validate --format json --output FILE` writes.
    pub report: Vec<u8>,
    /// A JSON array with each finding's excerpt (the source lines around it, which the JSON report leaves
    /// out), in the report's order of findings: `null`, or `{"first_line", "lines": [{"text", "column",
    /// "cut_after"}]}`.
    pub excerpts: Vec<u8>,
}

/// Passes everything to the JSON writer, and keeps each finding's excerpt beside it in the same order.
struct WithExcerpts<'w> {
    report: Box<dyn ReportWriter + 'w>,
    excerpts: Vec<serde_json::Value>,
}

impl ReportWriter for WithExcerpts<'_> {
    fn begin_run(&mut self, tool: &Tool, standard: Option<&StandardRef>) -> std::io::Result<()> {
        self.report.begin_run(tool, standard)
    }
    fn begin_document(&mut self, document: &DocumentStart<'_>) -> std::io::Result<()> {
        self.report.begin_document(document)
    }
    fn finding(&mut self, finding: &Finding) -> std::io::Result<()> {
        self.excerpts.push(match &finding.excerpt {
            None => serde_json::Value::Null,
            Some(excerpt) => serde_json::json!({
                "first_line": excerpt.first_line,
                "lines": excerpt.lines.iter().map(|l| serde_json::json!({
                    "text": l.text, "column": l.column, "cut_after": l.cut_after,
                })).collect::<Vec<_>>(),
            }),
        });
        self.report.finding(finding)
    }
    fn end_document(&mut self, end: &DocumentEnd) -> std::io::Result<()> {
        self.report.end_document(end)
    }
    fn finish(&mut self, rules: &[RuleInfo]) -> std::io::Result<()> {
        self.report.finish(rules)
    }
}

/// Validates `files` (name, bytes) as one run, as `caregate validate --format json --output FILE` does the
/// same files with the same standard, parameters and time.
pub fn validate<P: Progress + Clone + Send + Sync + 'static>(
    files: Vec<(String, Vec<u8>)>,
    request: &Request,
    progress: P,
) -> Result<Validated, String> {
    let catalog = catalog()?;
    let standard = match &request.standard {
        Some(reference) => Some(catalog.find(reference).ok_or_else(|| {
            let known: Vec<String> = catalog.packs().iter().map(|p| p.reference()).collect();
            format!("unknown standard `{reference}`; known: {}", known.join(", "))
        })?),
        None => None,
    };
    let now = chrono::DateTime::parse_from_rfc3339(&request.now)
        .map_err(|e| format!("`now` ({}) is not an RFC 3339 date-time: {e}", request.now))?;
    let options = Options { limits: Default::default(), now, standard };
    let mut validator = Validator::new(catalog, options).with_params(request.params.clone());
    validator.share = request.share;
    let total = files.len();
    let inputs: Vec<Tracked<P>> = files
        .into_iter()
        .enumerate()
        .map(|(index, (path, bytes))| Tracked { input: MemoryInput { path, bytes }, index, progress: progress.clone() })
        .collect();
    let inputs_dyn: Vec<&dyn run::Input> = inputs.iter().map(|i| i as &dyn run::Input).collect();
    let mut out = Vec::new();
    let excerpts = {
        let options = WriterOptions { colour: false, max_findings: None, spool_dir: None };
        let report = report::writer(OutputFormat::Json, &options, Box::new(&mut out));
        let mut writer = WithExcerpts { report, excerpts: Vec::new() };
        let mut done = 0usize;
        let mut each = || {
            done += 1;
            progress.files(done, total);
        };
        run::run(&mut validator, &inputs_dyn, &mut writer, &mut each).map_err(|e| error_chain(&e))?;
        serde_json::to_vec(&writer.excerpts).map_err(|e| e.to_string())?
    };
    Ok(Validated { report: out, excerpts })
}

/// A progress that tells nobody: for runs nobody watches (the warm-up, a caller without a bar).
#[derive(Clone)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn files(&self, _: usize, _: usize) {}
    fn bytes(&self, _: usize, _: u64, _: u64) {}
}

/// Checks every embedded pack's valid examples, `rounds` times over, and says how many documents that was. A
/// browser compiles the module's code first for speed of compiling, and again for speed of running once it has
/// run a while: a worker that has checked the examples before the page says it is ready checks the first
/// return a person gives it with the faster code already.
pub fn warm(rounds: usize) -> Result<usize, String> {
    let catalog = catalog()?;
    let request = Request { standard: None, now: "2026-03-31T12:00:00Z".into(), params: Vec::new(), share: None };
    let mut checked = 0;
    for _ in 0..rounds {
        for pack in catalog.packs() {
            for (name, bytes) in pack.files.files.iter().filter(|(name, _)| name.starts_with("examples/valid/")) {
                validate(vec![(name.clone(), bytes.clone())], &request, NoProgress)?;
                checked += 1;
            }
        }
    }
    Ok(checked)
}

/// An error with its causes, as the command line prints them.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
