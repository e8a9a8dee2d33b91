//! Aggregates: values gathered across a whole document — across every record of a bulk return — before its
//! rules run (how often each child id occurs, how many children have unknown sex). Fed one record at a time,
//! so a return of any size needs only the aggregates in memory, never the records.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use serde_json::{Map, Number, Value};

use crate::rules::Value as RuleValue;
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
                (State::Extreme(a), State::Extreme(b)) => {
                    if let Some(b) = b {
                        let take = match a.as_ref() {
                            None => true,
                            Some(current) if aggregate.kind == AggregateKind::Min => less_than(&b, current),
                            Some(current) => less_than(current, &b),
                        };
                        if take {
                            *a = Some(b);
                        }
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
        let null = Value::Null;
        for (aggregate, state) in self.pack.aggregates.iter().zip(self.states.iter_mut()) {
            if let Some(wanted) = records {
                if aggregate.in_records != wanted {
                    continue;
                }
            }
            aggregate.context.for_each(root, |_, node| {
                let vars = [node, root, envelope, as_of, now, params, &null];
                let Ok(value) = aggregate.value.eval(&vars) else { return };
                match state {
                    State::CountBy(map) => {
                        if !matches!(value, RuleValue::Null) {
                            *map.entry(value.to_string()).or_default() += 1;
                        }
                    }
                    State::Repeats(tally) => {
                        if !matches!(value, RuleValue::Null) {
                            tally.add(&value.to_string(), 1);
                        }
                    }
                    State::Count(n) => {
                        if matches!(value, RuleValue::Bool(true)) {
                            *n += 1;
                        }
                    }
                    State::Sum(total) => {
                        if let Some(x) = number(&value) {
                            *total += x;
                        }
                    }
                    State::Extreme(best) => {
                        let candidate = match &value {
                            RuleValue::Null => return,
                            v => match number(v) {
                                Some(x) => Number::from_f64(x).map(Value::Number),
                                None => Some(Value::String(v.to_string())),
                            },
                        };
                        let Some(candidate) = candidate else { return };
                        let better = match best.as_ref() {
                            None => true,
                            Some(current) => {
                                let less = less_than(&candidate, current);
                                if aggregate.kind == AggregateKind::Min {
                                    less
                                } else {
                                    less_than(current, &candidate)
                                }
                            }
                        };
                        if better {
                            *best = Some(candidate);
                        }
                    }
                }
            });
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

/// Counts of text values, each value stored once in one buffer: about 40 bytes a distinct value, so that the
/// identifiers of a return of a million children can be counted in bounded memory.
#[derive(Default)]
struct Tally {
    text: String,
    /// Start, length and count of each distinct value, in `text`.
    entries: Vec<(u32, u32, u32)>,
    /// Hash of a value → its entry; values whose hash another value already has go to `collisions`.
    by_hash: HashMap<u64, u32>,
    collisions: HashMap<String, u32>,
}

impl Tally {
    fn hash(value: &str) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    fn value(&self, entry: (u32, u32, u32)) -> &str {
        self.text.get(entry.0 as usize..(entry.0 + entry.1) as usize).unwrap_or("")
    }

    fn add(&mut self, value: &str, count: u32) {
        let hash = Tally::hash(value);
        if let Some(&index) = self.by_hash.get(&hash) {
            let entry = self.entries[index as usize];
            if self.value(entry) == value {
                self.entries[index as usize].2 += count;
                return;
            }
            if let Some(&index) = self.collisions.get(value) {
                self.entries[index as usize].2 += count;
                return;
            }
            let index = self.push(value, count);
            self.collisions.insert(value.to_string(), index);
            return;
        }
        let index = self.push(value, count);
        self.by_hash.insert(hash, index);
    }

    fn push(&mut self, value: &str, count: u32) -> u32 {
        let start = self.text.len() as u32;
        self.text.push_str(value);
        self.entries.push((start, value.len() as u32, count));
        (self.entries.len() - 1) as u32
    }

    fn merge(&mut self, other: Tally) {
        for &entry in &other.entries {
            self.add(other.value(entry), entry.2);
        }
    }

    /// The values that occur more than once, with their counts.
    fn repeated(&self) -> impl Iterator<Item = (&str, u32)> {
        self.entries.iter().filter(|e| e.2 > 1).map(|&e| (self.value(e), e.2))
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
