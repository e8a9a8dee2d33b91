//! Tests of the language as a whole: compile, evaluate over JSON, check outcomes.

use super::*;
use serde_json::json;

fn compiler() -> Compiler {
    let hol = vec![parse_date("2025-05-05").unwrap(), parse_date("2025-05-26").unwrap()];
    Compiler::new(&["self", "root", "asOf"], hol)
}

fn record() -> Json {
    json!({
        "nhs": "9434765919",
        "badNhs": "9434765918",
        "referral": "2025-01-10",
        "dob": "2010-06-15",
        "name": "Ann O'Neill",
        "count": 3,
        "weight": 2.5,
        "nothing": null,
        "tags": ["a", "b", "c"],
        "dupes": [1, 2, 1],
        "child": {"postcode": "SW1A 1AA", "email": "x@y.org"},
        "assessments": [
            {"start": "2025-01-12", "score": 4},
            {"start": "2025-02-01T09:00:00+00:00", "score": 7},
            {"start": "2025-03-05", "score": 9}
        ]
    })
}

fn eval_with(src: &str, rec: &Json) -> Result<String, EvalError> {
    let p = compiler().compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let root = json!({"kind": "root"});
    let as_of = json!("2025-06-01");
    p.eval(&[rec, &root, &as_of]).map(|v| v.to_string())
}

fn ev(src: &str) -> String {
    eval_with(src, &record()).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn err(src: &str) -> EvalError {
    match eval_with(src, &record()) {
        Ok(v) => panic!("{src} gave {v}, expected an error"),
        Err(e) => e,
    }
}

fn check(src: &str) -> Outcome {
    let p = compiler().compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let rec = record();
    let root = json!({});
    let as_of = json!("2025-06-01");
    p.check(&[&rec, &root, &as_of])
}

fn compile_err(src: &str) -> RuleError {
    match compiler().compile(src) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => e,
    }
}

#[test]
fn literals_and_arithmetic() {
    assert_eq!(ev("1 + 2 * 3"), "7");
    assert_eq!(ev("7 / 2"), "3");
    assert_eq!(ev("7 % 4"), "3");
    assert_eq!(ev("7.0 / 2.0"), "3.5");
    assert_eq!(ev("self.weight * 2"), "5");
    assert_eq!(ev("'a\\tb' + \"c\""), "a\tbc");
    assert_eq!(ev("-self.count"), "-3");
    assert_eq!(ev("[1, 2] + [self.count]"), "[1, 2, 3]");
    assert_eq!(ev("null"), "null");
    assert_eq!(ev("3u + 4u"), "7");
    assert!(matches!(err("self.count / 0"), EvalError::DivisionByZero));
    assert!(matches!(err("9223372036854775807 + self.count"), EvalError::Overflow(_)));
    assert!(matches!(err("self.name + 1"), EvalError::Type(_)));
}

#[test]
fn comparisons() {
    assert_eq!(ev("self.count == 3"), "true");
    assert_eq!(ev("self.count == 3.0"), "true");
    assert_eq!(ev("self.count != 3"), "false");
    assert_eq!(ev("self.weight > 2"), "true");
    assert_eq!(ev("'abc' < 'abd'"), "true");
    assert_eq!(ev("self.name == null"), "false");
    assert_eq!(ev("self.nothing == null"), "true");
    assert_eq!(ev("self.name == 3"), "false");
    assert_eq!(ev("self.tags == ['a', 'b', 'c']"), "true");
}

#[test]
fn dates_compare_but_not_with_strings() {
    assert_eq!(ev("date(self.referral) < date(self.dob)"), "false");
    assert_eq!(ev("date(self.referral) == date('2025-01-10')"), "true");
    assert_eq!(ev("timestamp('2025-05-01T10:00:00+01:00') == timestamp('2025-05-01T09:00:00Z')"), "true");
    assert_eq!(ev("timestamp('2025-05-01T10:00:00+01:00') < timestamp('2025-05-01T09:30:00Z')"), "true");
    assert!(matches!(err("date(self.referral) > self.dob"), EvalError::Type(m) if m.contains("date()")));
    assert!(matches!(err("date(self.referral) == self.referral"), EvalError::Type(_)));
    assert!(matches!(err("date(self.name)"), EvalError::BadDate(_)));
    assert!(matches!(err("timestamp(self.referral)"), EvalError::BadTimestamp(_)));
    assert!(matches!(err("date(self.count)"), EvalError::Type(_)));
}

