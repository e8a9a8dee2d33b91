//! Need-to-know: what each recipient may see of a message. For one recipient role, walks the body's binding
//! beside the body and removes every field whose sensitivity class the role is not cleared for (reason
//! `need-to-know`), and, for a shielded child, the fields that would find the child (reason `shielded`).
//! Each removed field is listed as a [`Redaction`] on the copy.
//!
//! Not for: authentication, authorisation or the envelope's legal-basis rules (ENV-001/002/004 are the
//! engine's), and not for storing anything.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use caregate_engine::standard::binding::{escape_pointer_token, unescape_pointer_token};
use caregate_engine::standard::{Node, Repeat, StandardPack};

/// Statutes that permit sharing without consent (envelope.md).
pub const STATUTES_WITHOUT_CONSENT: [&str; 4] = ["CA1989-S47", "CA2004-S11", "DPA2018-S8-P4", "CA2014-S42"];

/// Fields a shielded child's copy loses for every recipient but social care, as pointers into the body, `*`
/// standing for every item of an array. The flag that shields is `/child/shielded`.
const SHIELDED_FIELDS: [&str; 4] = ["/child/address", "/child/school", "/child/gpPractice", "/household/*/address"];
const SHIELD_FLAG: &str = "/child/shielded";

/// One field removed from a recipient's copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    /// JSON Pointer of the removed field in the delivered envelope (`/body/…`).
    pub path: String,
    /// `need-to-know` or `shielded`.
    pub reason: String,
}

/// What the envelope says that the clearance depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Circumstances {
    pub consent_given: bool,
    /// A statute that permits sharing without consent is named.
    pub statute_without_consent: bool,
    pub urgency_immediate: bool,
}

impl Circumstances {
    pub fn of(envelope: &Value) -> Circumstances {
        let legal = envelope.get("legalBasis");
        Circumstances {
            consent_given: legal.and_then(|l| l.get("consent")).and_then(Value::as_str) == Some("given"),
            statute_without_consent: legal
                .and_then(|l| l.get("statute"))
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().filter_map(Value::as_str).any(|s| STATUTES_WITHOUT_CONSENT.contains(&s))),
            urgency_immediate: envelope.get("urgency").and_then(Value::as_str) == Some("immediate"),
        }
    }
}

/// The clearance table of the security policy, with the configuration's overrides.
#[derive(Debug, Default)]
pub struct Clearance {
    /// Role → classes it receives unconditionally, replacing the default for that role.
    overrides: BTreeMap<String, Vec<String>>,
    /// The plans made so far, by standard (its digest), role and circumstances.
    plans: Mutex<HashMap<(String, String, Circumstances), Arc<Plan>>>,
}

impl Clearance {
    pub fn new(overrides: BTreeMap<String, Vec<String>>) -> Self {
        Clearance { overrides, plans: Mutex::default() }
    }

