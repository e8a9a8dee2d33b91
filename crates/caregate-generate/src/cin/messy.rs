//! The messy profile: a census return as a council's first submission of the year looks, straight out of its
//! case-management system's extract. Each child is written as the clean generator makes it and then given the
//! mistakes of the pack's `[messy]` ([`Messy`]), drawn by seed — how many from `per_child`, which by their
//! weights: blank elements, dates outside the census year or written day first, codes that no code list has,
//! mistyped, in lowercase or from an earlier year's code set, a child id repeated, overlapping episodes and
//! missing modules. Most children carry one or two mistakes, some several, some none. The kinds of mistake are
//! the generator's; the elements, codes and weights each is made with are the pack's, checked against its
//! schema and code lists when it is read.
//!
//! The mistakes are made in the child's XML text, as an extract makes them. The clean writer puts one element
//! on each line — an opening tag, a closing tag, or a leaf `<Name>value</Name>` — and every mistake keeps
//! that layout, so that the next mistake can read the child the same way. Mistakes are drawn from a random
//! stream of their own: a messy return holds the children of the clean return of the same seed, with mistakes
//! added, and is written child by child as that one is.
//!
//! Not for: breaking a chosen rule (`--invalid-rate` does that, each rule in turn). The mix names no rule:
//! which rules a mistake breaks, and how many findings it gives, is for the validator to say.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{Datelike, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::codes::{check_weights, Elements, WeightedList};
use super::{days, weighted};
use caregate_engine::standard::codelists::CodeLists;
use caregate_engine::standard::StandardPack;

/// A kind of mistake, with the elements it is made in (names of the pack's schema, checked when it is read).
#[derive(Debug, Clone)]
enum Mistake {
    /// A required value left out while its element is still sent: `<X></X>`, `<X/>` or only spaces.
    BlankRequired(Vec<String>),
    /// An optional value left out the same way: the element is sent, empty.
    BlankOptional(Vec<String>),
    /// An optional element the child has no value for, sent empty in its place.
    EmptyOptional(Vec<(String, Place)>),
    /// A date of the census year moved out of it: past the reference date, or its year typed one off.
    DateOutsideYear(Vec<String>),
    /// A date written day first, `dd/mm/yyyy`.
    DayFirstDate(Vec<String>),
    /// A value that is no code at all, by element.
    UnknownCode(BTreeMap<String, Vec<String>>),
    /// A code mistyped: two neighbouring characters swapped, or one doubled; never another real code.
    MistypedCode(Vec<String>),
    /// A code sent in lowercase.
    LowercaseCode(Vec<String>),
    /// A code of an earlier year's code set, by element.
    OldCode(BTreeMap<String, Vec<String>>),
    /// The child's id (this element) of the child before: one child keyed twice, or two children given one id.
    RepeatedChildId(String),
    /// An episode closed after the next one's referral, or a child's only episode sent twice.
    OverlappingEpisodes(Episodes),
    /// A module left out, by weight: an episode without its assessment, a plan without its reviews, …
    MissingModule(WeightedList<String>),
}

/// The elements an episode is written in.
#[derive(Debug, Clone)]
struct Episodes {
    /// The episode's block.
    episode: String,
    /// Its first date (the referral) and its last (the closure).
    start: String,
    end: String,
}

/// Where an optional element goes when it is sent empty.
#[derive(Debug, Clone)]
enum Place {
    /// Right after this element.
    After(String),
    /// Last in this element.
    LastIn(String),
}

/// How an empty element is spelt.
#[derive(Debug, Clone, Copy, serde::Deserialize, strum::Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
enum Blank {
    /// `<X></X>`
    Pair,
    /// `<X/>`
    SelfClosing,
    /// `<X>  </X>`
    Spaces,
}

/// The most mistakes `per_child` may give one child: each is a walk over the child's text.
const MOST_PER_CHILD: usize = 100;

/// `[messy]` as `generate.toml` writes it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MessyFile {
    per_child: WeightedList<usize>,
    blanks: WeightedList<Blank>,
    /// Each read on its own, so that an error names it.
    mistakes: Vec<toml::Value>,
}

/// One mistake of `[messy] mistakes` as the file writes it: its `kind`, `weight` and what that kind takes.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MistakeFile {
    kind: String,
    weight: u32,
    elements: Option<Vec<String>>,
    places: Option<Vec<PlaceFile>>,
    codes: Option<BTreeMap<String, Vec<String>>>,
    modules: Option<WeightedList<String>>,
    element: Option<String>,
    episode: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceFile {
    element: String,
    after: Option<String>,
    last_in: Option<String>,
}