#[test]
fn short_circuit_logic() {
    // false && error = false, error && false = false, true || error = true, error || true = true
    assert_eq!(ev("false && self.missing == 1"), "false");
    assert_eq!(ev("self.missing == 1 && false"), "false");
    assert_eq!(ev("true || self.missing == 1"), "true");
    assert_eq!(ev("self.missing == 1 || true"), "true");
    assert_eq!(ev("self.count == 1 || self.count == 3"), "true");
    assert!(matches!(err("true && self.missing == 1"), EvalError::NoSuchField(f) if f == "missing"));
    assert!(matches!(err("false || self.missing == 1"), EvalError::NoSuchField(_)));
    assert!(matches!(err("self.count && true"), EvalError::Type(_)));
    assert_eq!(ev("self.count > 1 ? 'big' : self.missing"), "big");
    assert_eq!(ev("!(self.count > 1)"), "false");
    assert!(matches!(err("self.count ? 1 : 2"), EvalError::Type(_)));
}

#[test]
fn fields_indexes_and_in() {
    assert_eq!(ev("self.child.postcode"), "SW1A 1AA");
    assert_eq!(ev("self['child']['email']"), "x@y.org");
    assert_eq!(ev("self.tags[1]"), "b");
    assert_eq!(ev("self.assessments[2].score"), "9");
    assert_eq!(ev("'b' in self.tags"), "true");
    assert_eq!(ev("'z' in self.tags"), "false");
    assert_eq!(ev("'child' in self"), "true");
    assert_eq!(ev("'ghost' in self"), "false");
    assert_eq!(ev("self.count in [1, 2, 3]"), "true");
    assert_eq!(ev("root.kind"), "root");
    assert!(matches!(err("self.tags[3]"), EvalError::IndexOutOfRange { index: 3, size: 3 }));
    assert!(matches!(err("self.tags[-1]"), EvalError::IndexOutOfRange { .. }));
    assert!(matches!(err("self.child.phone"), EvalError::NoSuchField(f) if f == "phone"));
    assert!(matches!(err("self['ghost']"), EvalError::NoSuchField(_)));
    assert!(matches!(err("self.nothing.deeper"), EvalError::NoSuchField(_)));
    assert!(matches!(err("self.name.first"), EvalError::Type(_)));
    assert!(matches!(err("self.count in self.name"), EvalError::Type(_)));
}

#[test]
fn presence() {
    assert_eq!(ev("has(self.nhs)"), "true");
    assert_eq!(ev("has(self.ghost)"), "false");
    assert_eq!(ev("has(self.nothing)"), "true", "a key with null is present");
    assert_eq!(ev("has(self.ghost.deeper)"), "false", "absent parent is not an error");
    assert_eq!(ev("has(self.nothing.deeper)"), "false");
    assert_eq!(ev("has(self.child.postcode)"), "true");
    assert_eq!(ev("has(self.nhs) != has(self.ghost)"), "true");
    assert_eq!(ev("!has(self.ghost) || self.ghost > 1"), "true");
    assert!(matches!(err("has(self.name.first)"), EvalError::Type(_)));
}

