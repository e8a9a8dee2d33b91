//! Aggregates: values gathered across a whole document — across every record of a bulk return — before its
//! rules run (how often each child id occurs, how many children have unknown sex). Fed one record at a time,
//! so a return of any size needs only the aggregates in memory, never the records.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use serde_json::{Map, Number, Value};

use crate::rules::{Memo, Value as RuleValue};
use crate::standard::{AggregateKind, StandardPack};

/// The running state of every aggregate of a pack.
pub struct Accumulator<'p> {
    pack: &'p StandardPack,
    states: Vec<State>,
}

enum State {
    CountBy(BTreeMap<String, u64>),
    Repeats(Tally),
    Count(u64),
    Sum(f64),
    Extreme(Option<Value>),
}

impl<'p> Accumulator<'p> {
    pub fn new(pack: &'p StandardPack) -> Self {
        let states = pack
            .aggregates
            .iter()
            .map(|a| match a.kind {
                AggregateKind::CountBy => State::CountBy(BTreeMap::new()),
                AggregateKind::Repeats => State::Repeats(Tally::default()),
                AggregateKind::Count => State::Count(0),
                AggregateKind::Sum => State::Sum(0.0),
                AggregateKind::Min | AggregateKind::Max => State::Extreme(None),
            })
            .collect();
        Accumulator { pack, states }
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Whether any aggregate gathers from inside records (so a bulk return needs a first pass).
    pub fn any_in_records(&self) -> bool {
        self.pack.aggregates.iter().any(|a| a.in_records)
    }

    /// Folds another accumulator of the same pack (gathered from other records) into this one.
    pub fn merge(&mut self, other: Accumulator<'_>) {
        for ((aggregate, mine), theirs) in self.pack.aggregates.iter().zip(self.states.iter_mut()).zip(other.states) {
            match (mine, theirs) {
                (State::CountBy(a), State::CountBy(b)) => {
                    for (k, n) in b {
                        *a.entry(k).or_default() += n;
                    }
                }
                (State::Repeats(a), State::Repeats(b)) => a.merge(b),
                (State::Count(a), State::Count(b)) => *a += b,
                (State::Sum(a), State::Sum(b)) => *a += b,
                (State::Extreme(a), State::Extreme(Some(b))) => {
                    let take = match a.as_ref() {
                        None => true,
                        Some(current) if aggregate.kind == AggregateKind::Min => less_than(&b, current),
                        Some(current) => less_than(current, &b),
                    };
                    if take {
                        *a = Some(b);
                    }
                }
                _ => {}
            }
        }
    }

    /// Gathers from `root` (a whole document, or a part of a return holding one record at its place); `vars`
    /// are the other variables (envelope, asOf, now, params) as the rules see them.
    pub fn add(&mut self, root: &Value, envelope: &Value, as_of: &Value, now: &Value, params: &Value) {
        self.add_in(root, envelope, as_of, now, params, None);
    }

    /// As [`Accumulator::add`], for only the aggregates inside records (`Some(true)`) or outside them
    /// (`Some(false)`).
    pub fn add_in(&mut self, root: &Value, envelope: &Value, as_of: &Value, now: &Value, params: &Value, records: Option<bool>) {
        let observations = observe(self.pack, root, envelope, as_of, now, params, records, None);
        self.apply(observations);
    }

    /// Folds in what [`observe`] saw (perhaps on another thread).
    pub fn apply(&mut self, observations: Vec<(usize, Observed)>) {
        self.apply_from(None, observations);
    }

    /// As [`Accumulator::apply`], for what was seen in the record numbered `record` of a bulk return: the
    /// `repeats` aggregates remember which records hold their repeated values.
    pub fn apply_record(&mut self, record: usize, observations: Vec<(usize, Observed)>) {
        self.apply_from(Some(record), observations);
    }

    /// The records (by number) holding a value that repeats in any of the `repeats` aggregates `indices`.
    pub fn records_with_repeats(&self, indices: &[usize]) -> std::collections::BTreeSet<usize> {
        indices
            .iter()
            .filter_map(|&i| match self.states.get(i) {
                Some(State::Repeats(tally)) => Some(tally.in_records.iter().map(|&r| r as usize)),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn apply_from(&mut self, record: Option<usize>, observations: Vec<(usize, Observed)>) {
        let record = record.and_then(|r| u32::try_from(r).ok());
        for (index, observed) in observations {
            let Some(state) = self.states.get_mut(index) else { continue };
            let min = self.pack.aggregates.get(index).is_some_and(|a| a.kind == AggregateKind::Min);
            match (state, observed) {
                (State::CountBy(map), Observed::Text(text)) => *map.entry(text).or_default() += 1,
                (State::Repeats(tally), Observed::Text(text)) => tally.add(&text, 1, record),
                (State::Count(n), Observed::True) => *n += 1,
                (State::Sum(total), Observed::Number(x)) => *total += x,
                (State::Extreme(best), observed) => {
                    let candidate = match observed {
                        Observed::Number(x) => Number::from_f64(x).map(Value::Number),
                        Observed::Text(text) => Some(Value::String(text)),
                        Observed::True => None,
                    };
                    let Some(candidate) = candidate else { continue };
                    let better = match best.as_ref() {
                        None => true,
                        Some(current) if min => less_than(&candidate, current),
                        Some(current) => less_than(current, &candidate),
                    };
                    if better {
                        *best = Some(candidate);
                    }
                }
                _ => {}
            }
        }
    }

    /// The `agg` variable: `{ name: value, … }`.
    pub fn finish(self) -> Value {
        let mut map = Map::new();
        for (aggregate, state) in self.pack.aggregates.iter().zip(self.states) {
            let value = match state {
                State::CountBy(counts) => {
                    Value::Object(counts.into_iter().map(|(k, n)| (k, Value::Number(n.into()))).collect())
                }
                State::Repeats(tally) => Value::Object(tally.repeated().map(|(k, n)| (k.to_string(), Value::Number(n.into()))).collect()),
                State::Count(n) => Value::Number(n.into()),
                State::Sum(total) => {
                    if total.fract() == 0.0 && total.abs() < 9.0e15 {
                        Value::Number((total as i64).into())
                    } else {
                        Number::from_f64(total).map(Value::Number).unwrap_or(Value::Null)
                    }
                }
                State::Extreme(best) => best.unwrap_or(Value::Null),
            };
            map.insert(aggregate.name.clone(), value);
        }
        Value::Object(map)
    }
}

/// One value an aggregate was given, owned so that it can travel from the thread that read the record to the
/// one that holds the aggregates.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    Text(String),
    True,
    Number(f64),
}

/// What the aggregates of `pack` (those inside records, outside them, or all) see in `root`.
#[allow(clippy::too_many_arguments)]
pub fn observe(
    pack: &StandardPack,
    root: &Value,
    envelope: &Value,
    as_of: &Value,
    now: &Value,
    params: &Value,
    records: Option<bool>,
    memos: Option<&mut Vec<Memo>>,
) -> Vec<(usize, Observed)> {
    let mut out = Vec::new();
    observe_each(pack, root, [envelope, as_of, now, params], records, memos, |_, index, observed| out.push((index, observed)));
    out
}

/// As [`observe`] for the aggregates inside records, over a root holding `count` records: what each record
/// (by its position under the records path) sees.
#[allow(clippy::too_many_arguments)]
pub fn observe_per_record(
    pack: &StandardPack,
    root: &Value,
    count: usize,
    as_of: &Value,
    now: &Value,
    params: &Value,
    memos: Option<&mut Vec<Memo>>,
) -> Vec<Vec<(usize, Observed)>> {
    let mut out: Vec<Vec<(usize, Observed)>> = (0..count).map(|_| Vec::new()).collect();
    observe_each(pack, root, [&Value::Null, as_of, now, params], Some(true), memos, |trail, index, observed| {
        // The first `*` of a context inside records is the records' own.
        if let Some(seen) = trail.indices().first().and_then(|&at| out.get_mut(at)) {
            seen.push((index, observed));
        }
    });
    out
}

fn observe_each(
    pack: &StandardPack,
    root: &Value,
    [envelope, as_of, now, params]: [&Value; 4],
    records: Option<bool>,
    mut memos: Option<&mut Vec<Memo>>,
    mut sink: impl FnMut(&crate::standard::rules::Trail<'_>, usize, Observed),
) {
    let null = Value::Null;
    if let Some(memos) = memos.as_mut() {
        memos.resize_with(pack.aggregates.len(), Memo::default);
    }
    for (index, aggregate) in pack.aggregates.iter().enumerate() {
        if records.is_some_and(|wanted| aggregate.in_records != wanted) {
            continue;
        }
        let mut memo = memos.as_mut().and_then(|m| m.get_mut(index));
        aggregate.context.for_each_node(root, |trail, node| {
            let vars = [node, root, envelope, as_of, now, params, &null];
            let evaluated = match memo.as_mut() {
                Some(memo) => aggregate.value.eval_with(&vars, memo),
                None => aggregate.value.eval(&vars),
            };
            let Ok(value) = evaluated else { return };
            let observed = match (aggregate.kind, &value) {
                (_, RuleValue::Null) => return,
                (AggregateKind::CountBy | AggregateKind::Repeats, v) => Observed::Text(v.to_string()),
                (AggregateKind::Count, RuleValue::Bool(true)) => Observed::True,
                (AggregateKind::Count, _) => return,
                (AggregateKind::Sum, v) => match number(v) {
                    Some(x) => Observed::Number(x),
                    None => return,
                },
                (AggregateKind::Min | AggregateKind::Max, v) => match number(v) {
                    Some(x) => Observed::Number(x),
                    None => Observed::Text(v.to_string()),
                },
            };
            sink(trail, index, observed);
        });
    }
}

/// Counts of text values, each value stored once in one buffer: about 44 bytes a distinct value, so that the
/// identifiers of a return of a million children can be counted in bounded memory. For a bulk return it also
/// remembers which records hold a value seen more than once.
#[derive(Default)]
struct Tally {
    /// Every distinct value, one after another.
    text: String,
    /// Where each value starts in `text` (it ends where the next starts), and how often it was seen.
    entries: Vec<(u32, u32)>,
    /// The record each value was first seen in (`NO_RECORD` when not known).
    first: Vec<u32>,
    /// The records holding a value seen more than once (few: only the duplicates).
    in_records: Vec<u32>,
    /// Entry numbers, by the hash of their value.
    table: hashbrown::HashTable<u32>,
    hasher: std::hash::RandomState,
}

const NO_RECORD: u32 = u32::MAX;

impl Tally {
    fn value<'t>(text: &'t str, entries: &[(u32, u32)], index: u32) -> &'t str {
        let i = index as usize;
        let start = entries.get(i).map_or(0, |e| e.0 as usize);
        let end = entries.get(i + 1).map_or(text.len(), |e| e.0 as usize);
        text.get(start..end).unwrap_or("")
    }

    fn add(&mut self, value: &str, count: u32, record: Option<u32>) {
        let Tally { text, entries, first, in_records, table, hasher } = self;
        let hash = hasher.hash_one(value);
        if let Some(&index) = table.find(hash, |&i| Tally::value(text, entries, i) == value) {
            if let Some(entry) = entries.get_mut(index as usize) {
                if entry.1 == 1 {
                    if let Some(&earlier) = first.get(index as usize).filter(|&&r| r != NO_RECORD) {
                        in_records.push(earlier);
                    }
                }
                entry.1 += count;
                in_records.extend(record);
            }
            return;
        }
        let index = entries.len() as u32;
        entries.push((text.len() as u32, count));
        first.push(record.unwrap_or(NO_RECORD));
        text.push_str(value);
        table.insert_unique(hash, index, |&i| hasher.hash_one(Tally::value(text, entries, i)));
    }

    fn merge(&mut self, other: Tally) {
        for (index, entry) in other.entries.iter().enumerate() {
            let first = other.first.get(index).copied().filter(|&r| r != NO_RECORD);
            self.add(Tally::value(&other.text, &other.entries, index as u32), entry.1, first);
        }
        self.in_records.extend(other.in_records);
    }

    /// The values that occur more than once, with their counts.
    fn repeated(&self) -> impl Iterator<Item = (&str, u32)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.1 > 1)
            .map(|(i, e)| (Tally::value(&self.text, &self.entries, i as u32), e.1))
    }
}

fn number(value: &RuleValue<'_>) -> Option<f64> {
    match value {
        RuleValue::Int(i) => Some(*i as f64),
        RuleValue::UInt(u) => Some(*u as f64),
        RuleValue::Double(d) => Some(*d),
        _ => None,
    }
}

fn less_than(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() < y.as_f64(),
        (Value::String(x), Value::String(y)) => x < y,
        _ => false,
    }
}