    /// The plan for documents of `pack` sent to `role` in these circumstances: made the first time, kept.
    fn plan(&self, pack: &StandardPack, role: &str, when: Circumstances) -> Arc<Plan> {
        let key = (pack.digest.clone(), role.to_string(), when);
        let mut plans = match self.plans.lock() {
            Ok(plans) => plans,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(plans.entry(key).or_insert_with(|| Arc::new(Plan::of(&pack.binding.node, role, when, self))))
    }

    /// May `role` receive a field of `class` in these circumstances?
    pub fn cleared(&self, role: &str, class: &str, when: Circumstances) -> bool {
        if let Some(classes) = self.overrides.get(role) {
            return classes.iter().any(|c| c == class);
        }
        match (role, class) {
            (_, "identity" | "contact") => true,
            ("social-care", "health" | "case") => true,
            ("social-care", "sensitive-services") => when.consent_given || when.statute_without_consent,
            ("health", "health" | "case") => true,
            ("health", "sensitive-services") => when.consent_given,
            ("police", "case") => true,
            ("police", "health") => when.urgency_immediate,
            ("early-help", "health" | "case") => true,
            // Education, housing and other see identity and contact only; an unknown class is never cleared.
            _ => false,
        }
    }
}

/// What a recipient of `role` may not see of `body` (a document of `pack`): the fields to remove from its copy,
/// in the order they are removed. `prefix` is where the body sits in the delivered envelope (`/body`). The
/// body itself is only read; [`Redaction::remove_from`] makes the copy.
pub fn redactions(
    body: &Value,
    pack: &StandardPack,
    role: &str,
    when: Circumstances,
    clearance: &Clearance,
    prefix: &str,
) -> Vec<Redaction> {
    let mut redactions = Vec::new();
    let shielded = body.pointer(SHIELD_FLAG).and_then(Value::as_bool) == Some(true);
    if shielded && role != "social-care" {
        for pattern in SHIELDED_FIELDS {
            find_matching(body, pattern, prefix.to_string(), &mut |path| {
                redactions.push(Redaction { path, reason: "shielded".into() })
            });
        }
    }
    let shielded = redactions.len();
    let plan = clearance.plan(pack, role, when);
    let mut walker = Walker { redactions: &mut redactions, shielded, at: prefix.to_string() };
    walker.object(body, &plan);
    redactions
}

impl Redaction {
    /// Removes the field this redaction names from `copy` (the delivered envelope), if it is there.
    pub fn remove_from(&self, copy: &mut Value) {
        let Some((parent, last)) = self.path.rsplit_once('/') else { return };
        let Some(Value::Object(map)) = copy.pointer_mut(parent) else { return };
        // Removing keeps the order of the fields that stay.
        if last.contains('~') {
            map.shift_remove(unescape_pointer_token(last).as_str());
        } else {
            map.shift_remove(last);
        }
    }
}

/// The binding of a standard cut down, for one role in given circumstances, to what the role loses: the fields
/// it is not cleared for, and the objects that hold some. The walk of a body follows the plan, not the whole
/// binding.
#[derive(Debug, Default)]
struct Plan {
    /// In the binding's order.
    steps: Vec<Step>,
}

#[derive(Debug)]
struct Step {
    json: String,
    /// `json` as a JSON Pointer token.
    token: String,
    /// Not cleared: the field goes. Otherwise it is an object (or array of objects) to look inside.
    remove: bool,
    repeated: bool,
    inner: Plan,
}

impl Plan {
    fn of(node: &Node, role: &str, when: Circumstances, clearance: &Clearance) -> Plan {
        let Node::Object(object) = node else { return Plan::default() };
        let mut steps = Vec::new();
        for field in &object.fields {
            let cleared = field.sensitivity.as_deref().is_none_or(|class| clearance.cleared(role, class, when));
            let inner = if cleared && matches!(*field.node, Node::Object(_)) {
                Plan::of(&field.node, role, when, clearance)
            } else {
                Plan::default()
            };
            if !cleared || !inner.steps.is_empty() {
                steps.push(Step {
                    json: field.json.clone(),
                    token: escape_pointer_token(&field.json),
                    remove: !cleared,
                    repeated: matches!(field.repeat, Repeat::Repeated | Repeat::Wrapped),
                    inner,
                });
            }
        }
        Plan { steps }
    }
}

struct Walker<'a> {
    redactions: &'a mut Vec<Redaction>,
    /// How many of the first `redactions` are a shielded child's: those fields are gone before the walk.
    shielded: usize,
    /// The pointer of the value being walked; grown and cut back as the walk goes down and up.
    at: String,
}

impl Walker<'_> {
    fn object(&mut self, value: &Value, plan: &Plan) {
        let Some(map) = value.as_object() else { return };
        for step in &plan.steps {
            let Some(child) = map.get(&step.json) else { continue };
            let depth = self.at.len();
            self.at.push('/');
            self.at.push_str(&step.token);
            if self.redactions[..self.shielded].iter().any(|r| r.path == self.at) {
                // Already removed for a shielded child.
            } else if step.remove {
                self.redactions.push(Redaction { path: self.at.clone(), reason: "need-to-know".into() });
            } else {
                match (step.repeated, child) {
                    (true, Value::Array(items)) => {
                        for (i, item) in items.iter().enumerate() {
                            let item_depth = self.at.len();
                            let _ = write!(self.at, "/{i}");
                            self.object(item, &step.inner);
                            self.at.truncate(item_depth);
                        }
                    }
                    (_, child) => self.object(child, &step.inner),
                }
            }
            self.at.truncate(depth);
        }
    }
}

