//! The business-rule language of standard packs: CEL (Common Expression Language) expressions,
//! parsed with the `cel` crate's parser and compiled once, when a pack loads, into a tree of Rust
//! closures that evaluates straight over the record's `serde_json::Value`, borrowing from it.
//!
//! For: compiling a pack's rule expressions (reporting unknown functions, unknown variables and
//! syntax errors with a line and column), and checking each compiled rule against records fast
//! ([`Program::check`] gives [`Outcome::Holds`], [`Outcome::Violated`] or
//! [`Outcome::NotApplicable`] when the rule reads a field the record does not have).
//!
//! Not for: the whole of CEL (no protobuf messages, durations, bytes, map literals or optional
//! syntax), loading packs, choosing which records a rule applies to, or making findings: the
//! caller turns an outcome into a [`crate::finding::Finding`].
//!
//! How: the `cel` crate's parser (its public AST; the macros arrive expanded as comprehensions,
//! which are recognised by shape) feeds `compile.rs`, which resolves every name once and builds
//! boxed closures. Evaluation borrows from the JSON (strings, arrays and objects are never copied),
//! remembers where each field selection last found its key, folds constant sub-expressions, and
//! computes sub-expressions of a comprehension body that do not use its variable once per run.
//!
//! Differences from strict CEL, on purpose:
//! - An int mixed with a double in arithmetic is promoted to double (whether a JSON number reads as
//!   int or double depends on how the sender wrote it); JSON numbers that are integral read as int.
//! - Comparing a date or timestamp with a string, even with `==`, is an error: use `date()`.
//! - `has(a.b.c)` is false, not an error, when `a.b` itself is absent (or null).
//! - `matches` finds the pattern anywhere in the text (as CEL's RE2 does); anchor with `^…$`.
//! - Every function can be called either way: `x.f(y)` is `f(x, y)`.
//! - Selecting a field of JSON `null` reads as an absent field.

mod calendar;
mod checks;
mod compile;
mod functions;
mod value;

use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::Value as Json;

use crate::reference::References;

pub use compile::{Membership, Reads};
pub use value::Value;

pub use calendar::{add_days, add_years, days_between, parse_date, parse_timestamp, working_days, years_between};
pub use checks::{email, nhs_number_valid, sha256_base64, uk_phone, uk_postcode, upn_check_letter, upn_valid};

/// A rule that could not be compiled. Lines and columns are 1-based; columns count characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("syntax error at line {line}, column {column}: {message}")]
    Syntax { message: String, line: u32, column: u32 },
    #[error("unknown variable `{name}` at line {line}, column {column} (the variables are: {declared})")]
    UnknownVariable { name: String, line: u32, column: u32, declared: String },
    #[error("unknown function `{name}` at line {line}, column {column}")]
    UnknownFunction { name: String, line: u32, column: u32 },
    #[error("`{name}` at line {line}, column {column} takes {expected}")]
    Arity { name: String, expected: String, line: u32, column: u32 },
    #[error("invalid regular expression at line {line}, column {column}: {message}")]
    BadRegex { message: String, line: u32, column: u32 },
    #[error("{message} (line {line}, column {column})")]
    Invalid { message: String, line: u32, column: u32 },
}

impl RuleError {
    /// The 1-based (line, column) the error points at.
    pub fn position(&self) -> (u32, u32) {
        match self {
            RuleError::Syntax { line, column, .. }
            | RuleError::UnknownVariable { line, column, .. }
            | RuleError::UnknownFunction { line, column, .. }
            | RuleError::Arity { line, column, .. }
            | RuleError::BadRegex { line, column, .. }
            | RuleError::Invalid { line, column, .. } => (*line, *column),
        }
    }
}

