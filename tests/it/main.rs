//! Every integration test of `deploy`, in one test binary: each file links the AWS SDK and
//! the whole crate, so one binary links them once instead of once per file.
//!
//! - Offline: `validate`, `schema`, `edit`, `render` (snapshots), `template_checks`
//!   (cfn-lint, cfn-guard, checkov), `newcomer`, and the engines against recorded clients
//!   (`engine`, `run_engine`).
//! - `local_*`: end to end against the local stand-ins (`make local-up`), with the real
//!   binary and the real functions. Each uses an environment of its own, so they can run
//!   side by side; `common::stand_in` keeps the one that must see the stand-in alone apart.
//!
//! One file: `cargo test --test it render::` (a module's tests), or a test's name.

// The end-to-end tests hold `common::stand_in`'s lock for their whole life, awaits
// included, on purpose: each test has a runtime of its own, so the only other holders are
// other tests' threads, which wait (blocking) without ever needing this one's runtime.
#![allow(clippy::await_holding_lock)]

mod cli;
#[cfg(feature = "aws")]
mod common;

mod contract;
mod edit;
mod engine;
mod local_concurrency;
mod local_db_access;
mod local_deploy;
mod local_dr;
mod local_edges;
mod local_migrate_skip;
mod local_monitoring;
mod local_permissions;
mod local_preflight;
mod local_requeue;
mod local_ride_through;
mod local_run;
mod local_schedule;
mod newcomer;
mod render;
mod run_engine;
mod schema;
mod template_checks;
mod validate;