#[test]
fn macros() {
    assert_eq!(ev("self.assessments.all(a, date(a.start) >= date(self.referral))"), "true");
    assert_eq!(ev("self.assessments.all(a, a.score > 5)"), "false");
    assert_eq!(ev("self.assessments.exists(a, a.score > 8)"), "true");
    assert_eq!(ev("self.assessments.exists(a, a.score > 9)"), "false");
    assert_eq!(ev("self.assessments.exists_one(a, a.score > 5)"), "false");
    assert_eq!(ev("self.assessments.exists_one(a, a.score > 8)"), "true");
    assert_eq!(ev("self.assessments.map(a, a.score * 2)"), "[8, 14, 18]");
    assert_eq!(ev("self.assessments.map(a, a.score > 4, a.score)"), "[7, 9]");
    assert_eq!(ev("self.tags.filter(t, t != 'b')"), "[\"a\", \"c\"]");
    assert_eq!(ev("self.tags.filter(t, t != 'b').size()"), "2");
    assert_eq!(ev("[1, 2, 3].map(x, x * x).filter(y, y > 1)"), "[4, 9]");
    assert_eq!(ev("self.child.all(k, k.size() > 4)"), "true", "maps iterate keys");
    // nested comprehensions see both variables
    assert_eq!(ev("self.tags.all(t, self.tags.exists(u, u == t))"), "true");
    assert_eq!(ev("[1, 2].all(x, [3, 4].all(y, x < y))"), "true");
    assert_eq!(ev("[1, 2].exists(x, [1, 2].filter(y, y > x).size() == 1)"), "true");
    // an error on one element is absorbed by a deciding element
    assert_eq!(ev("self.assessments.exists(a, a.ghost == 1 || a.score == 9)"), "true");
    assert_eq!(ev("self.assessments.all(a, a.score < 5 && a.ghost == 1)"), "false");
    assert!(matches!(err("self.assessments.all(a, a.ghost == 1)"), EvalError::NoSuchField(_)));
    assert!(matches!(err("self.assessments.exists(a, a.score)"), EvalError::Type(_)));
    assert!(matches!(err("self.name.all(c, true)"), EvalError::Type(_)));
    // the variable goes out of scope after the macro
    assert!(matches!(compile_err("[1].all(x, true) && x"), RuleError::UnknownVariable { .. }));
}

#[test]
fn least_and_greatest() {
    assert_eq!(ev("min(self.dupes)"), "1");
    assert_eq!(ev("max(self.dupes)"), "2");
    assert_eq!(ev("self.tags.max()"), "c");
    // ISO dates as text order as dates; with a filter and map, the episode before a date
    assert_eq!(
        ev("max(self.assessments.filter(a, a.start < '2025-03-01').map(a, a.start))"),
        "2025-02-01T09:00:00+00:00"
    );
    assert_eq!(ev("min([date('2025-02-01'), date('2024-12-31')])"), "2024-12-31");
    assert_eq!(ev("min([2.5, 1, 3])"), "1");
    // an empty list has neither: null, which equals nothing but null
    assert_eq!(ev("max(self.tags.filter(t, t == 'z'))"), "null");
    assert_eq!(ev("max(self.tags.filter(t, t == 'z')) == 'a'"), "false");
    assert!(matches!(
        err("min(self.assessments.map(a, a.start).map(s, s == '2025-03-05' ? 1 : s))"),
        EvalError::Type(_)
    ));
    assert!(matches!(compile_err("min(['a', 1])"), RuleError::Invalid { .. }));
    // sums: of numbers, 0 for none
    assert_eq!(ev("sum(self.assessments.map(a, a.score))"), "20");
    assert_eq!(ev("sum(self.dupes.filter(d, d > 5))"), "0");
    assert_eq!(ev("sum([1, 2.5])"), "3.5");
    assert!(matches!(err("sum(self.tags)"), EvalError::Type(_)));
    assert!(matches!(err("max(self.name)"), EvalError::Type(_)));
}

