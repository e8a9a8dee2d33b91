//! `rules.toml` and `calendar.toml`: a pack's business rules, each compiled once into a program of the
//! expression language (`crate::expr`), with the context it is checked at and where its finding points.

use serde::Deserialize;
use serde_json::Value;
use strum::VariantNames as _;

use crate::expr::{Compiler, Program, Reads};
use crate::finding::Severity;
use crate::reference::Need;

/// The variables every rule may read, in the order the validator binds them.
pub const VARIABLES: [&str; 9] = ["self", "root", "envelope", "asOf", "now", "params", "agg", "record", "previous"];

/// An instance path with `*` for "every item of this array": `/household/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    pub steps: Vec<Step>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Name(String),
    Any,
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<PathPattern, String> {
        let trimmed = text.trim();
        if !(trimmed.is_empty() || trimmed.starts_with('/')) {
            return Err(format!("context `{text}` must start with `/` (it is a path from the document's top)"));
        }
        let steps = trimmed
            .split('/')
            .skip(1)
            .filter(|s| !s.is_empty())
            .map(|s| if s == "*" { Step::Any } else { Step::Name(s.to_string()) })
            .collect();
        Ok(PathPattern { steps, text: trimmed.to_string() })
    }

    /// Whether this path lies within `prefix` (every step of `prefix` begins it).
    pub fn starts_with(&self, prefix: &PathPattern) -> bool {
        self.steps.len() >= prefix.steps.len() && self.steps[..prefix.steps.len()] == prefix.steps[..]
    }

    /// Calls `visit(pointer, node)` for every node the pattern reaches in `root`.
    pub fn for_each<'v>(&self, root: &'v Value, mut visit: impl FnMut(&str, &'v Value)) {
        self.for_each_node(root, |trail, node| visit(&trail.pointer(), node));
    }

    /// Calls `visit(trail, node)` for every node the pattern reaches in `root`; the trail gives the node's
    /// pointer when it is asked for, so that a walk whose visits mostly need none builds none.
    pub fn for_each_node<'v>(&self, root: &'v Value, mut visit: impl FnMut(&Trail<'_>, &'v Value)) {
        let mut indices = Vec::new();
        walk(&self.steps, &self.steps, root, &mut indices, &mut visit);
    }
}

impl PathPattern {
    /// How many `*` the pattern has (how many indices a trail of it holds).
    pub fn wildcards(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s, Step::Any)).count()
    }

    /// The trail to the node reached by taking `indices` at the pattern's `*`s.
    pub fn trail<'a>(&'a self, indices: &'a [usize]) -> Trail<'a> {
        Trail { steps: &self.steps, indices }
    }
}

/// The way to a node a pattern reached: the pattern's steps and the index taken at each of its `*`.
pub struct Trail<'a> {
    steps: &'a [Step],
    indices: &'a [usize],
}

impl Trail<'_> {
    /// The index taken at each `*` of the pattern, in order.
    pub fn indices(&self) -> &[usize] {
        self.indices
    }

    /// The node's JSON Pointer.
    pub fn pointer(&self) -> String {
        let mut pointer = String::new();
        let mut indices = self.indices.iter();
        for step in self.steps {
            pointer.push('/');
            match step {
                Step::Name(name) if name.contains(['~', '/']) => {
                    pointer.push_str(&super::binding::escape_pointer_token(name))
                }
                Step::Name(name) => pointer.push_str(name),
                Step::Any => {
                    let _ = std::fmt::Write::write_fmt(
                        &mut pointer,
                        format_args!("{}", indices.next().copied().unwrap_or(0)),
                    );
                }
            }
        }
        pointer
    }
}

fn walk<'v>(
    all: &[Step],
    steps: &[Step],
    node: &'v Value,
    indices: &mut Vec<usize>,
    visit: &mut impl FnMut(&Trail<'_>, &'v Value),
) {
    let Some((step, rest)) = steps.split_first() else {
        visit(&Trail { steps: all, indices }, node);
        return;
    };
    match step {
        Step::Name(name) => {
            if let Some(child) = node.get(name.as_str()) {
                walk(all, rest, child, indices, visit);
            }
        }
        Step::Any => {
            if let Some(items) = node.as_array() {
                for (i, item) in items.iter().enumerate() {
                    indices.push(i);
                    walk(all, rest, item, indices, visit);
                    indices.pop();
                }
            }
        }
    }
}