/// The messy profile of a pack (`[messy]`): how many mistakes a child carries, which, and how blanks are spelt.
#[derive(Debug, Clone)]
pub struct Messy {
    /// How many mistakes a child carries (weights).
    per_child: WeightedList<usize>,
    /// The mix of mistakes (weights), in the file's order.
    mistakes: WeightedList<Mistake>,
    /// How an empty element is spelt (weights).
    blanks: WeightedList<Blank>,
    /// The elements whose value a repeated-id mistake copies from the child before.
    ids: Vec<String>,
}

impl Messy {
    /// The pack's `[messy]`, checked against its schema; `None` when the pack has none.
    pub fn of(pack: &StandardPack) -> Result<Option<Messy>> {
        let context = format!("{}: generate.toml: [messy]", pack.reference());
        let Some(value) = super::super::GenerateFile::of(pack)?.messy else {
            return Ok(None);
        };
        let file: MessyFile = value.try_into().with_context(|| context.clone())?;
        check_weights(&file.per_child).with_context(|| format!("{context} per_child"))?;
        if let Some((count, _)) = file.per_child.iter().find(|(count, _)| *count > MOST_PER_CHILD) {
            bail!("{context} per_child: {count} mistakes in a child is more than {MOST_PER_CHILD}");
        }
        check_weights(&file.blanks).with_context(|| format!("{context} blanks"))?;
        if file.mistakes.is_empty() {
            bail!("{context} mistakes: the list is empty");
        }
        let elements = Elements::of(pack);
        let mut mistakes = Vec::new();
        for (i, value) in file.mistakes.into_iter().enumerate() {
            let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("?").to_string();
            let here = format!("{context} mistake {} ({kind})", i + 1);
            let entry: MistakeFile = value.try_into().with_context(|| here.clone())?;
            let mistake = compile(entry, &elements, &pack.codelists).with_context(|| here.clone())?;
            mistakes.push(mistake);
        }
        if mistakes.iter().try_fold(0u32, |total, (_, weight)| total.checked_add(*weight)).is_none() {
            bail!("{context} mistakes: the weights add up to more than {}", u32::MAX);
        }
        let mut ids: Vec<String> = Vec::new();
        for (mistake, _) in &mistakes {
            if let Mistake::RepeatedChildId(id) = mistake {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
        Ok(Some(Messy { per_child: file.per_child, mistakes, blanks: file.blanks, ids }))
    }

    /// The names of the kinds of mistake the profile makes.
    #[cfg(test)]
    fn names(&self) -> HashSet<&'static str> {
        self.mistakes.iter().map(|(m, _)| m.name()).collect()
    }
}

/// One mistake of the file, checked: it takes what its kind needs and nothing else, every element is one of
/// the schema of the kind needed, and a wrong code is no code of its element.
fn compile(file: MistakeFile, elements: &Elements, codelists: &CodeLists) -> Result<(Mistake, u32)> {
    if file.weight == 0 {
        bail!("give it a weight of at least 1");
    }
    let given: Vec<&str> = [
        ("elements", file.elements.is_some()),
        ("places", file.places.is_some()),
        ("codes", file.codes.is_some()),
        ("modules", file.modules.is_some()),
        ("element", file.element.is_some()),
        ("episode", file.episode.is_some()),
        ("start", file.start.is_some()),
        ("end", file.end.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, present)| present.then_some(key))
    .collect();
    let takes: &[&str] = match file.kind.as_str() {
        "blank-required" | "blank-optional" | "date-outside-year" | "day-first-date" | "mistyped-code"
        | "lowercase-code" => &["elements"],
        "empty-optional" => &["places"],
        "unknown-code" | "old-code" => &["codes"],
        "repeated-child-id" => &["element"],
        "overlapping-episodes" => &["episode", "start", "end"],
        "missing-module" => &["modules"],
        other => bail!(
            "`{other}` is no kind of mistake: expected blank-required, blank-optional, empty-optional, \
             date-outside-year, day-first-date, unknown-code, mistyped-code, lowercase-code, old-code, \
             repeated-child-id, overlapping-episodes or missing-module"
        ),
    };
    if given != takes {
        let list = |keys: &[&str]| keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        bail!("a `{}` mistake takes {}; this one gives {}", file.kind, list(takes), list(&given));
    }
    let named = |list: Option<Vec<String>>, check: &dyn Fn(&str) -> Result<()>| -> Result<Vec<String>> {
        let list = list.unwrap_or_default();
        if list.is_empty() {
            bail!("`elements` is empty");
        }
        for name in &list {
            check(name)?;
        }
        Ok(list)
    };
    let any = |name: &str| elements.get(name).map(drop);
    let date = |name: &str| match elements.get(name)?.date {
        true => Ok(()),
        false => Err(anyhow!("`{name}` is not a date in the pack's schema")),
    };
    let coded = |name: &str| elements.coded(name).map(drop);
    let wrong_codes = |codes: Option<BTreeMap<String, Vec<String>>>, old: bool| -> Result<_> {
        let codes = codes.unwrap_or_default();
        if codes.is_empty() {
            bail!("`codes` is empty");
        }
        for (name, values) in &codes {
            let list = elements.coded(name)?;
            let list = codelists.get(list).ok_or_else(|| anyhow!("the pack has no code list `{list}`"))?;
            if values.is_empty() {
                bail!("`{name}` has no codes");
            }
            if let Some(value) = values.iter().find(|v| list.contains(v)) {
                let what = if old { "an earlier year's code" } else { "in no code list" };
                bail!("`{value}` is a code of {} ({name}), not {what}", list.title);
            }
        }
        Ok(codes)
    };
    let mistake = match file.kind.as_str() {
        "blank-required" => Mistake::BlankRequired(named(file.elements, &any)?),
        "blank-optional" => Mistake::BlankOptional(named(file.elements, &any)?),
        "date-outside-year" => Mistake::DateOutsideYear(named(file.elements, &date)?),
        "day-first-date" => Mistake::DayFirstDate(named(file.elements, &date)?),
        "mistyped-code" => Mistake::MistypedCode(named(file.elements, &coded)?),
        "lowercase-code" => Mistake::LowercaseCode(named(file.elements, &coded)?),
        "unknown-code" => Mistake::UnknownCode(wrong_codes(file.codes, false)?),
        "old-code" => Mistake::OldCode(wrong_codes(file.codes, true)?),
        "empty-optional" => {
            let mut places = Vec::new();
            for place in file.places.unwrap_or_default() {
                any(&place.element)?;
                let place = match (place.after, place.last_in) {
                    (Some(before), None) => (place.element, Place::After(before)),
                    (None, Some(parent)) => (place.element, Place::LastIn(parent)),
                    _ => bail!("`{}`: give one of `after` and `last_in`", place.element),
                };
                let (Place::After(other) | Place::LastIn(other)) = &place.1;
                any(other)?;
                places.push(place);
            }
            if places.is_empty() {
                bail!("`places` is empty");
            }
            Mistake::EmptyOptional(places)
        }
        "repeated-child-id" => {
            let id = file.element.unwrap_or_default();
            any(&id)?;
            Mistake::RepeatedChildId(id)
        }
        "overlapping-episodes" => {
            let episodes = Episodes {
                episode: file.episode.unwrap_or_default(),
                start: file.start.unwrap_or_default(),
                end: file.end.unwrap_or_default(),
            };
            any(&episodes.episode)?;
            date(&episodes.start)?;
            date(&episodes.end)?;
            Mistake::OverlappingEpisodes(episodes)
        }
        _ => {
            let modules = file.modules.unwrap_or_default();
            check_weights(&modules).context("`modules`")?;
            for (name, _) in &modules {
                any(name)?;
            }
            Mistake::MissingModule(modules)
        }
    };
    Ok((mistake, file.weight))
}

impl Mistake {
    /// What the mistake is, as a return's summary counts it.
    fn name(&self) -> &'static str {
        match self {
            Mistake::BlankRequired(_) => "blank required element",
            Mistake::BlankOptional(_) => "blank optional element",
            Mistake::EmptyOptional(_) => "empty optional element",
            Mistake::DateOutsideYear(_) => "date outside the census year",
            Mistake::DayFirstDate(_) => "date written dd/mm/yyyy",
            Mistake::UnknownCode(_) => "value in no code list",
            Mistake::MistypedCode(_) => "mistyped code",
            Mistake::LowercaseCode(_) => "code in lowercase",
            Mistake::OldCode(_) => "code of an earlier year",
            Mistake::RepeatedChildId(_) => "repeated child id",
            Mistake::OverlappingEpisodes(_) => "overlapping episodes",
            Mistake::MissingModule(_) => "missing module",
        }
    }
}

