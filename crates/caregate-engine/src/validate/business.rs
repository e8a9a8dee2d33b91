//! Business rules over an instance: each compiled rule checked at every node its context names, with the
//! variables bound once per document; a violated rule becomes a finding at the field it names, with the record
//! key of bulk standards.

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::expr::{Memo, Outcome};
use crate::finding::{Finding, Severity};
use crate::reference::{Need, References};
use crate::standard::rulebook::{PathPattern, Rule};
use crate::standard::StandardPack;

use super::structure::display_value;
use super::SourceView;

static NULL: Value = Value::Null;

/// The variables every rule of one document reads (see `standard::rulebook::VARIABLES`).
pub struct Context<'a> {
    pub root: &'a Value,
    /// The envelope a body came in (`null` for a document on its own), borrowed: never copied per document.
    pub envelope: &'a Value,
    pub as_of: std::borrow::Cow<'a, Value>,
    pub now: std::borrow::Cow<'a, Value>,
    pub params: &'a Value,
    /// The run's reference data (the postcode directory, Ofsted's provider lists), read by the rules' lookup functions.
    pub refs: &'a References,
    /// The pack's aggregates over the whole document (or return), `null` fields until gathered.
    pub agg: std::borrow::Cow<'a, Value>,
    /// One memo per rule of the pack, kept across the records of a bulk return (whose header, `asOf` and
    /// `params` stay the same), so that what rules compute from those alone is computed once.
    pub memos: Option<&'a Memos>,
}

/// What the rules of one pack keep between records (see [`crate::expr::Memo`]).
pub struct Memos(std::sync::Mutex<Vec<Memo>>);

impl Memos {
    pub fn new(pack: &StandardPack) -> Self {
        Memos(std::sync::Mutex::new(vec![Memo::default(); pack.rules.len()]))
    }
}

/// The validation time as the rules read it: `now`, and the date `asOf` is when there is no envelope. Written
/// once per validator, not once per document (a gateway's message is two documents, envelope and body).
pub struct Clock {
    now: Value,
    today: Value,
}

impl Clock {
    pub fn new(now: &DateTime<FixedOffset>) -> Clock {
        // A date's `Display` is its ISO form, `YYYY-MM-DD`, written directly rather than through a format string.
        Clock { now: Value::String(now.to_rfc3339()), today: Value::String(now.date_naive().to_string()) }
    }
}

impl<'a> Context<'a> {
    pub fn new(
        root: &'a Value,
        envelope: Option<&'a Value>,
        clock: &'a Clock,
        params: &'a Value,
        refs: &'a References,
    ) -> Self {
        let created_date = envelope
            .and_then(|e| e.get("created"))
            .and_then(Value::as_str)
            .and_then(|c| c.get(..10))
            .filter(|d| crate::expr::parse_date(d).is_some())
            .map(|d| Value::String(d.to_string()));
        let as_of = match created_date {
            Some(date) => std::borrow::Cow::Owned(date),
            None => std::borrow::Cow::Borrowed(&clock.today),
        };
        Context {
            root,
            envelope: envelope.unwrap_or(&NULL),
            as_of,
            now: std::borrow::Cow::Borrowed(&clock.now),
            params,
            refs,
            agg: std::borrow::Cow::Owned(Value::Object(serde_json::Map::new())),
            memos: None,
        }
    }

    /// A context over another document with the same envelope, `asOf`, `now` and parameters as this one (the
    /// records of one return), borrowing them.
    pub fn over<'b>(&'b self, root: &'b Value, agg: &'b Value, memos: &'b Memos) -> Context<'b> {
        Context {
            root,
            envelope: self.envelope,
            as_of: std::borrow::Cow::Borrowed(&*self.as_of),
            now: std::borrow::Cow::Borrowed(&*self.now),
            params: self.params,
            refs: self.refs,
            agg: std::borrow::Cow::Borrowed(agg),
            memos: Some(memos),
        }
    }

    /// Gathers the pack's aggregates over this context's whole document.
    pub fn gather(&mut self, pack: &StandardPack) {
        let mut accumulator = super::aggregate::Accumulator::new(pack);
        if !accumulator.is_empty() {
            accumulator.add(self.root, self.envelope, &self.as_of, &self.now, self.params);
            self.agg = std::borrow::Cow::Owned(accumulator.finish());
        }
    }
}

/// Which of a pack's rules to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every rule (a whole document in memory).
    All,
    /// The rules checked inside each record of a bulk return.
    Records,
    /// The rules checked once per bulk return, outside its records.
    Frame,
}