#[test]
fn strings() {
    assert_eq!(ev("size(self.name)"), "11");
    assert_eq!(ev("self.tags.size()"), "3");
    assert_eq!(ev("size(self.child)"), "2");
    assert_eq!(ev("size('héllo')"), "5");
    assert_eq!(ev("self.name.startsWith('Ann')"), "true");
    assert_eq!(ev("self.name.endsWith('Neill')"), "true");
    assert_eq!(ev("self.name.contains(\"O'N\")"), "true");
    assert_eq!(ev("self.name.contains('x')"), "false");
    assert_eq!(ev("self.nhs.matches('^[0-9]{10}$')"), "true");
    assert_eq!(ev("self.name.matches('^[0-9]+$')"), "false");
    assert_eq!(ev("matches(self.name, 'Neill')"), "true");
    assert_eq!(ev("self.name.matches(self.tags[0] + '.*')"), "false");
    assert!(matches!(err("self.count.startsWith('1')"), EvalError::Type(_)));
    assert!(matches!(err("self.name.matches(self.name + '(')"), EvalError::BadRegex(_)));
}

#[test]
fn conversions() {
    assert_eq!(ev("int('42') + 1"), "43");
    assert_eq!(ev("int(self.weight)"), "2");
    assert_eq!(ev("double(self.count) / 2.0"), "1.5");
    assert_eq!(ev("double('2.25')"), "2.25");
    assert_eq!(ev("string(self.count) + 'x'"), "3x");
    assert_eq!(ev("string(date(self.referral))"), "2025-01-10");
    assert_eq!(ev("int(timestamp('1970-01-01T00:01:00Z'))"), "60");
    assert!(matches!(err("int(self.name)"), EvalError::Invalid(_)));
    assert!(matches!(err("int(self.tags)"), EvalError::Type(_)));
}

#[test]
fn date_functions() {
    assert_eq!(ev("date('2025-05-01T10:00:00+01:00')"), "2025-05-01");
    assert_eq!(ev("add_days(date(self.referral), 30)"), "2025-02-09");
    assert_eq!(ev("add_days(date(self.referral), -10)"), "2024-12-31");
    assert_eq!(ev("add_years(date('2024-02-29'), 1)"), "2025-02-28");
    assert_eq!(ev("add_years(date(self.dob), 18)"), "2028-06-15");
    assert_eq!(ev("days_between(date(self.referral), date(asOf))"), "142");
    assert_eq!(ev("years_between(date(self.dob), date(asOf))"), "14");
    assert_eq!(ev("seconds_between(timestamp('2026-11-20T09:30:00Z'), timestamp('2026-11-20T10:30:00+01:00'))"), "0");
    assert_eq!(ev("seconds_between(timestamp('2026-11-20T09:30:00Z'), timestamp('2026-11-20T09:35:00Z'))"), "300");
    assert_eq!(ev("years_between(date(self.dob), date('2025-06-15'))"), "15");
    // 2 May 2025 is a Friday; 5 May a bank holiday
    assert_eq!(ev("working_days(date('2025-05-02'), date('2025-05-06'))"), "1");
    assert_eq!(ev("working_days(date('2025-05-06'), date('2025-05-02'))"), "-1");
    assert_eq!(ev("working_days(date(self.referral), date(self.referral))"), "0");
    assert_eq!(ev("working_days(date('2025-05-01'), date(asOf))"), "19");
    assert!(matches!(err("days_between(self.referral, date(asOf))"), EvalError::Type(m) if m.contains("date()")));
    assert!(matches!(err("add_days(date(self.referral), 'x')"), EvalError::Type(_)));
    assert!(matches!(err("add_years(date(self.referral), 9223372036854775807)"), EvalError::Invalid(_)));
    assert_eq!(ev("add_days(timestamp('2025-05-01T10:00:00Z'), 1)"), "2025-05-02T10:00:00Z");
}

