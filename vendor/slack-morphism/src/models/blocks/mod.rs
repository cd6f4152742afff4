mod datetime;
mod dsl;
mod kit;
mod view;
mod workflow;

pub use datetime::*;
pub use dsl::*;
pub use kit::*;
pub use view::*;
pub use workflow::*;

#[doc = include_str!("../../../docs/src/block-kit-support.md")]
pub mod block_kit {}