/// Why evaluating a rule failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The rule read a key the record does not have.
    #[error("no such field `{0}`")]
    NoSuchField(String),
    /// The rule indexed a list past its end.
    #[error("index {index} is out of range for a list of {size}")]
    IndexOutOfRange { index: i64, size: usize },
    /// An operator or function was given values of the wrong type.
    #[error("{0}")]
    Type(String),
    #[error("`{0}` is not a date (expected YYYY-MM-DD or an RFC 3339 date-time)")]
    BadDate(String),
    #[error("`{0}` is not an RFC 3339 timestamp")]
    BadTimestamp(String),
    #[error("division by zero")]
    DivisionByZero,
    #[error("integer overflow in `{0}`")]
    Overflow(&'static str),
    #[error("invalid regular expression: {0}")]
    BadRegex(String),
    /// A conversion or function could not give a value (`int('x')`, a date out of range, …).
    #[error("{0}")]
    Invalid(String),
}

impl EvalError {
    /// Whether the error comes from reading something the record does not have.
    pub fn is_absence(&self) -> bool {
        matches!(self, EvalError::NoSuchField(_) | EvalError::IndexOutOfRange { .. })
    }
}

/// What a rule says about a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Holds,
    Violated,
    /// The rule does not apply: `None` when it read an absent field, else why the document's text could
    /// not be read as the rule reads it (a date that is not one: the document's fault, reported by the
    /// structure check).
    NotApplicable(Option<String>),
    /// The rule could not be evaluated for a reason of its own: a type mismatch, a conversion that fails,
    /// a result that is not a bool. The rule is at fault, not the document, and the caller must say so
    /// rather than count it passed.
    Failed(String),
}

/// Compiles rule expressions for one set of variables and one holiday calendar.
#[derive(Debug, Clone)]
pub struct Compiler {
    variables: Vec<String>,
    stable: Vec<String>,
    holidays: Arc<[NaiveDate]>,
}

impl Compiler {
    /// `variables`: names bound at evaluation time, in this order (e.g. `["self", "root", "envelope",
    /// "asOf", "params"]`). `holidays`: bank holidays for `working_days()` (order and duplicates do
    /// not matter; holidays at the weekend are ignored).
    pub fn new(variables: &[&str], holidays: Vec<NaiveDate>) -> Self {
        Compiler {
            variables: variables.iter().map(|v| (*v).to_string()).collect(),
            stable: Vec::new(),
            holidays: calendar::prepare_holidays(holidays).into(),
        }
    }

    /// Names the data that stays the same while a caller evaluates a program many times with one [`Memo`]:
    /// variables (`asOf`) and dotted paths (`root.Header`). Calls that read only such data are computed once
    /// and kept in the memo.
    pub fn with_stable(mut self, stable: &[String]) -> Self {
        self.stable = stable.to_vec();
        self
    }

    /// Parses and compiles one expression.
    pub fn compile(&self, source: &str) -> Result<Program, RuleError> {
        let (root, needs, ast) = compile::compile(source, &self.variables, &self.stable, &self.holidays)?;
        Ok(Program { root, needs, source: source.to_string(), ast })
    }
}

/// What a caller keeps for one program between evaluations over the same stable data (see
/// [`Compiler::with_stable`]). Make a new one when that data changes.
#[derive(Debug, Default, Clone)]
pub struct Memo(Vec<Option<Value<'static>>>);

/// A compiled rule. `Send + Sync`: share one across threads.
pub struct Program {
    root: compile::Node,
    needs: compile::Needs,
    source: String,
    /// The parsed expression, kept for the questions asked of it when a pack is compiled ([`Program::reads`],
    /// [`Program::may_read_field`], [`Program::dotted_path`]): parsing is most of compiling a rule.
    ast: cel::common::ast::IdedExpr,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program").field("source", &self.source).finish_non_exhaustive()
    }
}

impl Program {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How the expression reads the variable `var`: not at all, only through membership tests
    /// (`self.id in var.ids`), or otherwise.
    pub fn reads(&self, var: &str) -> Reads {
        compile::reads(&self.source, &self.ast, var)
    }

    /// Whether the expression may read the field `field` of the variable `var` (see
    /// `compile::may_read_field`): selecting it, or using `var` whole.
    pub fn may_read_field(&self, var: &str, field: &str) -> bool {
        compile::may_read_field(&self.source, &self.ast, var, field)
    }

    /// Every field path the expression reads from the variable `var` (`self.a.b` as `["a", "b"]`).
    pub fn paths_of(&self, var: &str) -> Vec<Vec<String>> {
        compile::var_paths(&self.ast, var)
    }

