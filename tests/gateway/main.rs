//! The gateway as an organisation talks to it: the real binary over HTTP and TLS, its limits, and crash
//! recovery.

#[path = "../common/mod.rs"]
mod common;

mod bounds;
mod crash;
mod dfe_send;
mod messages;
mod scale_out;
mod store_suite;
mod tls;
