//! Aggregates: values gathered across a whole document — across every record of a bulk return — before its
//! rules run (how often each child id occurs, how many children have unknown sex). Fed one record at a time,
//! so a return of any size needs only the aggregates in memory, never the records.

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use serde_json::{Map, Number, Value};

use crate::expr::{Memo, Value as RuleValue};
use crate::standard::{AggregateKind, StandardPack};

/// The running state of every aggregate of a pack.
#[derive(Clone)]
pub struct Accumulator<'p> {
    pack: &'p StandardPack,
    states: Vec<State>,
}

#[derive(Clone)]
enum State {
    CountBy(BTreeMap<String, u64>),
    Repeats(Tally),
    Count(u64),
    Sum(f64),
    Extreme(Option<Value>),
    Records(Keys),
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
                AggregateKind::Records => State::Records(Keys::default()),
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
                (State::Records(a), State::Records(b)) => a.merge(b),
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
    pub fn add_in(
        &mut self,
        root: &Value,
        envelope: &Value,
        as_of: &Value,
        now: &Value,
        params: &Value,
        records: Option<bool>,
    ) {
        let observations = observe(self.pack, root, envelope, as_of, now, params, records, None);
        self.apply(observations);
    }

    /// Folds in what [`observe`] saw (perhaps on another thread).
    pub fn apply(&mut self, observations: Vec<(usize, Observed)>) {
        self.apply_from(None, observations);
    }

    /// As [`Accumulator::apply`], for what was seen in the record numbered `record` of a bulk return: the
    /// `repeats` aggregates remember which records hold their repeated values, and the `records` aggregates
    /// keep the keys they gathered in the order of these numbers.
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
        let numbered = record;
        let record = record.and_then(|r| u32::try_from(r).ok());
        // Several nodes of one record (a context below the record) give a `records` aggregate the same record:
        // they come one after another, so the last one kept is all that needs remembering.
        let mut last_key: Option<(usize, usize)> = None;
        for (index, observed) in observations {
            let Some(state) = self.states.get_mut(index) else { continue };
            let min = self.pack.aggregates.get(index).is_some_and(|a| a.kind == AggregateKind::Min);
            match (state, observed) {
                (State::Records(keys), Observed::Key { at, key }) if last_key != Some((index, at)) => {
                    last_key = Some((index, at));
                    keys.push(numbered.unwrap_or(at), key.as_deref());
                }
                (State::CountBy(map), Observed::Text(text)) => *map.entry(text).or_default() += 1,
                (State::Repeats(tally), Observed::Text(text)) => tally.add(&text, 1, record),
                (State::Count(n), Observed::True) => *n += 1,
                (State::Sum(total), Observed::Number(x)) => *total += x,
                (State::Extreme(best), observed) => {
                    let candidate = match observed {
                        Observed::Number(x) => Number::from_f64(x).map(Value::Number),
                        Observed::Text(text) => Some(Value::String(text)),
                        Observed::True | Observed::Key { .. } => None,
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
                State::Repeats(tally) => {
                    Value::Object(tally.repeated().map(|(k, n)| (k.to_string(), Value::Number(n.into()))).collect())
                }
                State::Count(n) => Value::Number(n.into()),
                State::Sum(total) => {
                    if total.fract() == 0.0 && total.abs() < 9.0e15 {
                        Value::Number((total as i64).into())
                    } else {
                        Number::from_f64(total).map(Value::Number).unwrap_or(Value::Null)
                    }
                }
                State::Extreme(best) => best.unwrap_or(Value::Null),
                State::Records(keys) => keys.into_value(),
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
    /// A `records` aggregate's value held in the record at position `at` of the records walked (its first
    /// `*`), whose key is `key` (`None` for a record without one).
    Key {
        at: usize,
        key: Option<String>,
    },
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
    observe_each(pack, root, [envelope, as_of, now, params], records, memos, |_, index, observed| {
        out.push((index, observed))
    });
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
    mut sink: impl FnMut(&crate::standard::rulebook::Trail<'_>, usize, Observed),
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
                (AggregateKind::Records, RuleValue::Bool(true)) => Observed::Key {
                    at: trail.indices().first().copied().unwrap_or(0),
                    key: super::business::record_key(pack, root, &trail.pointer()),
                },
                (AggregateKind::Records, _) => return,
            };
            sink(trail, index, observed);
        });
    }
}

/// Counts of text values, each value stored once in one buffer: about 44 bytes a distinct value, so that the
/// identifiers of a return of a million children can be counted in bounded memory. For a bulk return it also
/// remembers which records hold a value seen more than once.
#[derive(Default, Clone)]
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

/// The keys a `records` aggregate gathered, each with the number of its record: one buffer of text and 8 bytes
/// a record, for the records where its value held.
#[derive(Default, Clone)]
struct Keys {
    /// Every key, one after another.
    text: String,
    /// For each record, in the order gathered: its number, and its key's length in `text` (`NO_KEY` for a
    /// record without a key).
    entries: Vec<(u32, u32)>,
}

const NO_KEY: u32 = u32::MAX;

impl Keys {
    fn push(&mut self, record: usize, key: Option<&str>) {
        // A key as long as `NO_KEY` cannot come from a record within the document limits; it would be counted,
        // unnamed, rather than misread.
        let length = key.and_then(|k| u32::try_from(k.len()).ok()).filter(|&n| n != NO_KEY);
        if let (Some(key), Some(_)) = (key, length) {
            self.text.push_str(key);
        }
        self.entries.push((u32::try_from(record).unwrap_or(u32::MAX), length.unwrap_or(NO_KEY)));
    }