    /// What the expression gives, when that is plainly not true or false (`"a number"`): a rule that can
    /// never hold or be violated.
    pub fn plainly_not_bool(&self) -> Option<&'static str> {
        compile::plainly_not_bool(&self.ast)
    }

    /// The expression as a dotted field path (`self.ChildIdentifiers.UPN`), if it is nothing more.
    pub fn dotted_path(&self) -> Option<String> {
        compile::dotted_path(&self.ast)
    }

    /// Evaluates over `vars`, in the order given to [`Compiler::new`]. A variable missing from the
    /// end of `vars` reads as an absent field.
    pub fn eval<'a>(&self, vars: &[&'a Json]) -> Result<Value<'a>, EvalError> {
        self.eval_in(vars, &mut [], References::none())
    }

    /// As [`Program::eval`], keeping the values of stable sub-expressions in `memo`.
    pub fn eval_with<'a>(&self, vars: &[&'a Json], memo: &mut Memo) -> Result<Value<'a>, EvalError> {
        self.eval_full(vars, Some(memo), References::none())
    }

    /// As [`Program::eval`], with the run's reference data for the lookup functions, and a memo when the
    /// caller keeps one.
    pub fn eval_full<'a>(
        &self,
        vars: &[&'a Json],
        memo: Option<&mut Memo>,
        refs: &References,
    ) -> Result<Value<'a>, EvalError> {
        match memo {
            Some(memo) => {
                if memo.0.len() < self.needs.memo {
                    memo.0.resize(self.needs.memo, None);
                }
                self.eval_in(vars, &mut memo.0, refs)
            }
            None => self.eval_in(vars, &mut [], refs),
        }
    }

    fn eval_in<'a>(
        &self,
        vars: &[&'a Json],
        memo: &mut [Option<Value<'static>>],
        refs: &References,
    ) -> Result<Value<'a>, EvalError> {
        if self.needs.depth == 0 {
            return self.root.eval(&mut compile::EvalEnv { vars, locals: &mut [], cache: &mut [], memo, refs });
        }
        let mut locals = [const { Value::Null }; compile::MAX_NESTING];
        let mut cache = [const { None }; compile::MAX_CACHED];
        let locals = &mut locals[..self.needs.depth.min(compile::MAX_NESTING)];
        let cache = &mut cache[..self.needs.cached.min(compile::MAX_CACHED)];
        self.root.eval(&mut compile::EvalEnv { vars, locals, cache, memo, refs })
    }

    /// The rule's outcome: true holds, false is violated, an absent field makes it not applicable,
    /// and any other failure makes it not applicable with the reason.
    pub fn check(&self, vars: &[&Json]) -> Outcome {
        outcome(self.eval(vars))
    }

    /// As [`Program::check`], keeping the values of stable sub-expressions in `memo`.
    pub fn check_with(&self, vars: &[&Json], memo: &mut Memo) -> Outcome {
        outcome(self.eval_with(vars, memo))
    }

    /// As [`Program::check`], with the run's reference data and a memo when the caller keeps one.
    pub fn check_full(&self, vars: &[&Json], memo: Option<&mut Memo>, refs: &References) -> Outcome {
        outcome(self.eval_full(vars, memo, refs))
    }

    /// Whether the expression calls a lookup function of the reference data called `name`
    /// ([`crate::reference::NAMES`]).
    pub fn reads_reference(&self, name: &str) -> bool {
        crate::reference::NAMES.iter().position(|n| *n == name).is_some_and(|i| self.needs.references & (1 << i) != 0)
    }
}

fn outcome(result: Result<Value<'_>, EvalError>) -> Outcome {
    match result {
        Ok(Value::Bool(true)) => Outcome::Holds,
        Ok(Value::Bool(false)) => Outcome::Violated,
        Ok(other) => Outcome::Failed(format!("the rule gave {} `{other}`, not true or false", other.type_name())),
        Err(e) if e.is_absence() => Outcome::NotApplicable(None),
        Err(e @ (EvalError::BadDate(_) | EvalError::BadTimestamp(_))) => Outcome::NotApplicable(Some(e.to_string())),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests;