/// The mistakes of one messy return, made child by child.
pub(super) struct Mess<'p> {
    rng: ChaCha8Rng,
    /// The pack's profile: what the mistakes are, drawn from.
    profile: &'p Messy,
    /// The census year, first and last day.
    start: NaiveDate,
    end: NaiveDate,
    /// Every code of the standard's code lists: a mistyped code must not be another real one.
    codes: HashSet<String>,
    /// The value of each of `profile.ids` in the child written before, as sent.
    previous: BTreeMap<String, String>,
}

impl<'p> Mess<'p> {
    pub(super) fn new(
        profile: &'p Messy,
        seed: u64,
        start: NaiveDate,
        end: NaiveDate,
        codelists: &CodeLists,
    ) -> Mess<'p> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Stream 0 makes the children; the mistakes have a stream of their own.
        rng.set_stream(1);
        let codes = codelists.values().flat_map(|list| list.codes.iter().map(|c| c.code.clone())).collect();
        Mess { rng, profile, start, end, codes, previous: BTreeMap::new() }
    }

    /// Gives the child written at `buf[from..]` its mistakes, counting each kind made in `made`.
    pub(super) fn spoil(&mut self, buf: &mut String, from: usize, made: &mut BTreeMap<&'static str, usize>) {
        let profile: &'p Messy = self.profile;
        let count = weighted(&mut self.rng, &profile.per_child).copied().unwrap_or(0);
        for _ in 0..count {
            // A child may have nothing a mistake needs (no plan to leave a review out of): draw again.
            for _ in 0..8 {
                let Some(mistake) = weighted(&mut self.rng, &profile.mistakes) else {
                    break;
                };
                if self.make(mistake, buf, from) {
                    *made.entry(mistake.name()).or_default() += 1;
                    break;
                }
            }
        }
        let lines = lines(buf, from);
        for id in &profile.ids {
            match leaves(buf, &lines, &[id]).first() {
                Some(&i) => self.previous.insert(id.clone(), buf[lines[i].value()].to_string()),
                None => self.previous.remove(id),
            };
        }
    }

    /// Makes `mistake` in the child at `buf[from..]`; false when the child has nothing to make it in.
    fn make(&mut self, mistake: &Mistake, buf: &mut String, from: usize) -> bool {
        let lines = lines(buf, from);
        match mistake {
            Mistake::BlankRequired(fields) | Mistake::BlankOptional(fields) => {
                let Some(line) = self.choose(leaves(buf, &lines, fields)).map(|i| &lines[i]) else {
                    return false;
                };
                let blank = self.blank(&buf[line.name.clone()]);
                buf.replace_range(line.tag..line.span.end, &blank);
            }
            Mistake::EmptyOptional(places) => {
                let mut slots = Vec::new();
                for (name, place) in places {
                    slots.extend(slots_for(buf, &lines, name, place).into_iter().map(|slot| (name, slot)));
                }
                let Some((name, (at, indent))) = self.choose(slots) else {
                    return false;
                };
                let line = format!("{}{}\n", " ".repeat(indent), self.blank(name));
                buf.insert_str(at, &line);
            }
            Mistake::DateOutsideYear(fields) => {
                let in_year: Vec<(usize, NaiveDate)> = leaves(buf, &lines, fields)
                    .into_iter()
                    .filter_map(|i| Some((i, parse_date(&buf[lines[i].value()])?)))
                    .filter(|(_, d)| (self.start..=self.end).contains(d))
                    .collect();
                let Some((i, date)) = self.choose(in_year) else {
                    return false;
                };
                let moved = match self.rng.random_range(0..3) {
                    0 => date.with_year(date.year() + 1),
                    1 => date.with_year(date.year() - 1),
                    _ => None,
                };
                let moved = moved.unwrap_or_else(|| days(self.end, self.rng.random_range(1..=90)));
                buf.replace_range(lines[i].value(), &moved.format("%Y-%m-%d").to_string());
            }
            Mistake::DayFirstDate(fields) => {
                let dated: Vec<(usize, NaiveDate)> = leaves(buf, &lines, fields)
                    .into_iter()
                    .filter_map(|i| Some((i, parse_date(&buf[lines[i].value()])?)))
                    .collect();
                let Some((i, date)) = self.choose(dated) else {
                    return false;
                };
                buf.replace_range(lines[i].value(), &date.format("%d/%m/%Y").to_string());
            }
            Mistake::UnknownCode(table) | Mistake::OldCode(table) => {
                let names: Vec<&str> = table.keys().map(String::as_str).collect();
                let Some(i) = self.choose(leaves(buf, &lines, &names)) else {
                    return false;
                };
                let Some(values) = table.get(&buf[lines[i].name.clone()]) else {
                    return false;
                };
                let current = &buf[lines[i].value()];
                let others: Vec<&str> = values.iter().map(String::as_str).filter(|v| *v != current).collect();
                let Some(value) = self.choose(others) else {
                    return false;
                };
                buf.replace_range(lines[i].value(), value);
            }
            Mistake::MistypedCode(fields) => {
                let typos: Vec<(usize, String)> = leaves(buf, &lines, fields)
                    .into_iter()
                    .flat_map(|i| typos(&buf[lines[i].value()]).into_iter().map(move |typo| (i, typo)))
                    .filter(|(_, typo)| !self.codes.contains(typo))
                    .collect();
                let Some((i, typo)) = self.choose(typos) else {
                    return false;
                };
                buf.replace_range(lines[i].value(), &typo);
            }
            Mistake::LowercaseCode(fields) => {
                let upper: Vec<usize> = leaves(buf, &lines, fields)
                    .into_iter()
                    .filter(|&i| buf[lines[i].value()].bytes().any(|b| b.is_ascii_uppercase()))
                    .collect();
                let Some(i) = self.choose(upper) else {
                    return false;
                };
                let lower = buf[lines[i].value()].to_ascii_lowercase();
                buf.replace_range(lines[i].value(), &lower);
            }
            Mistake::RepeatedChildId(element) => {
                let Some(previous) = self.previous.get(element).cloned().filter(|id| !id.trim().is_empty()) else {
                    return false;
                };
                let Some(&i) = leaves(buf, &lines, &[element]).first() else {
                    return false;
                };
                buf.replace_range(lines[i].value(), &previous);
            }
            Mistake::OverlappingEpisodes(names) => return self.overlap(names, buf, &lines),
            Mistake::MissingModule(modules) => {
                let Some(name) = weighted(&mut self.rng, modules) else {
                    return false;
                };
                let found = blocks(buf, &lines, name);
                let Some(block) = self.choose(found) else {
                    return false;
                };
                buf.replace_range(block, "");
            }
        }
        true
    }

    /// Closes an episode after the next one's referral; a child with one episode gets it twice.
    fn overlap(&mut self, names: &Episodes, buf: &mut String, lines: &[Line]) -> bool {
        let episodes = blocks(buf, lines, &names.episode);
        let date_in = |block: &Range<usize>, name: &str| {
            let i = leaves(buf, lines, &[name]).into_iter().find(|&i| block.contains(&lines[i].span.start))?;
            Some((lines[i].value(), parse_date(&buf[lines[i].value()])?))
        };
        let pairs: Vec<(Range<usize>, NaiveDate)> = episodes
            .windows(2)
            .filter_map(|pair| Some((date_in(&pair[0], &names.end)?.0, date_in(&pair[1], &names.start)?.1)))
            .collect();
        if let Some((closure, next_referral)) = self.choose(pairs) {
            let late = days(next_referral, self.rng.random_range(1..=60));
            buf.replace_range(closure, &late.format("%Y-%m-%d").to_string());
            return true;
        }
        let Some(episode) = self.choose(episodes) else {
            return false;
        };
        let copy = buf[episode.clone()].to_string();
        buf.insert_str(episode.end, &copy);
        true
    }

    /// An empty `name` element, spelt one of the ways extracts spell it.
    fn blank(&mut self, name: &str) -> String {
        match weighted(&mut self.rng, &self.profile.blanks).copied().unwrap_or(Blank::Pair) {
            Blank::Pair => format!("<{name}></{name}>"),
            Blank::SelfClosing => format!("<{name}/>"),
            Blank::Spaces => format!("<{name}>  </{name}>"),
        }
    }

    fn choose<T>(&mut self, mut items: Vec<T>) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let at = self.rng.random_range(0..items.len());
        Some(items.swap_remove(at))
    }
}

