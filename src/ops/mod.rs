//! Operating the bot: redaction, metrics and the ops HTTP server (health, metrics, the audit
//! trail and jobs for operators, the HTTP Events API transport).

pub mod metrics;
pub mod redact;
pub mod server;
