//! Changes to one child's rows, said as data in a pack's `generate.toml`: the deliberate faults (`[faults]
//! child`, each naming the rule it breaks) and the first-submission mistakes of the messy profile (`[messy]
//! mistakes`, each with a weight). One vocabulary for both, checked against the pack when it is read.
//!
//! Not for: deciding which child gets a change (the generator does), or which rules a mistake breaks (the
//! validator says).

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use chrono::{Datelike, NaiveDate};
use rand::RngExt as _;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::{format_date, parse_date, Layout, Rows};

/// One change as `generate.toml` writes it: `{ rule = "101", table = "Header", set = { SEX = "1" } }`. Exactly
/// one of the operations (`set`, `blank`, `shift`, `date_as`, `recode`, `lower`, `pad`, `duplicate`,
/// `drop`) is given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    /// The rule the change breaks (faults only; it must be a rule of the pack).
    #[serde(default)]
    pub rule: Option<String>,
    /// How often the change is drawn, against the others (mistakes only; default 1).
    #[serde(default)]
    pub weight: Option<u32>,
    /// The table whose row is changed; for `duplicate` and `drop`, the table the child must have rows in.
    #[serde(default)]
    pub table: Option<String>,
    /// The table the child must have rows in, when not the one changed (`{ table = "Episodes", needs = "OC2",
    /// set = { LS = "L1" } }`: an episode of a child looked after for 12 months).
    #[serde(default)]
    pub needs: Option<String>,
    /// Cells a row must hold, exactly, for the change to be made in it (`{ REC = "X1" }`: an episode followed
    /// by another).
    #[serde(default)]
    pub when: BTreeMap<String, String>,
    /// Cells written as given, exactly (`{ SEX = "1" }`, `{ DECOM = "2025-07-21" }`).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Cells left blank.
    #[serde(default)]
    pub blank: Vec<String>,
    /// Date cells moved by a number of days (still written dd/mm/yyyy).
    #[serde(default)]
    pub shift: BTreeMap<String, i64>,
    /// Date cells written another way: a pattern of `dd`, `mm`, `yyyy`, `yy` and separators (`yyyy-mm-dd`).
    #[serde(default)]
    pub date_as: BTreeMap<String, String>,
    /// Cells whose value is replaced by another (`{ SEX = { M = "1", F = "2" } }`); other values are kept.
    #[serde(default)]
    pub recode: BTreeMap<String, BTreeMap<String, String>>,
    /// Cells written in lower case.
    #[serde(default)]
    pub lower: Vec<String>,
    /// Cells given a trailing space.
    #[serde(default)]
    pub pad: Vec<String>,
    /// A table one of whose rows is written twice.
    #[serde(default)]
    pub duplicate: Option<String>,
    /// A table all of whose rows for the child are left out.
    #[serde(default)]
    pub drop: Option<String>,
}

/// What a change does, its columns resolved to indexes of its table's columns.
#[derive(Debug, Clone)]
pub enum Op {
    Set(Vec<(usize, String)>),
    Blank(Vec<usize>),
    Shift(Vec<(usize, i64)>),
    DateAs(Vec<(usize, String)>),
    Recode(Vec<(usize, BTreeMap<String, String>)>),
    Lower(Vec<usize>),
    Pad(Vec<usize>),
    Duplicate,
    Drop,
}

/// A change checked against the pack: the table it changes, the one the child must have rows in, and what.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub rule: Option<String>,
    pub weight: u32,
    /// The table the child must have rows in for the change to apply.
    pub needs: usize,
    /// The table changed.
    pub target: usize,
    /// Cells of the target table a row must hold for the change to be made in it.
    pub when: Vec<(usize, String)>,
    pub op: Op,
}

/// Which row a change is made in: the first it applies to (faults, so that a test can find it), or one drawn
/// among them (mistakes).
#[derive(Debug, Clone, Copy)]
pub enum Pick {
    First,
    Any,
}

