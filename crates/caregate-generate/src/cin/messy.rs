//! The messy profile: a census return as a council's first submission of the year looks, straight out of its
//! case-management system's extract. Each child is written as the clean generator makes it and then given the
//! mistakes of [`MISTAKES`], drawn by seed — how many from [`MISTAKES_PER_CHILD`], which by their weights:
//! blank elements, dates outside the census year or written day first, codes that no code list has, mistyped,
//! in lowercase or from an earlier year's code set, a child id repeated, overlapping episodes and missing
//! modules. Most children carry one or two mistakes, some several, some none.
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

use chrono::{Datelike, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{days, weighted};
use caregate_engine::standard::codelists::CodeLists;

/// A kind of mistake, with the elements it is made in.
#[derive(Debug, Clone, Copy)]
enum Mistake {
    /// A required value left out while its element is still sent: `<X></X>`, `<X/>` or only spaces.
    BlankRequired(&'static [&'static str]),
    /// An optional value left out the same way: the element is sent, empty.
    BlankOptional(&'static [&'static str]),
    /// An optional element the child has no value for, sent empty in its place.
    EmptyOptional(&'static [(&'static str, Place)]),
    /// A date of the census year moved out of it: past the reference date, or its year typed one off.
    DateOutsideYear(&'static [&'static str]),
    /// A date written day first, `dd/mm/yyyy`.
    DayFirstDate(&'static [&'static str]),
    /// A value that is no code at all.
    UnknownCode(&'static [(&'static str, &'static [&'static str])]),
    /// A code mistyped: two neighbouring characters swapped, or one doubled; never another real code.
    MistypedCode(&'static [&'static str]),
    /// A code sent in lowercase.
    LowercaseCode(&'static [&'static str]),
    /// A code of an earlier year's code set.
    OldCode(&'static [(&'static str, &'static [&'static str])]),
    /// The LAchildID of the child before: one child keyed twice, or two children given one id.
    RepeatedChildId,
    /// An episode closed after the next one's referral, or a child's only episode sent twice.
    OverlappingEpisodes,
    /// A module left out, by weight: an episode without its assessment, a plan without its reviews, …
    MissingModule(&'static [(&'static str, u32)]),
}

