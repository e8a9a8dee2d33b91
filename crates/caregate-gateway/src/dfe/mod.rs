//! The council's daily route to DfE's CSC API: [`double`], a stand-in for DfE's API that the tests and
//! suppliers' certification run against.
//!
//! Not for: validating the children (the engine's `validate::payload` does that).

pub mod double;