/// Checks the rules of `pack` in `scope` and appends a finding for each violation. Each context is walked
/// once, for all the rules that share it; then each rule is checked at all of the context's nodes before the
/// next rule (over a batch of records, one rule's code stays hot). Findings come in node order, then rule order.
pub fn check(
    pack: &StandardPack,
    context: &Context<'_>,
    view: &SourceView<'_>,
    scope: Scope,
    findings: &mut Vec<Finding>,
) {
    // Each worker has its own memos: the lock is never contended, and taken once per call.
    let mut memos = context.memos.and_then(|m| m.0.lock().ok());
    let mut nodes: Vec<&Value> = Vec::new();
    let mut indices: Vec<usize> = Vec::new();
    let mut found: Vec<(usize, usize, Finding)> = Vec::new();
    for group in &pack.rule_groups {
        match scope {
            Scope::All => {}
            Scope::Records if !group.in_records => continue,
            Scope::Frame if group.in_records => continue,
            _ => {}
        }
        nodes.clear();
        indices.clear();
        group.context.for_each_node(context.root, |trail, node| {
            nodes.push(node);
            indices.extend_from_slice(trail.indices());
        });
        let stride = group.context.wildcards();
        // `record`: the record a node inside the records lies in (`null` elsewhere), found once per record.
        // `previous`: that record's in last year's return (`null` when it has none, or when no rule of the
        // group reads it), built once per record, and only when last year's return was given.
        let reads = |f: fn(&Rule) -> bool| group.rules.iter().any(|&i| pack.rules.get(i).is_some_and(f));
        let previous_return = context.refs.previous.as_deref().filter(|_| reads(|r| r.reads_previous));
        let reads_record = reads(|r| r.reads_record) || previous_return.is_some();
        let records = pack.records_pattern.as_ref().filter(|_| group.in_records && reads_record);
        let depth = records.map_or(0, PathPattern::wildcards);
        let key_pointer = previous_return.and(pack.manifest.records.as_ref()).map(|r| {
            r.key.split('/').filter(|s| !s.is_empty()).fold(String::new(), |mut p, t| {
                p.push('/');
                p.push_str(&crate::standard::binding::escape_pointer_token(t));
                p
            })
        });
        let mut record_of: Vec<&Value> = Vec::with_capacity(nodes.len());
        let mut previous_at: Vec<usize> = Vec::with_capacity(nodes.len());
        let mut previous_records: Vec<Value> = vec![Value::Null];
        let mut last: Option<(&[usize], &Value)> = None;
        for n in 0..nodes.len() {
            let record = match (records, indices.get(n * stride..n * stride + depth)) {
                (Some(pattern), Some(prefix)) => match last {
                    Some((seen, value)) if seen == prefix => value,
                    _ => {
                        let value = context.root.pointer(&pattern.trail(prefix).pointer()).unwrap_or(&NULL);
                        last = Some((prefix, value));
                        if let (Some(previous), Some(key)) = (previous_return, key_pointer.as_deref()) {
                            let found = value.pointer(key).map(display_value).and_then(|k| previous.record(&k));
                            previous_records.push(found.unwrap_or(Value::Null));
                        }
                        value
                    }
                },
                _ => &NULL,
            };
            record_of.push(record);
            // Nodes come record by record, so the last record built is this node's.
            previous_at.push(if record.is_null() { 0 } else { previous_records.len() - 1 });
        }
        for (order, (index, rule)) in group.rules.iter().filter_map(|&i| Some((i, pack.rules.get(i)?))).enumerate() {
            // A rule that needs a run-time input it was not given is not run (see [`not_run`]).
            if lacking(rule, context.params, context.refs).next().is_some() {
                continue;
            }
            let mut memo = memos.as_mut().and_then(|m| m.get_mut(index));
            // A rule that fails for a reason of its own is said once a call (once a record of a bulk return).
            let mut failed = false;
            for (n, &node) in nodes.iter().enumerate() {
                let vars = [
                    node,
                    context.root,
                    context.envelope,
                    &*context.as_of,
                    &*context.now,
                    context.params,
                    context.agg.as_ref(),
                    record_of.get(n).copied().unwrap_or(&NULL),
                    previous_at.get(n).and_then(|&i| previous_records.get(i)).unwrap_or(&NULL),
                ];
                let outcome = rule.program.check_full(&vars, memo.as_deref_mut(), context.refs);
                if let Outcome::Failed(why) = outcome {
                    if !failed {
                        failed = true;
                        let at = indices.get(n * stride..(n + 1) * stride).unwrap_or_default();
                        let pointer = group.context.trail(at).pointer();
                        let mut finding =
                            rule_error(rule, &why).with_location(view.locate(&format!("{}{pointer}", view.prefix)));
                        finding.record = record_key(pack, context.root, &pointer);
                        found.push((n, order, finding));
                    }
                    continue;
                }
                if let Outcome::Violated = outcome {
                    let at = indices.get(n * stride..(n + 1) * stride).unwrap_or_default();
                    let pointer = group.context.trail(at).pointer();
                    let mut target = pointer.clone();
                    for token in &rule.at {
                        target.push('/');
                        target.push_str(token);
                    }
                    let value = context.root.pointer(&target).map(display_value);
                    let key = record_key(pack, context.root, &pointer);
                    let message = fill(&rule.message, value.as_deref(), key.as_deref());
                    let full = format!("{}{}", view.prefix, target);
                    let mut finding =
                        Finding::new(rule.id.clone(), rule.severity, message).with_location(view.locate(&full));
                    finding.clause = rule.clause.clone();
                    finding.fix = rule.fix.clone();
                    finding.record = key;
                    if let Some(name) = &rule.records {
                        finding.records = records_behind(context.agg.as_ref(), name);
                    }
                    found.push((n, order, finding));
                }
            }
        }
        found.sort_by_key(|(n, order, _)| (*n, *order));
        findings.extend(found.drain(..).map(|(_, _, f)| f));
    }
}