/// One line of a child as written.
#[derive(Debug, Clone)]
struct Line {
    /// The line, without its newline.
    span: Range<usize>,
    /// Where its tag starts, after the indentation.
    tag: usize,
    name: Range<usize>,
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Open,
    Close,
    /// A leaf and its value (empty for `<X/>`).
    Leaf(Range<usize>),
}

impl Line {
    fn value(&self) -> Range<usize> {
        match &self.shape {
            Shape::Leaf(value) => value.clone(),
            Shape::Open | Shape::Close => self.span.end..self.span.end,
        }
    }

    fn indent(&self) -> usize {
        self.tag - self.span.start
    }
}

/// The lines of `buf[from..]`, one element to a line as the writer puts them.
fn lines(buf: &str, from: usize) -> Vec<Line> {
    let mut out = Vec::new();
    let mut next = from;
    for text in buf[from..].split_inclusive('\n') {
        let start = next;
        next += text.len();
        let end = start + text.trim_end_matches('\n').len();
        let tag = start + (text.len() - text.trim_start().len());
        let line = &buf[tag..end];
        let closing = line.starts_with("</");
        let name_from = tag + if closing { 2 } else { 1 };
        let name_len = buf.get(name_from..end).and_then(|rest| rest.find(['>', '/'])).unwrap_or(0);
        if !line.starts_with('<') || !line.ends_with('>') || name_len == 0 {
            continue;
        }
        let name = name_from..name_from + name_len;
        // A leaf is `<X>value</X>`: its closing tag starts `name_len + 3` bytes before the line's end.
        let bytes = buf.as_bytes();
        let closing_tag = end.checked_sub(name_len + 3).filter(|&at| {
            at > name.end && bytes[at..at + 2] == *b"</" && bytes[at + 2..end - 1] == bytes[name.clone()]
        });
        let shape = match closing_tag {
            _ if closing => Shape::Close,
            _ if line.ends_with("/>") => Shape::Leaf(end..end),
            Some(at) => Shape::Leaf(name.end + 1..at),
            None => Shape::Open,
        };
        out.push(Line { span: start..end, tag, name, shape });
    }
    out
}