/// Where an optional element goes when it is sent empty.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// Right after this element.
    After(&'static str),
    /// Last in this element.
    LastIn(&'static str),
}

/// How many mistakes a child carries (weights). About 1.7 a child, so that a return shows about two findings a
/// child once a field that both the structure and a rule fault is reported once, by the rule.
const MISTAKES_PER_CHILD: &[(usize, u32)] = &[(0, 18), (1, 34), (2, 26), (3, 12), (4, 6), (6, 4)];

/// The mix of mistakes (weights).
const MISTAKES: &[(Mistake, u32)] = &[
    (Mistake::BlankRequired(REQUIRED), 12),
    (Mistake::BlankOptional(OPTIONAL), 8),
    (Mistake::EmptyOptional(EMPTY_OPTIONAL), 10),
    (Mistake::DateOutsideYear(DATES_OF_THE_YEAR), 10),
    (Mistake::DayFirstDate(DATES), 8),
    (Mistake::UnknownCode(UNKNOWN_CODES), 9),
    (Mistake::MistypedCode(CODED), 6),
    (Mistake::LowercaseCode(CODED), 6),
    (Mistake::OldCode(OLD_CODES), 5),
    (Mistake::RepeatedChildId, 2),
    (Mistake::OverlappingEpisodes, 5),
    (Mistake::MissingModule(MODULES), 7),
];

/// Elements a return must give a value (by the schema, or by the rules for every child or episode).
const REQUIRED: &[&str] = &[
    "Sex",
    "PersonBirthDate",
    "Ethnicity",
    "Disability",
    "CINreferralDate",
    "ReferralSource",
    "PrimaryNeedCode",
    "ReferralNFA",
    "AssessmentActualStartDate",
    "CINPlanStartDate",
    "S47ActualStartDate",
    "ICPCnotRequired",
    "CPPstartDate",
    "InitialCategoryOfAbuse",
    "LatestCategoryOfAbuse",
    "NumberOfPreviousCPP",
];

/// Elements a child has only when there is something to say.
const OPTIONAL: &[&str] = &[
    "UPN",
    "FormerUPN",
    "UPNunknown",
    "PersonDeathDate",
    "CINclosureDate",
    "ReasonForClosure",
    "DateOfInitialCPC",
    "AssessmentInternalReviewDate",
    "AssessmentAuthorisationDate",
    "AssessmentFactors",
    "CINPlanEndDate",
    "InitialCPCtarget",
    "CPPendDate",
    "CPPreviewDate",
];

/// Optional elements an extract writes empty when it has no value, each where the schema's order puts it.
const EMPTY_OPTIONAL: &[(&str, Place)] = &[
    ("FormerUPN", Place::After("UPN")),
    ("ExpectedPersonBirthDate", Place::After("PersonBirthDate")),
    ("PersonDeathDate", Place::LastIn("ChildIdentifiers")),
    ("CINclosureDate", Place::After("PrimaryNeedCode")),
    ("ReasonForClosure", Place::After("CINclosureDate")),
    ("AssessmentInternalReviewDate", Place::After("AssessmentActualStartDate")),
    ("CINPlanEndDate", Place::After("CINPlanStartDate")),
    ("CPPendDate", Place::After("CPPstartDate")),
];

/// Every date of a child.
const DATES: &[&str] = &[
    "PersonBirthDate",
    "ExpectedPersonBirthDate",
    "PersonDeathDate",
    "CINreferralDate",
    "CINclosureDate",
    "DateOfInitialCPC",
    "AssessmentActualStartDate",
    "AssessmentInternalReviewDate",
    "AssessmentAuthorisationDate",
    "CINPlanStartDate",
    "CINPlanEndDate",
    "S47ActualStartDate",
    "InitialCPCtarget",
    "CPPstartDate",
    "CPPendDate",
    "CPPreviewDate",
];

/// Dates of events that happen within the census year when they are in the return at all.
const DATES_OF_THE_YEAR: &[&str] = &[
    "CINreferralDate",
    "CINclosureDate",
    "DateOfInitialCPC",
    "AssessmentAuthorisationDate",
    "CINPlanEndDate",
    "CPPendDate",
    "PersonDeathDate",
];

/// Coded elements.
const CODED: &[&str] = &[
    "Sex",
    "UPNunknown",
    "Ethnicity",
    "Disability",
    "ReferralSource",
    "PrimaryNeedCode",
    "ReasonForClosure",
    "AssessmentFactors",
    "InitialCategoryOfAbuse",
    "LatestCategoryOfAbuse",
    "ReferralNFA",
    "ICPCnotRequired",
];

/// Values that are in no code list: local codes, labels, codes of other collections.
const UNKNOWN_CODES: &[(&str, &[&str])] = &[
    ("Sex", &["X", "Male", "Female", "N"]),
    ("UPNunknown", &["UN8", "UN0", "UNK"]),
    ("Ethnicity", &["WHIT", "ASIA", "BLAC", "MIXD", "OTHR"]),
    ("Disability", &["DEAF", "ADHD", "BLND", "SEMH"]),
    ("ReferralSource", &["11", "0", "99", "6A"]),
    ("PrimaryNeedCode", &["N10", "N11", "NA", "N"]),
    ("ReasonForClosure", &["RC10", "RC0", "RC11", "CLSD"]),
    ("AssessmentFactors", &["21A", "25A", "2D", "9B"]),
    ("InitialCategoryOfAbuse", &["NEGL", "PHYS", "EMOT", "SEXU"]),
    ("LatestCategoryOfAbuse", &["NEGL", "PHYS", "EMOT", "SEXU"]),
    ("ReferralNFA", &["Y", "N", "Yes", "No"]),
    ("ICPCnotRequired", &["Y", "N", "Yes", "No"]),
];

/// Codes of earlier years' code sets: the GenderCurrent codes that Sex replaced in 2025-26, and assessment
/// factors no longer to be used.
const OLD_CODES: &[(&str, &[&str])] = &[("Sex", &["1", "2", "0", "9"]), ("AssessmentFactors", &["18A", "19A"])];

/// Modules an extract leaves out (weights).
const MODULES: &[(&str, u32)] = &[
    ("Assessments", 6),
    ("FactorsIdentifiedAtAssessment", 2),
    ("Section47", 2),
    ("Disabilities", 2),
    ("Reviews", 1),
    ("CINdetails", 1),
];

/// How an empty element is spelt (weights).
const BLANKS: &[(Blank, u32)] = &[(Blank::Pair, 5), (Blank::SelfClosing, 3), (Blank::Spaces, 2)];

#[derive(Debug, Clone, Copy)]
enum Blank {
    /// `<X></X>`
    Pair,
    /// `<X/>`
    SelfClosing,
    /// `<X>  </X>`
    Spaces,
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
            Mistake::RepeatedChildId => "repeated child id",
            Mistake::OverlappingEpisodes => "overlapping episodes",
            Mistake::MissingModule(_) => "missing module",
        }
    }
}

