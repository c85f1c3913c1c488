//! The integration tests: one test binary, so the crate is linked once, not once per area.
//! [`common`] is the harness; each other module is one area, tested through the whole app
//! in-process (`oneshot`, or `serve` on port 0), against the stores, or with real processes (the
//! server, `redis-server`, nginx) each on ports of their own. One area alone:
//! `cargo test --features ssr --test suite http::`.
//!
//! The one other test binary is `tests/abuse.rs`: attacks whose bystander must be served within
//! a time, which must not share the cores with the tests here (see there).
//!
//! Every test runs in this one process, in parallel with the others, so none may rely on
//! process-wide state being its own:
//! - the Prometheus recorder `main` installs: [`metrics`] counts into a recorder of its own;
//! - leptos_router's route generation, which stalls any page rendered meanwhile: apps are built
//!   and pages rendered under one lock (`common::app`);
//! - the limit on open files, which one test's thousand held polls come near: the first server a
//!   test starts lifts it to the hard limit (`common::process`);
//!
//! Nothing else is shared: no test sets environment variables or the current directory, ports
//! are free ones the kernel picks, and each test names rooms and accounts of its own or opens an
//! app of its own.
#![cfg(feature = "ssr")]

#[path = "../common/mod.rs"]
mod common;

mod app;
mod cluster;
mod cluster_live;
mod connections;
mod direct;
mod files;
mod fuzz;
mod http;
mod identity;
mod identity_processes;
mod live;
mod mentions;
mod messages;
mod metrics;
mod nginx;
mod openapi;
mod page_headers;
mod pages;
mod push;
mod reads;
mod restart;
mod schema;
mod search;
mod shutdown;
mod static_files;
mod store_contract;
mod stream;
