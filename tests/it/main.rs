//! The integration tests: one binary, one module per capability, so `common` (a running
//! emulator and bot in one line, the fake forge and Kubernetes API, polling helpers) is
//! compiled once. `cargo test --test it <module>::` runs one capability.

mod common;
mod company_network;
mod config_reference;
mod context;
mod evals;
mod faults;
mod harnesses;
mod hostile;
mod kubernetes;
mod learning;
mod manifest;
mod mcp;
mod ops;
mod overlaps;
mod pipeline;
mod prs;
mod restart;
mod sandbox;
mod schedules;
mod slack_sdk;
mod trust;