    fn merge(&mut self, other: Keys) {
        self.text.push_str(&other.text);
        self.entries.extend(other.entries);
    }

    /// The keys in the order of their records' numbers (as gathered, between records of the same number),
    /// `null` for a record without a key.
    fn into_value(self) -> Value {
        let mut start = 0usize;
        let mut keys: Vec<(u32, Option<(usize, usize)>)> = self
            .entries
            .iter()
            .map(|&(record, length)| {
                if length == NO_KEY {
                    return (record, None);
                }
                let span = (start, start + length as usize);
                start = span.1;
                (record, Some(span))
            })
            .collect();
        keys.sort_by_key(|(record, _)| *record);
        Value::Array(
            keys.into_iter()
                .map(|(_, span)| match span.and_then(|(from, to)| self.text.get(from..to)) {
                    Some(key) => Value::String(key.to_string()),
                    None => Value::Null,
                })
                .collect(),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::Catalog;

    fn key(at: usize, key: &str) -> Observed {
        Observed::Key { at, key: Some(key.to_string()) }
    }

    #[test]
    fn records_keys_come_out_in_record_order_each_record_once() {
        let catalog = Catalog::embedded().unwrap();
        let pack = catalog.find("cin-census@2025-26").unwrap();
        let index = pack.aggregates.iter().position(|a| a.name == "morePlansThanConferences").unwrap();
        let mut gathered = Accumulator::new(&pack);
        // Records come back from the workers out of order; one record's nodes (its CINdetails) one after another.
        gathered.apply_record(7, vec![(index, key(0, "C7")), (index, key(0, "C7"))]);
        gathered.apply_record(2, vec![(index, key(0, "C2"))]);
        let mut other = Accumulator::new(&pack);
        other.apply_record(5, vec![(index, Observed::Key { at: 0, key: None })]);
        other.apply_record(0, vec![(index, key(0, "Cé0"))]);
        gathered.merge(other);
        let agg = gathered.finish();
        assert_eq!(agg["morePlansThanConferences"], serde_json::json!(["Cé0", "C2", null, "C7"]));
    }

    #[test]
    fn records_of_a_whole_document_are_told_apart_by_position() {
        let catalog = Catalog::embedded().unwrap();
        let pack = catalog.find("cin-census@2025-26").unwrap();
        let index = pack.aggregates.iter().position(|a| a.name == "sexUnknown").unwrap();
        let mut gathered = Accumulator::new(&pack);
        // Two records sharing a key are two records.
        gathered.apply(vec![(index, key(0, "A")), (index, key(1, "B")), (index, key(1, "B")), (index, key(2, "B"))]);
        assert_eq!(gathered.finish()["sexUnknown"], serde_json::json!(["A", "B", "B"]));
    }
}