impl RecipeFile {
    /// Checks the change against the pack's tables (and rules, for a fault): `what` names it in errors.
    pub fn compile(self, layout: &Layout, what: &str) -> Result<Recipe> {
        let table_index = |name: &str| {
            layout.index(name).ok_or_else(|| {
                anyhow!(
                    "{what}: `{name}` is not a table of the pack (its tables: {})",
                    layout.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                )
            })
        };
        let table = self.table.as_deref().map(table_index).transpose()?;
        let needs = self.needs.as_deref().map(table_index).transpose()?;
        let column = |t: usize, name: &str| {
            layout.tables[t].columns.iter().position(|c| c == name).ok_or_else(|| {
                anyhow!(
                    "{what}: `{name}` is not a column of {} ({})",
                    layout.tables[t].name,
                    layout.tables[t].columns.join(", ")
                )
            })
        };
        let date_column = |t: usize, name: &str| {
            let c = column(t, name)?;
            if !layout.tables[t].dates[c] {
                bail!("{what}: {}.{name} is not a date column", layout.tables[t].name);
            }
            Ok(c)
        };
        let cell_table = || table.ok_or_else(|| anyhow!("{what}: a change to cells names its `table`"));
        let mut ops = Vec::new();
        if !self.set.is_empty() {
            let t = cell_table()?;
            let cells = self.set.iter().map(|(c, v)| Ok((column(t, c)?, v.clone()))).collect::<Result<_>>()?;
            ops.push((t, Op::Set(cells)));
        }
        if !self.blank.is_empty() {
            let t = cell_table()?;
            ops.push((t, Op::Blank(self.blank.iter().map(|c| column(t, c)).collect::<Result<_>>()?)));
        }
        if !self.shift.is_empty() {
            let t = cell_table()?;
            let cells = self.shift.iter().map(|(c, n)| Ok((date_column(t, c)?, *n))).collect::<Result<_>>()?;
            ops.push((t, Op::Shift(cells)));
        }
        if !self.date_as.is_empty() {
            let t = cell_table()?;
            let cells = self
                .date_as
                .iter()
                .map(|(c, pattern)| {
                    if !(pattern.contains("dd") && pattern.contains("mm") && pattern.contains("yy")) {
                        bail!("{what}: date_as `{pattern}` must hold dd, mm and yy or yyyy");
                    }
                    Ok((date_column(t, c)?, pattern.clone()))
                })
                .collect::<Result<_>>()?;
            ops.push((t, Op::DateAs(cells)));
        }
        if !self.recode.is_empty() {
            let t = cell_table()?;
            let cells = self.recode.iter().map(|(c, map)| Ok((column(t, c)?, map.clone()))).collect::<Result<_>>()?;
            ops.push((t, Op::Recode(cells)));
        }
        if !self.lower.is_empty() {
            let t = cell_table()?;
            ops.push((t, Op::Lower(self.lower.iter().map(|c| column(t, c)).collect::<Result<_>>()?)));
        }
        if !self.pad.is_empty() {
            let t = cell_table()?;
            ops.push((t, Op::Pad(self.pad.iter().map(|c| column(t, c)).collect::<Result<_>>()?)));
        }
        if let Some(name) = &self.duplicate {
            ops.push((table_index(name)?, Op::Duplicate));
        }
        if let Some(name) = &self.drop {
            ops.push((table_index(name)?, Op::Drop));
        }
        if ops.len() != 1 {
            bail!(
                "{what}: give exactly one change (set, blank, shift, date_as, recode, lower, pad, duplicate or drop), not {}",
                ops.len()
            );
        }
        let Some((target, op)) = ops.pop() else { bail!("{what}: no change") };
        if self.weight == Some(0) {
            bail!("{what}: a weight is at least 1");
        }
        let needs = needs.or(table).unwrap_or(target);
        let when = self.when.iter().map(|(c, v)| Ok((column(target, c)?, v.clone()))).collect::<Result<_>>()?;
        Ok(Recipe { rule: self.rule, weight: self.weight.unwrap_or(1), needs, target, when, op })
    }
}