/// The indexes of the leaves named one of `names` that have a value (not only spaces).
fn leaves(buf: &str, lines: &[Line], names: &[impl AsRef<str>]) -> Vec<usize> {
    (0..lines.len())
        .filter(|&i| {
            let line = &lines[i];
            let name = &buf[line.name.clone()];
            !buf[line.value()].trim().is_empty() && names.iter().any(|n| n.as_ref() == name)
        })
        .collect()
}

/// Each `name` element of the child, from the start of its opening line to the end of its closing line's newline.
fn blocks(buf: &str, lines: &[Line], name: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut open = None;
    for line in lines {
        if &buf[line.name.clone()] != name {
            continue;
        }
        match line.shape {
            Shape::Open => open = Some(line.span.start),
            Shape::Close => {
                if let Some(start) = open.take() {
                    out.push(start..(line.span.end + 1).min(buf.len()));
                }
            }
            Shape::Leaf(_) => {}
        }
    }
    out
}

/// Where an empty `name` may go by `place` in this child (a line's start and the indentation there), wherever
/// the element is not already present.
fn slots_for(buf: &str, lines: &[Line], name: &str, place: &Place) -> Vec<(usize, usize)> {
    let named = |line: &Line, wanted: &str| &buf[line.name.clone()] == wanted;
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match place {
            Place::After(before) if named(line, before) && matches!(line.shape, Shape::Leaf(_)) => {
                let present = lines.get(i + 1).is_some_and(|next| named(next, name));
                if !present {
                    out.push((line.span.end + 1, line.indent()));
                }
            }
            Place::LastIn(parent) if named(line, parent) && matches!(line.shape, Shape::Close) => {
                let present = i > 0 && named(&lines[i - 1], name);
                if !present {
                    out.push((line.span.start, line.indent() + 2));
                }
            }
            _ => {}
        }
    }
    out
}