/// The mistakes of one messy return, made child by child.
pub(super) struct Mess {
    rng: ChaCha8Rng,
    /// The census year, first and last day.
    start: NaiveDate,
    end: NaiveDate,
    /// Every code of the standard's code lists: a mistyped code must not be another real one.
    codes: HashSet<String>,
    /// The LAchildID of the child written before, as sent.
    previous_id: Option<String>,
}

impl Mess {
    pub(super) fn new(seed: u64, start: NaiveDate, end: NaiveDate, codelists: &CodeLists) -> Mess {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Stream 0 makes the children; the mistakes have a stream of their own.
        rng.set_stream(1);
        let codes = codelists.values().flat_map(|list| list.codes.iter().map(|c| c.code.clone())).collect();
        Mess { rng, start, end, codes, previous_id: None }
    }

    /// Gives the child written at `buf[from..]` its mistakes, counting each kind made in `made`.
    pub(super) fn spoil(&mut self, buf: &mut String, from: usize, made: &mut BTreeMap<&'static str, usize>) {
        let count = weighted(&mut self.rng, MISTAKES_PER_CHILD).copied().unwrap_or(0);
        for _ in 0..count {
            // A child may have nothing a mistake needs (no plan to leave a review out of): draw again.
            for _ in 0..8 {
                let Some(&mistake) = weighted(&mut self.rng, MISTAKES) else {
                    break;
                };
                if self.make(mistake, buf, from) {
                    *made.entry(mistake.name()).or_default() += 1;
                    break;
                }
            }
        }
        let lines = lines(buf, from);
        self.previous_id = leaves(buf, &lines, &["LAchildID"]).first().map(|&i| buf[lines[i].value()].to_string());
    }