/// One compiled business rule.
pub struct Rule {
    pub id: String,
    pub severity: Severity,
    pub context: PathPattern,
    /// Path from the context node to the field the finding points at, as JSON Pointer tokens.
    pub at: Vec<String>,
    pub expression: String,
    pub program: Program,
    pub message: String,
    pub clause: Option<String>,
    pub fix: Option<String>,
    /// How the rule depends on the aggregates (`agg`).
    pub agg_use: AggUse,
    /// For a rule about a whole return: the `records` aggregate whose keys are the records behind a violation
    /// (its finding's `records`).
    pub records: Option<String>,
    /// The run-time inputs (`params` a return does not carry, e.g. the council's code `la_code`) the rule
    /// reads: without all of them it is not run, and the report says so.
    pub needs: Vec<String>,
    /// Whether the expression reads `record` (the record its node lies in), which is then found for it.
    pub reads_record: bool,
    /// Whether the expression reads `previous` (its record in last year's return), which is then built for it.
    pub reads_previous: bool,
}

/// How a rule depends on the aggregates: what a bulk return's validation must wait for before checking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggUse {
    /// Not at all.
    None,
    /// Only as `self.key in agg.name`, where `name` is a `repeats` aggregate of the same context whose value is
    /// that same `self.key` (a duplicate check): the rule can only change for a node whose key repeats.
    Repeats(Vec<usize>),
    /// In some other way: it needs the aggregates of the whole return.
    Any,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule").field("id", &self.id).field("expression", &self.expression).finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<RuleEntry>,
    #[serde(default)]
    aggregate: Vec<AggregateEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregateEntry {
    name: String,
    context: String,
    value: String,
    kind: String,
}

/// What an aggregate gathers over the nodes of its context; named in `rules.toml` as `count-by`, `repeats`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum AggregateKind {
    /// A map from each value (as text) to how many nodes gave it.
    CountBy,
    /// A map from each value that more than one node gave to how many gave it: for duplicate checks over
    /// identifiers, in memory that grows with the distinct values but holds only the repeated ones for rules.
    Repeats,
    /// How many nodes gave `true`.
    Count,
    /// The sum of the numbers given.
    Sum,
    /// The least and the greatest value given (numbers, or text such as dates).
    Min,
    Max,
    /// The keys of the records where the value is `true`, each record once, in file order (a record without a
    /// key as `null`): what a rule about a whole return names as the records behind it, and counts with
    /// `size()`. Only inside the records of a bulk standard.
    Records,
}

/// A value gathered across a document (across all records of a bulk return) before the rules run, bound to
/// `agg.<name>` in every rule: what rules across records (duplicates, percentages) read.
pub struct Aggregate {
    pub name: String,
    pub context: PathPattern,
    pub value: Program,
    pub kind: AggregateKind,
    /// Whether its context lies inside the records of a bulk standard (set when the pack loads).
    pub in_records: bool,
}

/// Rules that share a context: the context is walked once and each rule checked at every node.
#[derive(Debug)]
pub struct RuleGroup {
    pub context: PathPattern,
    pub rules: Vec<usize>,
    /// Whether the context lies inside the records of a bulk standard.
    pub in_records: bool,
}

impl RuleGroup {
    pub fn of(rules: &[Rule], records: Option<&PathPattern>) -> Vec<RuleGroup> {
        let mut groups: Vec<RuleGroup> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            match groups.iter_mut().find(|g| g.context == rule.context) {
                Some(group) => group.rules.push(index),
                None => groups.push(RuleGroup {
                    context: rule.context.clone(),
                    rules: vec![index],
                    in_records: records.is_some_and(|r| rule.context.starts_with(r)),
                }),
            }
        }
        groups
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    id: String,
    severity: String,
    #[serde(default)]
    context: String,
    at: Option<String>,
    expression: String,
    message: String,
    clause: Option<String>,
    fix: Option<String>,
    records: Option<String>,
    #[serde(default)]
    needs: Vec<String>,
}