#[test]
fn identifier_and_format_functions() {
    assert_eq!(ev("nhs_number_valid(self.nhs)"), "true");
    assert_eq!(ev("nhs_number_valid(self.badNhs)"), "false");
    assert_eq!(ev("nhs_number_valid('943476591')"), "false");
    let body = "201234567890";
    let upn = format!("{}{body}", char::from(upn_check_letter(body.as_bytes()).unwrap()));
    assert_eq!(ev(&format!("upn_valid('{upn}')")), "true");
    assert_eq!(ev(&format!("upn_valid('{}')", &upn[1..])), "false");
    assert_eq!(ev("uk_postcode(self.child.postcode)"), "true");
    assert_eq!(ev("uk_postcode('m1 1ae') && uk_postcode('B338TH') && uk_postcode('GIR 0AA')"), "true");
    assert_eq!(ev("uk_postcode('SW1A  1AA')"), "false");
    assert_eq!(ev("email(self.child.email)"), "true");
    assert_eq!(ev("email('a@@b.com')"), "false");
    assert_eq!(ev("uk_phone('+44 20 7946 0000') && uk_phone('01632 960000')"), "true");
    assert_eq!(ev("uk_phone('12345')"), "false");
    assert_eq!(ev("sha256_base64('aGVsbG8=')"), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    assert_eq!(ev("sha256_base64('***') == null"), "true");
    assert_eq!(ev("base64_len('aGVsbG8=')"), "5");
    assert_eq!(ev("base64_len('***')"), "null");
    assert_eq!(ev("unique(self.tags)"), "true");
    assert_eq!(ev("unique(self.dupes)"), "false");
    assert_eq!(ev("unique([])"), "true");
    assert_eq!(ev("count(self.dupes, 1)"), "2");
    assert_eq!(ev("count(self.tags, 'z')"), "0");
    assert!(matches!(err("nhs_number_valid(self.nothing)"), EvalError::Type(_)));
    assert!(matches!(err("unique(self.name)"), EvalError::Type(_)));
}

#[test]
fn outcomes() {
    assert_eq!(check("nhs_number_valid(self.nhs)"), Outcome::Holds);
    assert_eq!(check("nhs_number_valid(self.badNhs)"), Outcome::Violated);
    assert_eq!(check("nhs_number_valid(self.ghost)"), Outcome::NotApplicable(None));
    assert_eq!(check("self.tags[9] == 'a'"), Outcome::NotApplicable(None));
    match check("date(self.name) < date(self.referral)") {
        Outcome::NotApplicable(Some(reason)) => assert!(reason.contains("Ann O'Neill"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // The rule's own faults: a result that is not a bool, a comparison of unlike types, a conversion of text
    // that is no number.
    match check("self.count") {
        Outcome::Failed(reason) => assert!(reason.contains("int"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match check("date(self.referral) > self.dob") {
        Outcome::Failed(reason) => assert!(reason.contains("date()"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(check("self.count + 'x' > 0"), Outcome::Failed(_)));
    assert!(matches!(check("int(self.name) > 0"), Outcome::Failed(_)));
}

#[test]
fn missing_trailing_variable_reads_as_absent() {
    let p = compiler().compile("asOf == '2025-01-01'").unwrap();
    let rec = record();
    assert_eq!(p.check(&[&rec]), Outcome::NotApplicable(None));
}

#[test]
fn compile_errors() {
    match compile_err("self.count > 1 && frobnicate(self.name)") {
        RuleError::UnknownFunction { name, line, column } => {
            assert_eq!(name, "frobnicate");
            assert_eq!(line, 1);
            assert_eq!(column, 29, "the column of the call's parenthesis");
        }
        other => panic!("{other:?}"),
    }
    match compile_err("self.count > 1 && now > 3") {
        RuleError::UnknownVariable { name, column, declared, .. } => {
            assert_eq!(name, "now");
            assert_eq!(column, 19);
            assert_eq!(declared, "self, root, asOf");
        }
        other => panic!("{other:?}"),
    }
    match compile_err("self.count >\n  > 3") {
        RuleError::Syntax { line, column, message } => {
            assert_eq!((line, column), (2, 3), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(compile_err("self.name.matches('(')"), RuleError::BadRegex { .. }));
    assert!(matches!(compile_err("date('2025-02-30') < date(self.referral)"), RuleError::Invalid { .. }));
    assert!(matches!(compile_err("nhs_number_valid(self.nhs, 1)"), RuleError::Arity { .. }));
    assert!(matches!(compile_err("self.nhs.add_days()"), RuleError::Arity { .. }));
    assert!(matches!(compile_err("{'a': 1}"), RuleError::Invalid { .. }));
    assert!(matches!(compile_err("has(1)"), RuleError::Syntax { .. }));
    assert!(matches!(compile_err(""), RuleError::Syntax { .. }));
    assert!(matches!(compile_err("self.x.all(1, true)"), RuleError::Syntax { .. }));
    // the message names the position
    let text = compile_err("bogus(1)").to_string();
    assert!(text.contains("bogus") && text.contains("column 6"), "{text}");
}

#[test]
fn constant_folding_is_invisible() {
    assert_eq!(ev("date('2025-01-01') < date('2025-01-02')"), "true");
    assert_eq!(ev("[1, 2, 3].exists(x, x == 2)"), "true");
    assert_eq!(ev("'a' in ['a', 'b']"), "true");
    assert_eq!(ev("true ? 1 : 2"), "1");
}

#[test]
fn program_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Program>();
    assert_send_sync::<Compiler>();
}

#[test]
fn display_of_values() {
    assert_eq!(ev("self.tags"), "[\"a\",\"b\",\"c\"]");
    assert_eq!(ev("['a', 1]"), "[\"a\", 1]");
    assert_eq!(ev("self.weight"), "2.5");
    assert_eq!(ev("timestamp('2025-05-01T10:00:00+01:00')"), "2025-05-01T10:00:00+01:00");
}

#[test]
fn hoisted_subexpressions_keep_their_meaning() {
    // `self.ghost` does not depend on `t`; hoisting must not evaluate it where a guard stops it.
    assert_eq!(ev("self.tags.all(t, has(self.ghost) && self.ghost == t)"), "false");
    assert_eq!(ev("self.tags.all(t, self.ghost == 1 || t != 'z')"), "true");
    assert_eq!(ev("self.tags.exists(t, t == 'q' && date(self.name) > date(self.referral))"), "false");
    assert!(matches!(
        err("self.tags.all(t, date(self.name) > date(self.referral) || t == 'q')"),
        EvalError::BadDate(_)
    ));
    // a hoisted value that depends on an outer variable is recomputed for each outer element
    assert_eq!(ev("[1, 2].map(x, [0, 0].map(y, x * 10))"), "[[10, 10], [20, 20]]");
    assert_eq!(ev("[1, 2].all(x, [1, 2].filter(y, y <= x).size() == x)"), "true");
    assert_eq!(ev("self.assessments.map(a, self.assessments.filter(b, b.score > a.score).size())"), "[2, 1, 0]");
    // more hoistable pieces than cache slots still evaluate correctly
    assert_eq!(
        ev("[1].all(x, size(self.tags) + size(self.name) + size(self.child) + size(self.dupes) + \
            int('1') + int('2') + self.count + size(self.assessments) + self.count + self.count + x == 35)"),
        "true"
    );
}

#[test]
fn nesting_limit() {
    assert!(ev("[1].all(a, [1].all(b, [1].all(c, [1].all(d, [1].all(e, [1].all(f, a + f == 2))))))") == "true");
    assert!(matches!(
        compile_err("[1].all(a, [1].all(b, [1].all(c, [1].all(d, [1].all(e, [1].all(f, [1].all(g, true)))))))"),
        RuleError::Invalid { .. }
    ));
}

#[test]
fn hostile_rule_text_gives_errors_not_panics() {
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    for src in [
        deep.as_str(),
        "é.ü",
        "self.",
        "'unterminated",
        "1 ? 2",
        "[1,2",
        "self[",
        "a.b.c(",
        "\u{0}",
        "has()",
        "x.map(1, 2)",
    ] {
        assert!(compiler().compile(src).is_err(), "{src:?} compiled");
    }
}

#[test]
fn long_operator_chains_compile_or_fail_cleanly() {
    let chain = vec!["1"; 200].join(" + ");
    assert_eq!(ev(&chain), "200");
    let long = vec!["self.count"; 600].join(" + ");
    assert!(compiler().compile(&long).is_err());
    let ands = vec!["has(self.nhs)"; 250].join(" && ");
    assert_eq!(ev(&ands), "true");
}

#[test]
fn reads_tells_membership_tests_from_other_uses_of_a_variable() {
    use super::{Membership, Reads};
    let c = Compiler::new(&["self", "agg"], Vec::new());
    let reads = |src: &str| c.compile(src).unwrap().reads("agg");
    assert_eq!(reads("self.a == 1"), Reads::Not);
    assert_eq!(
        reads("!(self.ids.upn in agg.upns) && self.a > 0"),
        Reads::Membership(vec![Membership { element: "self.ids.upn".into(), field: "upns".into() }])
    );
    assert_eq!(reads("size(agg.upns) == 0"), Reads::Otherwise);
    assert_eq!(reads("agg.count > 2"), Reads::Otherwise);
    assert_eq!(reads("self.x in agg"), Reads::Otherwise);
    assert_eq!(reads("self.list.all(u, !(u in agg.upns))"), Reads::Otherwise);
    assert_eq!(reads("(self.a + 'x') in agg.upns"), Reads::Otherwise);
    assert_eq!(c.compile("self.ids.upn").unwrap().dotted_path().as_deref(), Some("self.ids.upn"));
    assert_eq!(c.compile("has(self.ids)").unwrap().dotted_path(), None);
}

#[test]
fn stable_calls_are_computed_once_per_memo() {
    let c = Compiler::new(&["self", "root"], Vec::new()).with_stable(&["root.Header".to_string()]);
    let p = c.compile("date(self.d) >= add_years(date(root.Header.ref), -1)").unwrap();
    let node = json!({"d": "2025-06-01"});
    let early = json!({"Header": {"ref": "2026-04-01"}});
    let late = json!({"Header": {"ref": "2027-04-01"}});
    let mut memo = Memo::default();
    assert_eq!(p.check_with(&[&node, &early], &mut memo), Outcome::Holds);
    // The memo keeps what it computed from the first header: a new header needs a new memo.
    assert_eq!(p.check_with(&[&node, &late], &mut memo), Outcome::Holds);
    assert_eq!(p.check_with(&[&node, &late], &mut Memo::default()), Outcome::Violated);
    assert_eq!(p.check(&[&node, &late]), Outcome::Violated);
    // Reading `self` is never kept.
    let other = json!({"d": "2020-01-01"});
    assert_eq!(p.check_with(&[&other, &early], &mut memo), Outcome::Violated);
}

#[test]
fn a_read_of_a_variables_field_is_seen_through_selection_and_whole_use() {
    let c = compiler();
    let reads = |source: &str| c.compile(source).unwrap().may_read_field("root", "Children");
    assert!(!reads("date(root.Header.ReferenceDate) < date(self.referral)"));
    assert!(!reads("self.root == 1"), "a field named like the variable is not the variable");
    assert!(reads("size(root.Children.Child) > 1"));
    assert!(reads("has(root.Children)"));
    assert!(reads("size(root) > 0"), "the variable used whole may read anything");
    assert!(reads("self.tags.exists(t, root.Children.Child.size() > 0)"));
    assert!(!reads("self.tags.exists(t, t == 'a')"));
}

/// The Ofsted lookups over a small list and a small postcode directory, as rules 219–241 and 1008 use them.
#[test]
fn ofsted_lookups_read_the_providers_list() {
    use crate::reference::{OfstedProviders, PostcodeDirectory, References};
    let list = "URN,Placement code,Placement provider code,Setting address postcode,Deregistration date\n\
                SC000001,\"K1,K2\",PR3,TW9 1AA,-\n\
                SC000002,U1,PR1/PR2,M1 9ZZ,30/06/2025\n\
                SA000001,,,,\n";
    let directory = "pcd,oseast1m,osnrth1m,laua\nTW9 1AA,518000,175000,E09000027\nM1 9ZZ,384000,398000,E08000003\n";
    let refs = References {
        ofsted_providers: Some(std::sync::Arc::new(OfstedProviders::read(list.as_bytes()).unwrap())),
        postcodes: Some(std::sync::Arc::new(PostcodeDirectory::read(std::io::Cursor::new(directory)).unwrap())),
        previous: None,
        absent_columns: Vec::new(),
    };
    let rec = json!({"URN": "sc000001", "PL_POST": "tw9 1aa", "other": "SC000002", "bare": "SA000001", "no": null});
    let ev = |src: &str| -> String {
        let p = compiler().compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let root = json!({});
        let as_of = json!("2025-06-01");
        p.eval_full(&[&rec, &root, &as_of], None, &refs).map(|v| v.to_string()).unwrap_or_else(|e| panic!("{src}: {e}"))
    };
    assert_eq!(
        ev("ofsted_known(self.URN) && ofsted_known(' SC000002') && !ofsted_known('SC9') && !ofsted_known(self.no)"),
        "true"
    );
    assert_eq!(ev("'K2' in ofsted_places(self.URN) && !('U1' in ofsted_places(self.URN))"), "true");
    assert_eq!(ev("ofsted_places(self.other)"), "[\"U1\"]");
    assert_eq!(ev("ofsted_provider_codes(self.other)"), "[\"PR1\", \"PR2\"]");
    // Listed without codes or postcodes, or not listed: null, not an empty list.
    let none =
        "[ofsted_places(self.bare), ofsted_postcodes(self.bare), ofsted_places('SC9'), ofsted_at(self.bare, 'A')]";
    assert_eq!(ev(none), "[null, null, null, null]");
    assert_eq!(
        ev("[ofsted_at(self.URN, self.PL_POST), ofsted_at(self.URN, 'M19ZZ'), ofsted_at(self.URN, self.no)]"),
        "[true, false, null]"
    );
    assert_eq!(
        ev("[ofsted_closed(self.other), ofsted_closed(self.URN), ofsted_closed('SC9')]"),
        "[\"2025-06-30\", null, null]"
    );
    assert_eq!(ev("'2025-07-01' > ofsted_closed(self.other)"), "true");
    // The council of a provider's premises, through the postcode directory.
    assert_eq!(ev("ofsted_postcodes(self.other).map(p, postcode_la(p))"), "[\"E08000003\"]");
    // Without the list the lookup cannot be evaluated (the rule is reported as not run before it gets here).
    let p = compiler().compile("ofsted_known(self.URN)").unwrap();
    let none = References { postcodes: refs.postcodes.clone(), ..References::default() };
    let root = json!({});
    let as_of = json!("2025-06-01");
    let error = p.eval_full(&[&rec, &root, &as_of], None, &none).map(|v| v.to_string()).unwrap_err();
    assert!(error.to_string().contains("not given Ofsted's provider lists"), "{error}");
    assert!(p.reads_reference("ofsted-providers") && !p.reads_reference("postcodes"));
    assert!(compiler().compile("ofsted_at(self.URN)").is_err());
}

/// Every rule and aggregate of every embedded pack, parsed by the `cel` crate's hand-written parser (which
/// compiling uses first) and by its ANTLR one (which compiling falls back on for errors' positions), gives
/// the same tree, node ids included.
#[test]
fn parsers_agree_on_every_embedded_rule() {
    let catalog = crate::standard::Catalog::embedded().expect("the embedded packs load");
    let mut sources: Vec<String> = Vec::new();
    for pack in catalog.packs() {
        sources.extend(pack.rules.iter().map(|r| r.program.source().to_string()));
        sources.extend(pack.aggregates.iter().map(|a| a.value.source().to_string()));
    }
    sources.sort();
    sources.dedup();
    assert!(sources.len() > 500, "only {} expressions found", sources.len());
    for source in &sources {
        let fast = cel::parser::PrattParser::new().parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let slow = cel::parser::Parser::new().parse(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(fast, slow, "the parsers read `{source}` differently");
    }
}
