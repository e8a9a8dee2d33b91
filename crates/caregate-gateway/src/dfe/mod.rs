//! The council's daily route to DfE's CSC API: [`send`] (a run of `caregate send dfe-csc-api`) and [`route`]
//! (the gateway's messages to DfE), both through [`client`] (one request at a time) over [`outbox`]
//! (what was acknowledged and what waits, kept between runs), and [`double`], a stand-in for DfE's API that the
//! tests and suppliers' certification run against.
//!
//! Not for: validating the children (the engine's `validate::payload` does that).

pub mod client;
pub mod double;
pub mod outbox;
pub mod route;
pub mod send;