/// Compiles `rules.toml`: its rules and its aggregates.
///
/// `stable`: the variables and parts of `root` (`root.Header`) that stay the same across the records of a bulk
/// return; the rules' calls over them are computed once per return (see [`crate::expr::Memo`]).
pub fn compile_rules(
    text: &str,
    holidays: &[chrono::NaiveDate],
    stable: &[String],
) -> Result<(Vec<Rule>, Vec<Aggregate>), String> {
    let file: RulesFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let compiler = Compiler::new(&VARIABLES, holidays.to_vec()).with_stable(stable);
    let mut aggregates = Vec::with_capacity(file.aggregate.len());
    for entry in file.aggregate {
        if aggregates.iter().any(|a: &Aggregate| a.name == entry.name) {
            return Err(format!("aggregate {} is defined twice", entry.name));
        }
        let kind: AggregateKind = entry.kind.parse().map_err(|_| {
            format!(
                "aggregate {}: kind `{}` is not one of {}",
                entry.name,
                entry.kind,
                AggregateKind::VARIANTS.join(", ")
            )
        })?;
        let context = PathPattern::parse(&entry.context).map_err(|e| format!("aggregate {}: {e}", entry.name))?;
        let value = compiler
            .compile(&entry.value)
            .map_err(|e| format!("aggregate {}: expression `{}`: {e}", entry.name, entry.value))?;
        if let Some(name) = crate::reference::NAMES.iter().find(|n| value.reads_reference(n)) {
            return Err(format!("aggregate {}: aggregates cannot look values up in `{name}`", entry.name));
        }
        // Aggregates are gathered without the run's inputs: last year's record would read as absent there.
        if !matches!(value.reads(crate::reference::PREVIOUS), Reads::Not) {
            return Err(format!("aggregate {}: aggregates cannot read `previous`", entry.name));
        }
        aggregates.push(Aggregate { name: entry.name, context, value, kind, in_records: false });
    }
    let keys: Vec<Option<String>> = aggregates.iter().map(|a| a.value.dotted_path()).collect();
    let mut programs = compile_all(&compiler, file.rule.iter().map(|r| r.expression.as_str()).collect()).into_iter();
    let mut rules = Vec::with_capacity(file.rule.len());
    for entry in file.rule {
        // One rule may be said in several entries (e.g. one per field it checks); they must agree on severity.
        if let Some(earlier) = rules.iter().find(|r: &&Rule| r.id == entry.id) {
            if earlier.severity.as_str() != entry.severity {
                return Err(format!("rule {} is given two severities", entry.id));
            }
        }
        let severity: Severity = entry.severity.parse().map_err(|e| format!("rule {}: {e}", entry.id))?;
        let context = PathPattern::parse(&entry.context).map_err(|e| format!("rule {}: {e}", entry.id))?;
        let program = programs
            .next()
            .ok_or_else(|| format!("rule {}: not compiled", entry.id))?
            .map_err(|e| format!("rule {}: expression `{}`: {e}", entry.id, entry.expression))?;
        let at = entry
            .at
            .as_deref()
            .map(|a| a.split('/').filter(|s| !s.is_empty()).map(super::binding::escape_pointer_token).collect())
            .unwrap_or_default();
        let agg_use = agg_use(&program, &context, &aggregates, &keys);
        // `needs` says exactly which run-time inputs a rule reads: reference data through its functions, any
        // other name as a `params` value. A lookup of reference data the rule does not name would go unreported
        // when the run lacks it, so it is refused too.
        let reads_previous = !matches!(program.reads(crate::reference::PREVIOUS), Reads::Not);
        for name in &entry.needs {
            match Need::of(name) {
                Need::Reference if !program.reads_reference(name) => {
                    return Err(format!(
                        "rule {}: `needs` names `{name}`, which the expression does not look anything up in",
                        entry.id
                    ));
                }
                Need::Previous if !reads_previous => {
                    return Err(format!(
                        "rule {}: `needs` names `{name}`, which the expression does not read",
                        entry.id
                    ));
                }
                Need::Param if !program.may_read_field("params", name) => {
                    return Err(format!(
                        "rule {}: `needs` names `{name}`, which the expression does not read as params.{name}",
                        entry.id
                    ));
                }
                _ => {}
            }
        }
        // Without last year's return `previous` is null, which a rule would read as "not in last year's
        // return": so a rule that reads it must say so, to be reported as not run rather than passed.
        if reads_previous && !entry.needs.iter().any(|n| n == crate::reference::PREVIOUS) {
            return Err(format!(
                "rule {}: the expression reads `previous`, last year's return: say so with `needs = [\"previous\"]`",
                entry.id
            ));
        }
        if let Some(name) =
            crate::reference::NAMES.iter().find(|n| program.reads_reference(n) && !entry.needs.iter().any(|m| m == *n))
        {
            return Err(format!(
                "rule {}: the expression looks values up in `{name}`: say so with `needs = [\"{name}\"]`",
                entry.id
            ));
        }
        if let Some(name) = &entry.records {
            if !aggregates.iter().any(|a| a.name == *name && a.kind == AggregateKind::Records) {
                return Err(format!("rule {}: `records = \"{name}\"` names no aggregate of kind `records`", entry.id));
            }
        }
        let reads_record = !matches!(program.reads("record"), Reads::Not);
        rules.push(Rule {
            id: entry.id,
            severity,
            context,
            at,
            expression: entry.expression,
            program,
            message: entry.message,
            clause: entry.clause,
            fix: entry.fix,
            agg_use,
            records: entry.records,
            needs: entry.needs,
            reads_record,
            reads_previous,
        });
    }
    Ok((rules, aggregates))
}

