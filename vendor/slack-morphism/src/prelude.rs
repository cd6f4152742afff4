#![allow(ambiguous_glob_reexports)] // Allowing reexporting listener not to break existing code

pub use super::api::*; // Slack Web API methods (chat, users, views, etc)
pub use super::ratectl::*;

pub use super::listener::*;

pub use super::*; // access to network/client functions // Slack Events API listener (routes) implementation

pub use crate::models::blocks::*; // Slack Block Kit models
pub use crate::models::events::*;
pub use crate::models::*; // common Slack models like SlackUser, etc and macros // Slack Events Models

#[cfg(feature = "hyper-base")]
pub use crate::hyper_tokio::*;

#[cfg(feature = "axum-base")]
pub use crate::axum_support::*;

pub use rvstruct::ValueStruct; // .value() / .into_value() on every Slack newtype