/// The finding that says a rule could not be checked for a fault of its own (see [`Outcome::Failed`]): not a
/// pass, and not the document's fault.
fn rule_error(rule: &Rule, why: &str) -> Finding {
    let mut finding = Finding::new(
        "rule-error",
        Severity::Warning,
        format!(
            "Rule {} could not be checked here, so it neither passed nor failed: {why}. The fault is in the standard's rule, not in this document.",
            rule.id
        ),
    )
    .with_fix(format!("Tell the publisher of the standard that rule {} fails at run time: {why}.", rule.id));
    finding.clause = rule.clause.clone();
    finding
}

/// The keys a `records` aggregate gathered (see `AggregateKind::Records`), in file order; a record without a
/// key is counted there but cannot be named here.
fn records_behind(agg: &Value, name: &str) -> Vec<String> {
    match agg.get(name) {
        Some(Value::Array(keys)) => keys.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// `{value}` and `{key}` in a rule's message.
fn fill(template: &str, value: Option<&str>, key: Option<&str>) -> String {
    let mut out = template.replace("{value}", value.unwrap_or("(absent)"));
    if out.contains("{key}") {
        out = out.replace("{key}", key.unwrap_or("(no key)"));
    }
    out
}

/// The record key of the record that `pointer` lies in, for standards with records.
pub fn record_key(pack: &StandardPack, root: &Value, pointer: &str) -> Option<String> {
    let records = pack.manifest.records.as_ref()?;
    let steps = records.path.split('/').filter(|s| !s.is_empty()).count();
    let tokens: Vec<&str> = pointer.split('/').skip(1).collect();
    if tokens.len() < steps {
        return None;
    }
    let record_pointer: String = tokens[..steps].iter().map(|t| format!("/{t}")).collect();
    let key_pointer =
        format!("{record_pointer}/{}", records.key.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/"));
    root.pointer(&key_pointer).map(display_value)
}

/// The run-time inputs `rule` needs that this run was not given: reference data, last year's return or an
/// optional column (which the return being checked lacks) by its name, any other need as a `params` value.
fn lacking<'r>(rule: &'r Rule, params: &'r Value, refs: &'r References) -> impl Iterator<Item = &'r str> + 'r {
    let given = |name: &str| match Need::of(name) {
        Need::Reference | Need::Previous | Need::Column => refs.has(name),
        Need::Param => params.get(name).is_some(),
    };
    rule.needs.iter().map(String::as_str).filter(move |name| !given(name))
}

/// The finding that says which rules of `pack` were not run because this run was not given an input they need
/// (`params` from `--param`, reference data from `--reference`), when some were not.
pub fn not_run(pack: &StandardPack, params: &Value, refs: &References) -> Option<Finding> {
    let mut missing: Vec<&str> = Vec::new();
    let mut rules: Vec<&str> = Vec::new();
    for rule in &pack.rules {
        let lacking: Vec<&str> = lacking(rule, params, refs).collect();
        if !lacking.is_empty() {
            if !rules.contains(&rule.id.as_str()) {
                rules.push(&rule.id);
            }
            for name in lacking {
                if !missing.contains(&name) {
                    missing.push(name);
                }
            }
        }
    }
    if rules.is_empty() {
        return None;
    }
    // Each input lacking as the message names it; an optional column is not given with the run but with the
    // return, so its fix is to the files, not to the command.
    let (mut named, mut given, mut columns) = (Vec::new(), Vec::new(), Vec::new());
    for m in &missing {
        match (Need::of(m), m.split_once('.')) {
            (Need::Column, Some((table, column))) => {
                named.push(format!("the {table} table's column {column}"));
                columns.push(format!("the {table} table's column {column}"));
            }
            (need, _) => {
                named.push(m.to_string());
                given.push(match need {
                    Need::Reference => format!("--reference {m}=FILE"),
                    Need::Previous => "--previous FILES".to_string(),
                    Need::Param | Need::Column => format!("--param {m}=…"),
                });
            }
        }
    }
    let mut fixes = Vec::new();
    if !given.is_empty() {
        fixes.push(format!("Run again with {}.", given.join(" ")));
    }
    if !columns.is_empty() {
        fixes.push(format!("Send the return with {}, or in a form that carries it.", columns.join(" and ")));
    }
    let mut finding = Finding::new(
        "rules-not-run",
        crate::finding::Severity::Warning,
        format!(
            "{} rule{} of {} were not run, neither passed nor failed, because the run was not given {}: {}.",
            rules.len(),
            if rules.len() == 1 { "" } else { "s" },
            pack.reference(),
            named.join(", "),
            rules.join(", ")
        ),
    );
    finding.fix = Some(fixes.join(" "));
    Some(finding)
}