/// `keys`: each aggregate's value as a dotted path (`self.ChildIdentifiers.UPN`), if it is one.
/// Compiles expressions on as many threads as there are cores (parsing is most of loading a pack), in order.
fn compile_all(compiler: &Compiler, sources: Vec<&str>) -> Vec<Result<Program, crate::expr::RuleError>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = sources.len().div_ceil(threads).max(8);
    crate::workers::scope(|scope| {
        let handles: Vec<_> = sources
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|source| compiler.compile(source)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(done) => done,
                Err(_) => vec![Err(crate::expr::RuleError::Syntax {
                    message: "the expression could not be compiled".into(),
                    line: 1,
                    column: 1,
                })],
            })
            .collect()
    })
}

fn agg_use(program: &Program, context: &PathPattern, aggregates: &[Aggregate], keys: &[Option<String>]) -> AggUse {
    match program.reads("agg") {
        Reads::Not => AggUse::None,
        Reads::Otherwise => AggUse::Any,
        Reads::Membership(tests) => {
            let mut used = Vec::with_capacity(tests.len());
            for test in tests {
                let same_key = aggregates.iter().zip(keys).position(|(a, key)| {
                    a.name == test.field
                        && a.kind == AggregateKind::Repeats
                        && a.context == *context
                        && key.as_deref() == Some(test.element.as_str())
                });
                match same_key {
                    Some(index) => used.push(index),
                    None => return AggUse::Any,
                }
            }
            AggUse::Repeats(used)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default)]
    region: Option<String>,
    holidays: Vec<HolidayEntry>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HolidayEntry {
    Date(String),
    Named {
        date: String,
        #[allow(dead_code)]
        name: String,
    },
}

/// `calendar.toml`: `holidays = ["2025-12-25", …]` or `[{ date = "2025-12-25", name = "Christmas Day" }, …]`.
pub fn parse_calendar(text: &str) -> Result<Vec<chrono::NaiveDate>, String> {
    let file: CalendarFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let _ = file.region;
    let mut days = Vec::with_capacity(file.holidays.len());
    for entry in file.holidays {
        let text = match &entry {
            HolidayEntry::Date(d) => d,
            HolidayEntry::Named { date, name: _ } => date,
        };
        let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| format!("holiday `{text}`: {e}"))?;
        days.push(day);
    }
    days.sort();
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn context_paths_fan_out_over_arrays() {
        let doc = json!({"household": [{"name": "a"}, {"name": "b"}], "child": {"x": 1}});
        let mut seen = Vec::new();
        PathPattern::parse("/household/*").unwrap().for_each(&doc, |p, _| seen.push(p.to_string()));
        assert_eq!(seen, ["/household/0", "/household/1"]);
        let mut seen = Vec::new();
        PathPattern::parse("").unwrap().for_each(&doc, |p, _| seen.push(p.to_string()));
        assert_eq!(seen, [""]);
        assert!(PathPattern::parse("child").is_err());
    }

    /// `needs` names exactly what a rule reads at run time: a lookup of reference data it does not name, or a
    /// name it does not read, is refused when the pack loads.
    #[test]
    fn needs_must_name_the_reference_data_a_rule_looks_up() {
        let rule = |expression: &str, needs: &str| {
            let text = format!(
                "[[rule]]\nid = \"R\"\nseverity = \"error\"\ncontext = \"/x\"\nexpression = \"{expression}\"\n\
                 message = \"m\"\nneeds = {needs}\n"
            );
            compile_rules(&text, &[], &[]).map(|(rules, _)| rules.len())
        };
        assert_eq!(rule("postcode_known(self.P)", "[\"postcodes\"]"), Ok(1));
        assert_eq!(rule("postcode_la(self.P) == params.la_code", "[\"postcodes\", \"la_code\"]"), Ok(1));
        assert_eq!(
            rule("postcode_known(self.P)", "[]"),
            Err("rule R: the expression looks values up in `postcodes`: say so with `needs = [\"postcodes\"]`".into())
        );
        assert_eq!(
            rule("has(self.P)", "[\"postcodes\"]"),
            Err("rule R: `needs` names `postcodes`, which the expression does not look anything up in".into())
        );
        assert_eq!(
            rule("postcode_miles(self.P)", "[\"postcodes\"]").map_err(|e| e.contains("takes 2 arguments")),
            Err(true)
        );
    }
}