impl Recipe {
    /// The columns of the target table the change reads: a row is changed only when these cells are not blank.
    pub fn reads(&self) -> Vec<usize> {
        match &self.op {
            Op::Set(_) | Op::Duplicate | Op::Drop => Vec::new(),
            Op::Blank(c) | Op::Lower(c) | Op::Pad(c) => c.clone(),
            Op::Shift(c) => c.iter().map(|x| x.0).collect(),
            Op::DateAs(c) => c.iter().map(|x| x.0).collect(),
            Op::Recode(c) => c.iter().map(|x| x.0).collect(),
        }
    }

    /// Whether the change can be made in `row`.
    fn fits(&self, row: &[String]) -> bool {
        let filled = self.reads().iter().all(|&c| row.get(c).is_some_and(|v| !v.is_empty()));
        let holds = self.when.iter().all(|(c, v)| row.get(*c) == Some(v));
        filled
            && holds
            && match &self.op {
                Op::Shift(c) => c.iter().all(|(i, _)| row.get(*i).and_then(|v| parse_date(v)).is_some()),
                Op::DateAs(c) => c.iter().all(|(i, _)| row.get(*i).and_then(|v| parse_date(v)).is_some()),
                Op::Recode(c) => c.iter().all(|(i, map)| row.get(*i).is_some_and(|v| map.contains_key(v))),
                Op::Lower(c) => c.iter().any(|i| row.get(*i).is_some_and(|v| v.chars().any(|ch| ch.is_uppercase()))),
                _ => true,
            }
    }

    /// Makes the change in a child's rows; false (and nothing changed) when the child has no row it fits.
    pub fn apply(&self, rows: &mut Rows, pick: Pick, rng: &mut ChaCha8Rng) -> bool {
        if rows.get(self.needs).is_none_or(Vec::is_empty) {
            return false;
        }
        let Some(target) = rows.get_mut(self.target) else { return false };
        let fitting: Vec<usize> = (0..target.len()).filter(|&i| self.fits(&target[i])).collect();
        let chosen = match pick {
            Pick::First => fitting.first().copied(),
            Pick::Any if fitting.is_empty() => None,
            Pick::Any => Some(fitting[rng.random_range(0..fitting.len())]),
        };
        match &self.op {
            Op::Drop => {
                let dropped = !target.is_empty();
                target.clear();
                return dropped;
            }
            Op::Duplicate => {
                let Some(i) = chosen else { return false };
                let copy = target[i].clone();
                target.insert(i + 1, copy);
                return true;
            }
            _ => {}
        }
        let Some(i) = chosen else { return false };
        let row = &mut target[i];
        match &self.op {
            Op::Set(cells) => {
                for (c, v) in cells {
                    row[*c].clone_from(v);
                }
            }
            Op::Blank(cells) => cells.iter().for_each(|c| row[*c].clear()),
            Op::Shift(cells) => {
                for (c, n) in cells {
                    if let Some(d) = parse_date(&row[*c]) {
                        row[*c] = format_date(super::days(d, *n));
                    }
                }
            }
            Op::DateAs(cells) => {
                for (c, pattern) in cells {
                    if let Some(d) = parse_date(&row[*c]) {
                        row[*c] = date_as(d, pattern);
                    }
                }
            }
            Op::Recode(cells) => {
                for (c, map) in cells {
                    if let Some(v) = map.get(&row[*c]) {
                        row[*c].clone_from(v);
                    }
                }
            }
            Op::Lower(cells) => cells.iter().for_each(|c| row[*c] = row[*c].to_lowercase()),
            Op::Pad(cells) => cells.iter().for_each(|c| row[*c].push(' ')),
            Op::Duplicate | Op::Drop => {}
        }
        true
    }
}

/// A date written by a pattern of `yyyy`, `yy`, `mm`, `dd` and other characters kept as they are.
pub fn date_as(d: NaiveDate, pattern: &str) -> String {
    pattern
        .replace("yyyy", &format!("{:04}", d.year()))
        .replace("yy", &format!("{:02}", d.year().rem_euclid(100)))
        .replace("mm", &format!("{:02}", d.month()))
        .replace("dd", &format!("{:02}", d.day()))
}
