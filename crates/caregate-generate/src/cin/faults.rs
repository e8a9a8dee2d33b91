//! The census generator's deliberate faults: for each rule, the child it needs (`want`) and how that child is
//! made to break it.

use super::*;

impl CinGenerator<'_> {
    pub(super) fn want(&mut self, rule: &str) -> Want {
        let s = self.start;
        let e = self.end;
        let w = Want::default();
        let in_year = Some(days(s, 20));
        match rule {
            "1103" | "4015" => Want {
                kind: Some(Kind::CinPlan),
                referral_from: in_year,
                referral_to: Some(days(e, -150)),
                open: Some(false),
                ..w
            },
            "1104" => {
                Want { kind: Some(Kind::S47NotRequired), referral_from: in_year, referral_to: Some(days(e, -150)), ..w }
            }
            "1105" | "2885" | "2884" | "8615" | "8875" | "8870Q" | "8905" | "8910" | "8730" | "8832" => {
                Want { kind: Some(Kind::Cpp), referral_from: in_year, referral_to: Some(days(e, -120)), ..w }
            }
            "2883" => Want { kind: Some(Kind::Cpp), referral_to: Some(days(e, -120)), ..w },
            "1510" | "1520" | "1530" | "1540" | "1550" | "1560Q" => {
                Want { age: Some((8, 15)), unborn: Some(false), ..w }
            }
            "8770Q" => Want { age: Some((8, 15)), unborn: Some(false), kind: Some(Kind::CinPlan), ..w },
            "2889" | "8868" => Want {
                kind: Some(Kind::S47NotRequired),
                referral_from: in_year,
                referral_to: Some(days(e, -150)),
                open: Some(false),
                ..w
            },
            "2991Q" => Want { kind: Some(Kind::S47NotRequired), ..w },
            "8675Q" | "8715" | "8740" => Want {
                kind: Some(Kind::S47NotRequired),
                referral_from: in_year,
                referral_to: Some(days(e, -150)),
                open: Some(true),
                ..w
            },
            "2990" | "8873Q" => Want {
                kind: Some(Kind::AssessmentClosed),
                referral_from: in_year,
                referral_to: Some(days(e, -120)),
                open: Some(false),
                ..w
            },
            "8831" => Want { kind: Some(Kind::AssessmentClosed), referral_from: in_year, open: Some(false), ..w },
            "4000" | "8825Q" | "8630" => Want {
                kind: Some(Kind::Nfa),
                referral_from: in_year,
                referral_to: Some(days(e, -20)),
                open: Some(false),
                ..w
            },
            "8569Q" => Want { kind: Some(Kind::Nfa), referral_from: Some(days(s, 5)), open: Some(false), ..w },
            "8600" => Want { kind: Some(Kind::Nfa), open: Some(true), ..w },
            "8555Q" => Want {
                kind: Some(Kind::Nfa),
                referral_from: Some(days(s, 30)),
                open: Some(false),
                age: Some((3, 15)),
                unborn: Some(false),
                ..w
            },
            "4001" | "4016" | "4017" | "4003" | "8915" | "8930" | "8935" | "8720" | "8841" | "8842Q" => Want {
                kind: Some(Kind::Cpp),
                referral_from: in_year,
                referral_to: Some(days(e, -250)),
                open: Some(true),
                ..w
            },
            "8840" | "8920" | "8925" | "8940" => Want {
                kind: Some(Kind::Cpp),
                referral_from: in_year,
                referral_to: Some(days(e, -250)),
                open: Some(false),
                ..w
            },
            "4004" | "4008" | "4010" | "4013" => Want {
                kind: Some(Kind::CinPlan),
                referral_from: in_year,
                referral_to: Some(days(e, -150)),
                open: Some(true),
                ..w
            },
            "4009Q" | "4011" | "4012Q" | "4014" | "8565" | "8620" | "8805" | "8810" => Want {
                kind: Some(Kind::CinPlan),
                referral_from: in_year,
                referral_to: Some(days(e, -150)),
                open: Some(false),
                episodes: Some(1),
                ..w
            },
            "8520" => Want { referral_from: Some(date(s.year(), 7, 15)), unborn: Some(false), age: Some((0, 0)), ..w },
            "8530Q" => Want {
                unborn: Some(true),
                referral_from: Some(date(s.year(), 7, 1)),
                referral_to: Some(date(s.year(), 12, 1)),
                ..w
            },
            "8606" => Want {
                unborn: Some(true),
                referral_from: Some(date(s.year(), 6, 1)),
                referral_to: Some(date(e.year(), 2, 1)),
                ..w
            },
            "8535Q" => Want {
                unborn: Some(false),
                age: Some((0, 0)),
                kind: Some(Kind::AssessmentClosed),
                open: Some(false),
                ..w
            },
            "8545Q" | "8585Q" => Want { unborn: Some(false), kind: Some(Kind::CinPlan), open: Some(false), ..w },
            "8750" => Want { unborn: Some(true), ..w },
            "8772" => Want { unborn: Some(false), age: Some((1, 3)), kind: Some(Kind::CinPlan), ..w },
            "8540" | "8790" | "8794" => Want { unborn: Some(false), kind: Some(Kind::CinPlan), ..w },
            "8608" | "8897Q" | "8898" | "8869" | "8945Q" | "8950Q" => {
                Want { kind: Some(Kind::CinPlan), referral_from: in_year, ..w }
            }
            "8610" | "8640" | "8650" | "8866" => Want { kind: Some(Kind::AssessmentClosed), open: Some(false), ..w },
            "8670Q" | "8736" => Want {
                kind: Some(Kind::AssessmentOpen),
                referral_from: Some(days(e, -200)),
                referral_to: Some(days(e, -160)),
                open: Some(true),
                ..w
            },
            "8896" | "8863Q" => Want {
                kind: Some(Kind::AssessmentOpen),
                referral_from: Some(days(e, -40)),
                referral_to: Some(days(e, -35)),
                open: Some(true),
                ..w
            },
            "8696" | "8614" => {
                Want { kind: Some(Kind::AssessmentOpen), referral_from: Some(days(e, -40)), open: Some(true), ..w }
            }
            "8815" => Want { episodes: Some(2), unborn: Some(false), age: Some((3, 15)), open: Some(true), ..w },
            "8816" => Want { episodes: Some(2), unborn: Some(false), age: Some((3, 15)), open: Some(false), ..w },
            "8820" => Want { episodes: Some(2), unborn: Some(false), age: Some((3, 15)), ..w },
            "8839" => Want {
                kind: Some(Kind::S47NotRequired),
                referral_from: Some(days(e, -16)),
                referral_to: Some(days(e, -14)),
                open: Some(true),
                ..w
            },
            "8890" => Want {
                kind: Some(Kind::S47NotRequired),
                referral_from: Some(days(e, -60)),
                referral_to: Some(days(e, -45)),
                open: Some(true),
                ..w
            },
            "8867" => Want { kind: Some(Kind::AssessmentClosed), open: Some(false), ..w },
            "8775Q" => Want { unborn: Some(false), age: Some((26, 30)), ..w },
            _ => w,
        }
    }

    /// Breaks `rule` in `child`; false when this child cannot carry it.
    pub(super) fn apply(&mut self, rule: &str, child: &mut Child, index: usize) -> bool {
        let s = self.start;
        let end = self.end;
        let first_upn = self.first_upn.clone();
        let first_id = self.first_id.clone();
        let saturday_before = |d: NaiveDate| {
            let mut day = days(d, -1);
            while day.weekday() != Weekday::Sat {
                day = days(day, -1);
            }
            day
        };
        let Some(e) = child.episodes.last_mut() else { return false };
        let referral = e.referral;
        match rule {
            "1103" => match e.assessments.first_mut() {
                Some(a) => a.start = days(referral, -5),
                None => return false,
            },
            "1104" => {
                // A conference dated before the referral (its enquiry, by its nature, then starts after it: 8615).
                let mut day = days(referral, -1);
                while is_weekend(day) {
                    day = days(day, -1);
                }
                match e.s47.first_mut() {
                    Some(s47) => {
                        s47.not_required = "false";
                        s47.icpc = Some(day);
                    }
                    None => return false,
                }
            }
            "1105" => match e.cpps.first_mut() {
                Some(p) => p.start = days(referral, -7),
                None => return false,
            },
            "1510" | "1530" | "1540" | "1550" => {
                let Some(upn) = child.upn.clone() else { return false };
                let mut chars: Vec<char> = upn.chars().collect();
                match rule {
                    "1510" => chars[0] = if chars[0] == 'A' { 'B' } else { 'A' },
                    "1530" => {
                        let body: String = format!("000{}", &upn[4..]);
                        let letter = caregate_engine::expr::upn_check_letter(body.as_bytes()).map_or('A', char::from);
                        chars = format!("{letter}{body}").chars().collect();
                    }
                    "1540" => chars[7] = 'X',
                    _ => chars[12] = 'I',
                }
                child.upn = Some(chars.into_iter().collect());
            }
            "1520" => match (first_upn, index) {
                (Some(upn), i) if i > 0 => child.upn = Some(upn),
                _ => return false,
            },
            "1560Q" => child.former_upn = Some("A12345678901".into()),
            "1570" => child.id = Some(format!("{}{:021}", child.id.as_deref().unwrap_or("C"), index)),
            "1580" => child.id = Some(format!("{}/{}", child.id.as_deref().unwrap_or("C"), index)),
            "2883" => {
                if !drop_conferences(child) {
                    return false;
                }
                self.missing_icpc_run += 8;
            }
            "2884" => match e.s47.first().and_then(|s| s.icpc) {
                Some(d) => e.icpc = Some(d),
                None => return false,
            },
            "2885" => match e.cpps.first_mut() {
                Some(p) => p.start = self.add_wd(p.start, 1),
                None => return false,
            },
            "2886Q" => {
                child.sex = Some("U");
                if !self.unknown_sex_given {
                    self.unknown_sex_given = true;
                    self.unknown_sex_run = (self.count / 40).max(1);
                }
            }
            "2889" => match e.s47.first_mut() {
                Some(s47) => s47.start = days(referral, -3),
                None => return false,
            },
            "2990" => {
                let Some(auth) = e.assessments.first().and_then(|a| a.auth) else { return false };
                let closure = days(auth, 30).min(end);
                e.closure = Some(closure);
                e.plans.push(Plan { start: days(auth, 1), end: Some(closure) });
            }
            "2991Q" => e.assessments.clear(),
            "4000" => {
                let closure = days(referral, 5);
                e.closure = Some(closure);
                e.plans.push(Plan { start: referral, end: Some(closure) });
            }
            "4001" | "4016" | "4017" | "4003" => {
                if rule == "4001" {
                    e.plans.clear();
                    if let Some(p) = e.cpps.first_mut() {
                        p.end = None;
                    }
                }
                let Some(p) = e.cpps.first() else { return false };
                let plan = match rule {
                    "4001" => Plan { start: days(p.start, 10), end: None },
                    "4016" => Plan { start: days(p.start, 1), end: Some(days(p.start, 5)) },
                    "4017" => Plan { start: days(p.start, -20).max(referral), end: Some(days(p.start, 5)) },
                    _ => match p.reviews.first().copied().flatten() {
                        Some(r) => Plan { start: days(r, -3), end: Some(days(r, 3)) },
                        None => return false,
                    },
                };
                e.plans.push(plan);
            }
            "4004" => match e.plans.first_mut() {
                Some(p) => {
                    p.end = None;
                    let start = days(p.start, 20);
                    e.plans.push(Plan { start, end: None });
                }
                None => return false,
            },
            "4008" => match e.plans.first() {
                Some(p) if p.start > days(referral, 2) => child.death = Some(days(p.start, -1)),
                _ => return false,
            },
            "4009Q" => match e.plans.first().and_then(|p| p.end.map(|end| (p.start, end))) {
                Some((start, plan_end)) if plan_end > days(start, 2) => child.death = Some(days(plan_end, -1)),
                _ => return false,
            },
            "4010" => match e.plans.first_mut() {
                Some(p) => {
                    p.start = days(end, 10);
                    p.end = None;
                }
                None => return false,
            },
            "4011" => match e.plans.first_mut() {
                Some(p) => p.end = Some(days(p.start, -5)),
                None => return false,
            },
            "4012Q" => match e.plans.first_mut() {
                Some(p) => p.end = Some(p.start),
                None => return false,
            },
            "4013" => match e.plans.first_mut() {
                Some(p) => p.end = Some(days(end, 20)),
                None => return false,
            },
            "4014" => match e.plans.first().and_then(|p| p.end.map(|end| (p.start, end))) {
                Some((start, plan_end)) if (plan_end - start).num_days() > 20 => {
                    e.plans.push(Plan { start: days(plan_end, -10), end: Some(plan_end) });
                }
                _ => return false,
            },
            "4015" => match e.plans.first_mut() {
                Some(p) => p.start = days(referral, -5),
                None => return false,
            },
            "4180" => child.sex = if index % 2 == 0 { Some("1") } else { None },
            "4220" => child.ethnicity = if index % 2 == 0 { Some("WHIT") } else { None },
            "8500" => child.id = None,
            "8510" => match (first_id, index) {
                (Some(id), i) if i > 0 => child.id = Some(id),
                _ => return false,
            },
            "8520" => {
                child.birth = Some(days(end, 5));
                child.upn = None;
                child.former_upn = None;
                child.upn_unknown = Some("UN1");
            }
            "8525Q" => {
                if index % 2 == 0 {
                    child.expected = child.birth;
                } else {
                    child.birth = None;
                    child.expected = None;
                }
            }
            "8530Q" => child.expected = Some(date(end.year(), 2, 10)),
            "8535Q" => match child.birth {
                Some(b) => child.death = Some(days(b, -10)),
                None => return false,
            },
            "8540" => child.disabilities = if index % 2 == 0 { Some(vec!["DEAF"]) } else { None },
            "8545Q" => child.death = Some(days(end, 15)),
            "8555Q" => child.death = Some(days(referral, -5)),
            "8565" => {
                let Some(plan_end) = e.plans.first().and_then(|p| p.end) else { return false };
                match e.closure {
                    Some(_) => e.closure = Some(days(plan_end, -5)),
                    None => return false,
                }
            }
            "8568" => e.nfa = if index % 2 == 0 { Some("Y") } else { None },
            "8569Q" => e.referral = days(s, -20),
            "8585Q" => match e.closure {
                Some(_) => e.reason = Some("RC2"),
                None => return false,
            },
            "8590" => child.episodes.clear(),
            "8600" => {
                e.referral = days(end, 3);
                e.closure = None;
                e.reason = None;
            }
            "8606" => match child.expected {
                Some(_) => child.expected = Some(days(referral, 300)),
                None => return false,
            },
            "8608" => match e.assessments.first_mut() {
                Some(a) if a.auth.is_some() => a.auth = Some(days(a.start, -3)),
                _ => return false,
            },
            "8610" => e.need = None,
            "8614" => match e.assessments.first_mut() {
                Some(a) if a.auth.is_none() => a.factors = Some(vec!["3A"]),
                _ => return false,
            },
            "8615" => match e.s47.first_mut() {
                Some(s47) if s47.icpc.is_some() => s47.start = days(s47.icpc.unwrap_or(s47.start), 2),
                _ => return false,
            },
            "8620" => match e.closure {
                Some(_) => e.closure = Some(days(end, 10)),
                None => return false,
            },
            "8630" => match e.closure {
                Some(_) => e.closure = Some(days(referral, -2)),
                None => return false,
            },
            "8640" => match e.closure {
                Some(_) => e.reason = Some("RC10"),
                None => return false,
            },
            "8650" => e.need = Some("N10"),
            "8670Q" => match e.assessments.first_mut() {
                Some(a) if a.auth.is_none() => a.start = days(end, -100).max(referral),
                _ => return false,
            },
            "8675Q" => match e.s47.first_mut() {
                Some(s47) => s47.not_required = "false",
                None => return false,
            },
            "8696" => match e.assessments.first_mut() {
                Some(a) => {
                    a.auth = Some(days(end, 5));
                    a.factors = Some(vec!["4B"]);
                }
                None => return false,
            },
            "8715" => match e.s47.first_mut() {
                Some(s47) => {
                    s47.not_required = "false";
                    s47.icpc = Some(self.add_wd(end, 3));
                }
                None => return false,
            },
            "8720" => match e.cpps.first_mut() {
                Some(p) => {
                    p.start = days(end, 5);
                    p.end = None;
                    p.reviews.clear();
                }
                None => return false,
            },
            "8730" => match e.cpps.first_mut() {
                Some(p) => p.previous = None,
                None => return false,
            },
            "8736" => match e.assessments.first_mut() {
                Some(a) if a.auth.is_none() => a.start = days(end, 5),
                _ => return false,
            },
            "8740" => match e.s47.first_mut() {
                Some(s47) => {
                    s47.not_required = "false";
                    s47.start = days(end, 3);
                    s47.target = Some(self.add_wd(s47.start, 15));
                }
                None => return false,
            },
            "8750" => child.sex = Some(if index % 2 == 0 { "F" } else { "M" }),
            "8770Q" => {
                if child.upn.take().is_none() {
                    return false;
                }
                child.former_upn = None;
                child.upn_unknown = if index % 2 == 0 { Some("UN1") } else { None };
            }
            "8772" => {
                child.upn = None;
                child.upn_unknown = Some("UN7");
            }
            "8775Q" => {}
            "8790" => child.disabilities = Some(vec!["NONE", "AUT"]),
            "8794" => {
                child.disabilities = Some(if self.return_faults { vec!["NONE", "NONE"] } else { vec!["LD", "LD"] });
            }
            "8805" => match e.closure {
                Some(_) => e.reason = None,
                None => return false,
            },
            "8810" => match e.closure {
                Some(_) => e.closure = None,
                None => return false,
            },
            "8815" | "8816" | "8820" => {
                let n = child.episodes.len();
                if n < 2 || child.episodes.iter().any(|e| e.nfa != Some("false")) {
                    return false;
                }
                let next_referral = child.episodes[1].referral;
                let first = &mut child.episodes[0];
                match rule {
                    "8820" => first.closure = Some(days(next_referral, 5)),
                    _ => {
                        first.closure = None;
                        first.reason = None;
                    }
                }
                if rule == "8815" {
                    let last = &mut child.episodes[n - 1];
                    last.closure = None;
                    last.reason = None;
                } else if rule == "8816" && child.episodes[n - 1].closure.is_none() {
                    return false;
                }
            }
            "8825Q" => match e.closure {
                Some(_) => e.reason = Some("RC8"),
                None => return false,
            },
            "8831" => e.nfa = Some("true"),
            "8832" => e.nfa = Some("true"),
            "8839" | "8890" => {
                let Some(first) = e.s47.first_mut() else { return false };
                first.not_required = "false";
                first.icpc = None;
                let start = days(first.start, 3);
                let second = match rule {
                    "8839" => S47 { start, target: Some(self.add_wd(start, 15)), icpc: None, not_required: "false" },
                    _ => {
                        first.icpc = Some(self.add_wd(first.start, 10));
                        S47 { start, target: Some(self.add_wd(start, 15)), icpc: None, not_required: "true" }
                    }
                };
                e.s47.push(second);
            }
            "8840" => match e.cpps.first_mut() {
                Some(p) => {
                    p.end = Some(p.start);
                    p.reviews.clear();
                }
                None => return false,
            },
            "8841" => match e.cpps.first_mut() {
                Some(p) => p.reviews.insert(0, Some(p.start)),
                None => return false,
            },
            // A review group whose only date is blank: a review with a missing date. (A blank date beside
            // dated reviews is left out, as DfE reads a blank element, and breaks nothing.)
            "8842Q" => match e.cpps.first_mut() {
                Some(p) => p.reviews = vec![None],
                None => return false,
            },
            "8863Q" | "8896" => {
                let Some(a) = e.assessments.first_mut() else { return false };
                let start = days(a.start, 5);
                if rule == "8863Q" {
                    a.auth = Some(self.add_wd(a.start, 20).min(end));
                    a.factors = Some(vec!["3A", "4B"]);
                }
                e.assessments.push(Assessment { start, review: None, auth: None, factors: None });
            }
            "8866" => e.source = "11",
            "8867" => match e.assessments.first_mut() {
                Some(a) if e.closure.is_some() => {
                    a.auth = None;
                    a.factors = None;
                }
                _ => return false,
            },
            "8868" => match e.s47.first_mut() {
                Some(s47) if e.closure.is_some() => s47.not_required = "false",
                _ => return false,
            },
            "8869" => match e.assessments.first_mut() {
                Some(a) if a.auth.is_some() => a.factors = Some(vec!["21", "3A"]),
                _ => return false,
            },
            "8870Q" => match e.s47.first_mut() {
                Some(s47) => s47.target = Some(saturday_before(self.add_wd(s47.start, 15))),
                None => return false,
            },
            "8873Q" => match e.assessments.first_mut() {
                Some(a) if e.closure.is_some() => {
                    a.factors = Some(vec!["21"]);
                    e.reason = Some("RC7");
                }
                _ => return false,
            },
            "8875" => {
                let Some(icpc) = e.s47.first().and_then(|s| s.icpc) else { return false };
                let saturday = saturday_before(icpc);
                if let Some(s47) = e.s47.first_mut() {
                    s47.icpc = Some(saturday);
                }
                if let Some(p) = e.cpps.first_mut() {
                    p.start = saturday;
                }
            }
            "8897Q" => match e.assessments.first_mut() {
                Some(a) if a.auth.is_some() => a.factors = None,
                _ => return false,
            },
            "8898" => match e.assessments.first_mut() {
                Some(a) if a.auth.is_some() => a.factors = Some(vec!["3A", "4B", "3A"]),
                _ => return false,
            },
            "8945Q" | "8950Q" => match e.assessments.first_mut() {
                Some(a) if a.auth.is_some() => a.factors = Some(vec![if rule == "8945Q" { "18A" } else { "19A" }]),
                _ => return false,
            },
            "8905" => match e.cpps.first_mut() {
                Some(p) => p.initial = "NEGL",
                None => return false,
            },
            "8910" => match e.cpps.first_mut() {
                Some(p) => p.latest = "PHYS",
                None => return false,
            },
            "8915" => match e.cpps.first_mut() {
                Some(p) if p.start > days(referral, 3) => {
                    p.end = None;
                    child.death = Some(days(p.start, -1));
                    e.plans.clear();
                }
                _ => return false,
            },
            "8920" => match e.cpps.first().and_then(|p| p.end.map(|end| (p.start, end))) {
                Some((start, cpp_end)) if cpp_end > days(start, 2) => {
                    child.death = Some(days(cpp_end, -1));
                    e.plans.clear();
                }
                _ => return false,
            },
            "8925" => match e.cpps.first_mut() {
                Some(p) => p.end = Some(days(p.start, -10)),
                None => return false,
            },
            "8930" => match e.cpps.first_mut() {
                Some(p) => p.end = Some(days(end, 10)),
                None => return false,
            },
            "8935" | "8940" => {
                let Some(p) = e.cpps.first().cloned() else { return false };
                let (start, cpp_end) = match (rule, p.end) {
                    ("8935", None) => (self.working_day_from(days(p.start, 30)), None),
                    ("8940", Some(first_end)) => {
                        let start = self.working_day_from(days(first_end, -10).max(days(p.start, 20)));
                        (start, Some(days(first_end, 30).min(end).max(days(start, 1))))
                    }
                    _ => return false,
                };
                let s47_start = days(start, -7);
                e.plans.clear();
                e.s47.push(S47 {
                    start: s47_start,
                    target: Some(self.add_wd(s47_start, 15)),
                    icpc: Some(start),
                    not_required: "false",
                });
                e.cpps.push(Cpp { start, end: cpp_end, reviews: Vec::new(), ..p });
                if let (Some(closure), Some(cpp_end)) = (e.closure, cpp_end) {
                    e.closure = Some(closure.max(cpp_end));
                }
            }
            _ => return false,
        }
        true
    }
}