    /// Makes `mistake` in the child at `buf[from..]`; false when the child has nothing to make it in.
    fn make(&mut self, mistake: Mistake, buf: &mut String, from: usize) -> bool {
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
                for &(name, place) in places {
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
                let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
                let Some(i) = self.choose(leaves(buf, &lines, &names)) else {
                    return false;
                };
                let name = &buf[lines[i].name.clone()];
                let Some((_, values)) = table.iter().find(|(n, _)| *n == name) else {
                    return false;
                };
                let current = &buf[lines[i].value()];
                let others: Vec<&str> = values.iter().copied().filter(|v| *v != current).collect();
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
            Mistake::RepeatedChildId => {
                let Some(previous) = self.previous_id.clone().filter(|id| !id.trim().is_empty()) else {
                    return false;
                };
                let Some(&i) = leaves(buf, &lines, &["LAchildID"]).first() else {
                    return false;
                };
                buf.replace_range(lines[i].value(), &previous);
            }
            Mistake::OverlappingEpisodes => return self.overlap(buf, &lines),
            Mistake::MissingModule(modules) => {
                let Some(&name) = weighted(&mut self.rng, modules) else {
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
    fn overlap(&mut self, buf: &mut String, lines: &[Line]) -> bool {
        let episodes = blocks(buf, lines, "CINdetails");
        let date_in = |block: &Range<usize>, name: &str| {
            let i = leaves(buf, lines, &[name]).into_iter().find(|&i| block.contains(&lines[i].span.start))?;
            Some((lines[i].value(), parse_date(&buf[lines[i].value()])?))
        };
        let pairs: Vec<(Range<usize>, NaiveDate)> = episodes
            .windows(2)
            .filter_map(|pair| Some((date_in(&pair[0], "CINclosureDate")?.0, date_in(&pair[1], "CINreferralDate")?.1)))
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
        match weighted(&mut self.rng, BLANKS).copied().unwrap_or(Blank::Pair) {
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
fn leaves(buf: &str, lines: &[Line], names: &[&str]) -> Vec<usize> {
    (0..lines.len())
        .filter(|&i| {
            let line = &lines[i];
            !buf[line.value()].trim().is_empty() && names.contains(&&buf[line.name.clone()])
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
fn slots_for(buf: &str, lines: &[Line], name: &str, place: Place) -> Vec<(usize, usize)> {
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
        let after = slots_for(CHILD, &lines, "CINclosureDate", Place::After("PrimaryNeedCode"));
        assert_eq!(after.len(), 1);
        assert!(CHILD[after[0].0..].starts_with("        <ReferralNFA>"));
        let last = slots_for(CHILD, &lines, "PersonDeathDate", Place::LastIn("ChildIdentifiers"));
        assert!(CHILD[last[0].0..].starts_with("      </ChildIdentifiers>"));
        assert_eq!(last[0].1, 8);
        assert!(slots_for(CHILD, &lines, "Sex", Place::LastIn("ChildIdentifiers")).is_empty(), "Sex is there");
    }

    #[test]
    fn typos_swap_or_double_and_never_return_the_code() {
        assert_eq!(typos("RC8"), ["CR8", "RRC8", "R8C", "RCC8", "RC88"]);
        assert_eq!(typos("M"), ["MM"]);
        assert!(!typos("WBRI").contains(&"WBRI".to_string()));
    }

    /// The code list of each coded element, by the schema's `x-codelist`.
    fn codelist_names(node: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        if let Some(properties) = node.get("properties").and_then(|p| p.as_object()) {
            for (name, property) in properties {
                // A wrapped list's items are elements of their own name: Disabilities/Disability.
                let (name, property) = match property.get("items") {
                    Some(items) => (items.pointer("/xml/name").and_then(|n| n.as_str()).unwrap_or(name), items),
                    None => (name.as_str(), property),
                };
                if let Some(list) = property.get("x-codelist").and_then(|l| l.as_str()) {
                    out.insert(name.to_string(), list.to_string());
                }
            }
        }
        for child in node.as_object().into_iter().flat_map(|o| o.values()) {
            codelist_names(child, out);
        }
    }

    #[test]
    fn unknown_and_old_codes_are_not_codes_of_their_elements() {
        let catalog = caregate_engine::standard::Catalog::embedded().expect("embedded packs");
        let pack = catalog.find("cin-census@2025-26").expect("the census pack");
        let mut lists = BTreeMap::new();
        codelist_names(&pack.schema, &mut lists);
        for (name, values) in UNKNOWN_CODES.iter().chain(OLD_CODES) {
            let list = lists.get(*name).and_then(|l| pack.codelists.get(l)).expect("a coded element");
            for value in *values {
                assert!(!list.contains(value), "{name}: {value} is a code of {}", list.title);
            }
        }
        for name in CODED {
            assert!(lists.contains_key(*name), "{name} has no code list");
        }
    }

    #[test]
    fn every_mistake_is_made_somewhere_in_a_few_hundred_children() {
        let catalog = caregate_engine::standard::Catalog::embedded().expect("embedded packs");
        let pack = catalog.find("cin-census@2025-26").expect("the census pack");
        let mut out = Vec::new();
        let summary = super::super::write_return_with(&pack, 300, 3, 0.0, super::super::Profile::Messy, &mut out)
            .expect("a messy return");
        let names: HashSet<&str> = MISTAKES.iter().map(|(m, _)| m.name()).collect();
        let made: HashSet<&str> = summary.mistakes.keys().copied().collect();
        assert_eq!(made, names, "{:?}", summary.mistakes);
        let total: usize = summary.mistakes.values().sum();
        assert!((1.5..2.0).contains(&(total as f64 / 300.0)), "{total} mistakes in 300 children");
    }
}
