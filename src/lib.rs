//! threadwork: a Slack-first agent bot. See ARCHITECTURE.md for the map.

pub mod agents;
pub mod amendments;
pub mod app;
pub mod authority;
pub mod backup;
#[cfg(feature = "fakes")]
pub mod bench;
pub mod bot;
pub mod chat;
pub mod cli;
pub mod config;
pub mod context;
#[cfg(feature = "fakes")]
pub mod dev;
#[cfg(feature = "fakes")]
pub mod emulator;
pub mod evals;
pub mod forge;
pub mod harness;
pub mod job;
pub mod jobs;
pub mod mcp;
pub mod model;
pub mod net;
pub mod ops;
pub mod overlap;
pub mod prompts;
pub mod request;
pub mod runtime;
pub mod schedules;
pub mod settings;
pub mod split;
pub mod store;
pub mod text;

/// Installs the TLS crypto provider once; harmless when already installed.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