/// Calls `found` with the concrete pointer (after `at`) of every field matching `pattern` (a pointer in which
/// `*` matches each array item).
fn find_matching(value: &Value, pattern: &str, at: String, found: &mut dyn FnMut(String)) {
    let Some(rest) = pattern.strip_prefix('/') else { return };
    let (token, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match value {
        Value::Array(items) if token == "*" => {
            for (i, item) in items.iter().enumerate() {
                find_matching(item, tail, format!("{at}/{i}"), found);
            }
        }
        Value::Object(map) => {
            let Some(child) = map.get(token) else { return };
            let path = format!("{at}/{}", escape_pointer_token(token));
            if tail.is_empty() {
                found(path);
            } else {
                find_matching(child, tail, path, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caregate_engine::standard::Catalog;

    fn full_referral() -> (Value, Value) {
        let text = include_str!("../../../schemas/envelope/1.0/examples/valid/full.json");
        let envelope: Value = serde_json::from_str(text).expect("example parses");
        let body = envelope["body"].clone();
        (envelope, body)
    }

    fn paths(redactions: &[Redaction], reason: &str) -> Vec<String> {
        redactions.iter().filter(|r| r.reason == reason).map(|r| r.path.clone()).collect()
    }

    /// The body a recipient of `role` is given, and what was removed from it.
    fn redact_for(role: &str, envelope: &Value, body: &Value) -> (Value, Vec<Redaction>) {
        let catalog = Catalog::embedded().expect("packs load");
        let pack = catalog.find("referral@1.0").expect("referral held");
        let redactions = redactions(body, &pack, role, Circumstances::of(envelope), &Clearance::default(), "/body");
        let mut copy = serde_json::json!({"body": body});
        for redaction in &redactions {
            redaction.remove_from(&mut copy);
        }
        (copy["body"].take(), redactions)
    }

    #[test]
    fn removing_keeps_the_order_of_what_stays_and_reads_escaped_names() {
        let mut copy = serde_json::json!({"body": {"a": 1, "b/c": 2, "d": 3, "e": 4}});
        for path in ["/body/b~1c", "/body/missing", "/body/a/deeper", "/nowhere/x"] {
            Redaction { path: path.into(), reason: "need-to-know".into() }.remove_from(&mut copy);
        }
        assert_eq!(copy.to_string(), r#"{"body":{"a":1,"d":3,"e":4}}"#);
    }

    #[test]
    fn each_role_loses_what_it_is_not_cleared_for() {
        let (envelope, body) = full_referral();
        // The example: consent not sought, CA2004-S11 named, urgency urgent, sensitive services present.
        let (_, social) = redact_for("social-care", &envelope, &body);
        assert_eq!(social, vec![]);
        let (_, health) = redact_for("health", &envelope, &body);
        assert_eq!(paths(&health, "need-to-know"), ["/body/sensitiveServices"]);
        let (copy, police) = redact_for("police", &envelope, &body);
        assert_eq!(paths(&police, "need-to-know"), ["/body/child/disabilities", "/body/sensitiveServices"]);
        assert!(copy.pointer("/child/disabilities").is_none() && copy.pointer("/concern").is_some());
        let (copy, education) = redact_for("education", &envelope, &body);
        assert_eq!(
            paths(&education, "need-to-know"),
            ["/body/child/disabilities", "/body/concern", "/body/sensitiveServices", "/body/previousInvolvement"]
        );
        assert!(copy.pointer("/child/name").is_some() && copy.pointer("/referrer").is_some());
        let (_, early_help) = redact_for("early-help", &envelope, &body);
        assert_eq!(paths(&early_help, "need-to-know"), ["/body/sensitiveServices"]);
    }

    #[test]
    fn consent_and_urgency_open_what_the_table_says() {
        let (mut envelope, body) = full_referral();
        envelope["legalBasis"] = serde_json::json!({"consent": "given"});
        envelope["urgency"] = "immediate".into();
        let (_, health) = redact_for("health", &envelope, &body);
        assert_eq!(health, vec![]);
        let (_, police) = redact_for("police", &envelope, &body);
        assert_eq!(paths(&police, "need-to-know"), ["/body/sensitiveServices"]);
        envelope["legalBasis"] = serde_json::json!({"consent": "refused", "statute": ["CA1989-S17"], "reason": "x"});
        let (_, social) = redact_for("social-care", &envelope, &body);
        assert_eq!(paths(&social, "need-to-know"), ["/body/sensitiveServices"]);
    }

    #[test]
    fn a_shielded_child_cannot_be_found_but_by_social_care() {
        let (envelope, mut body) = full_referral();
        body["child"]["shielded"] = true.into();
        let (_, social) = redact_for("social-care", &envelope, &body);
        assert_eq!(social, vec![]);
        let (copy, health) = redact_for("health", &envelope, &body);
        assert_eq!(
            paths(&health, "shielded"),
            ["/body/child/address", "/body/child/school", "/body/child/gpPractice", "/body/household/1/address"]
        );
        assert!(copy.pointer("/child/address").is_none() && copy.pointer("/household/1/address").is_none());
        assert!(copy.pointer("/household/1/name").is_some());
    }

    #[test]
    fn overrides_replace_a_roles_clearance() {
        let clearance = Clearance::new(BTreeMap::from([(
            "education".to_string(),
            vec!["identity".to_string(), "case".to_string()],
        )]));
        let when = Circumstances { consent_given: true, statute_without_consent: false, urgency_immediate: false };
        assert!(clearance.cleared("education", "case", when));
        assert!(!clearance.cleared("education", "contact", when));
        assert!(!Clearance::default().cleared("education", "case", when));
    }
}
