//! The commands beside the bot itself, as the `threadwork` binary runs them: `doctor`
//! (checks a deployment before it starts), `audit` / `jobs show` (read the audit trail and
//! transcripts), `eval` (an agent's suite) and `store verify`. They sit on top: they may use `config` and `app`, nothing below uses them.

pub mod audit;
pub mod doctor;
pub mod eval;
#[cfg(feature = "fakes")]
pub mod fakes;
pub mod store;
