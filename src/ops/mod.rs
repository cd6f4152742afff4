//! Operating the bot: redaction, metrics, the ops HTTP server (health, metrics, the HTTP
//! Events API transport), the audit and transcript readers, and `doctor`.

pub mod audit;
pub mod doctor;
pub mod metrics;
pub mod redact;
pub mod server;