/// The ways `code` is commonly mistyped: two neighbouring characters swapped, or one doubled.
fn typos(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    for i in 0..chars.len() {
        if i + 1 < chars.len() && chars[i] != chars[i + 1] {
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            out.push(swapped.into_iter().collect());
        }
        let mut doubled = chars.clone();
        doubled.insert(i, chars[i]);
        out.push(doubled.into_iter().collect());
    }
    out
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHILD: &str = "    <Child>\n      <ChildIdentifiers>\n        <LAchildID>C1</LAchildID>\n        \
        <Sex>F</Sex>\n      </ChildIdentifiers>\n      <CINdetails>\n        \
        <CINreferralDate>2025-06-02</CINreferralDate>\n        <PrimaryNeedCode>N1</PrimaryNeedCode>\n        \
        <ReferralNFA>false</ReferralNFA>\n      </CINdetails>\n    </Child>\n";

    #[test]
    fn lines_are_read_as_opening_closing_and_leaves() {
        let lines = lines(CHILD, 0);
        assert_eq!(lines.len(), 11);
        let id = &lines[2];
        assert_eq!(&CHILD[id.name.clone()], "LAchildID");
        assert_eq!(&CHILD[id.value()], "C1");
        assert!(matches!(lines[1].shape, Shape::Open));
        assert!(matches!(lines[4].shape, Shape::Close));
        assert_eq!(blocks(CHILD, &lines, "CINdetails").len(), 1);
        let blank = "<Child>\n  <Sex/>\n  <Ethnicity>  </Ethnicity>\n</Child>\n";
        let lines = super::lines(blank, 0);
        assert!(matches!(&lines[1].shape, Shape::Leaf(v) if v.is_empty()));
        assert_eq!(&blank[lines[2].value()], "  ");
        assert!(leaves(blank, &lines, &["Sex", "Ethnicity"]).is_empty(), "blank elements have no value to spoil");
        let odd = "<Child>\n  <Note>a>b</Other>\n  <Sex>é</Sex>\n</Child>\n";
        let lines = super::lines(odd, 0);
        assert!(matches!(lines[1].shape, Shape::Open), "a line that does not close its element is no leaf");
        assert_eq!(&odd[lines[2].value()], "é");
    }

    #[test]
    fn empty_optional_elements_go_where_the_schema_puts_them() {
        let lines = lines(CHILD, 0);
        let after = slots_for(CHILD, &lines, "CINclosureDate", &Place::After("PrimaryNeedCode".into()));
        assert_eq!(after.len(), 1);
        assert!(CHILD[after[0].0..].starts_with("        <ReferralNFA>"));
        let last = slots_for(CHILD, &lines, "PersonDeathDate", &Place::LastIn("ChildIdentifiers".into()));
        assert!(CHILD[last[0].0..].starts_with("      </ChildIdentifiers>"));
        assert_eq!(last[0].1, 8);
        assert!(slots_for(CHILD, &lines, "Sex", &Place::LastIn("ChildIdentifiers".into())).is_empty(), "Sex is there");
    }

    #[test]
    fn typos_swap_or_double_and_never_return_the_code() {
        assert_eq!(typos("RC8"), ["CR8", "RRC8", "R8C", "RCC8", "RC88"]);
        assert_eq!(typos("M"), ["MM"]);
        assert!(!typos("WBRI").contains(&"WBRI".to_string()));
    }

    fn census() -> std::sync::Arc<StandardPack> {
        let catalog = caregate_engine::standard::Catalog::embedded().expect("embedded packs");
        catalog.find("cin-census@2025-26").expect("the census pack")
    }

    /// The census pack with `[messy]` replaced by `messy` (TOML, from its header on).
    fn with_messy(messy: &str) -> Result<Option<Messy>> {
        let pack = census();
        let text = String::from_utf8(pack.files.files["generate.toml"].clone()).expect("UTF-8");
        let kept = &text[..text.find("\n[messy]").expect("the pack has [messy]")];
        let mut files = pack.files.clone();
        files.files.insert("generate.toml".into(), format!("{kept}\n{messy}").into_bytes());
        Messy::of(&StandardPack::compile(files).expect("compiles"))
    }

    #[test]
    fn the_census_profile_is_read_and_its_wrong_codes_are_no_codes_of_their_elements() {
        let messy = Messy::of(&census()).expect("the census [messy]").expect("present");
        assert_eq!(messy.names().len(), 12, "every kind of mistake is in the mix");
        assert_eq!(messy.ids, ["LAchildID"]);
        // The pack's wrong codes passed the check that refuses a real code; so does this one's.
        let unknown = "[messy]\nper_child = [[1, 1]]\nblanks = [[\"pair\", 1]]\n\
                       mistakes = [{ kind = \"unknown-code\", weight = 1, codes = { Sex = [\"X\"] } }]\n";
        assert!(with_messy(unknown).expect("X is no sex code").is_some());
    }

    #[test]
    fn bad_mistakes_are_refused_naming_the_entry() {
        let head = "[messy]\nper_child = [[1, 1]]\nblanks = [[\"pair\", 1]]\n";
        let cases = [
            ("mistakes = [{ kind = \"blank-required\", weight = 1, elements = [\"Gender\"] }]",
             "mistake 1 (blank-required): `Gender` is not an element of the pack's schema"),
            ("mistakes = [{ kind = \"day-first-date\", weight = 1, elements = [\"Sex\"] }]",
             "mistake 1 (day-first-date): `Sex` is not a date in the pack's schema"),
            ("mistakes = [{ kind = \"mistyped-code\", weight = 1, elements = [\"UPN\"] }]",
             "mistake 1 (mistyped-code): `UPN` has no code list in the pack's schema"),
            ("mistakes = [{ kind = \"unknown-code\", weight = 1, codes = { Sex = [\"M\"] } }]",
             "mistake 1 (unknown-code): `M` is a code of"),
            ("mistakes = [{ kind = \"old-code\", weight = 1, codes = {} }]", "mistake 1 (old-code): `codes` is empty"),
            ("mistakes = [{ kind = \"lowercase-code\", weight = 1, elements = [] }]",
             "mistake 1 (lowercase-code): `elements` is empty"),
            ("mistakes = [{ kind = \"blank-optional\", weight = 0, elements = [\"UPN\"] }]",
             "mistake 1 (blank-optional): give it a weight of at least 1"),
            ("mistakes = [{ kind = \"blank-optional\", weight = 1, codes = { Sex = [\"X\"] } }]",
             "a `blank-optional` mistake takes `elements`; this one gives `codes`"),
            ("mistakes = [{ kind = \"typo\", weight = 1 }]", "mistake 1 (typo): `typo` is no kind of mistake"),
            ("mistakes = [{ kind = \"missing-module\", weight = 1, modules = [[\"Reviews\", 0]] }]",
             "`modules`: give `Reviews` a weight of at least 1"),
            ("mistakes = [{ kind = \"empty-optional\", weight = 1, places = [{ element = \"UPN\" }] }]",
             "`UPN`: give one of `after` and `last_in`"),
            ("mistakes = [{ kind = \"overlapping-episodes\", weight = 1, episode = \"Episode\", start = \"CINreferralDate\", end = \"CINclosureDate\" }]",
             "`Episode` is not an element of the pack's schema"),
            ("mistakes = []", "[messy] mistakes: the list is empty"),
            ("mistakes = [{ kind = \"repeated-child-id\", weight = 4294967295, element = \"LAchildID\" }, \
              { kind = \"repeated-child-id\", weight = 1, element = \"LAchildID\" }]",
             "[messy] mistakes: the weights add up to more than 4294967295"),
        ];
        for (mistakes, expected) in cases {
            let error = format!("{:#}", with_messy(&format!("{head}{mistakes}\n")).expect_err(mistakes));
            assert!(error.contains(expected), "{mistakes}\n{error}");
        }
        let ok = "mistakes = [{ kind = \"repeated-child-id\", weight = 1, element = \"LAchildID\" }]\n";
        for (profile, expected) in [
            ("[messy]\nper_child = []\nblanks = [[\"pair\", 1]]\n", "[messy] per_child: the list is empty"),
            ("[messy]\nper_child = [[1, 0]]\nblanks = [[\"pair\", 1]]\n", "per_child: give `1` a weight of at least 1"),
            (
                "[messy]\nper_child = [[1000, 1]]\nblanks = [[\"pair\", 1]]\n",
                "1000 mistakes in a child is more than 100",
            ),
            ("[messy]\nper_child = [[1, 1]]\nblanks = [[\"dots\", 1]]\n", "[messy]"),
        ] {
            let error = format!("{:#}", with_messy(&format!("{profile}{ok}")).expect_err(profile));
            assert!(error.contains(expected), "{profile}\n{error}");
        }
    }

    #[test]
    fn every_mistake_is_made_somewhere_in_a_few_hundred_children() {
        let pack = census();
        let mut out = Vec::new();
        let summary = super::super::write_return_with(&pack, 300, 3, 0.0, super::super::Profile::Messy, &mut out)
            .expect("a messy return");
        let names = Messy::of(&pack).expect("[messy]").expect("present").names();
        let made: HashSet<&str> = summary.mistakes.keys().copied().collect();
        assert_eq!(made, names, "{:?}", summary.mistakes);
        let total: usize = summary.mistakes.values().sum();
        assert!((1.5..2.0).contains(&(total as f64 / 300.0)), "{total} mistakes in 300 children");
    }
}
