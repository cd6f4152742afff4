//! Model APIs: the proxy every sandbox reaches its model through, usage accounting from the
//! APIs' own responses, and a mock of those APIs for tests and benchmarks.

pub mod gate;
pub mod listen;
#[cfg(feature = "fakes")]
pub mod mock;
pub mod proxy;
pub mod usage;

use serde::{Deserialize, Serialize};

/// A model API family, by wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Anthropic Messages (`POST /v1/messages`).
    Anthropic,
    /// OpenAI Responses and Chat Completions (`POST /v1/responses`, `/v1/chat/completions`).
    OpenAi,
    /// Google's Gemini API, the model named in the path
    /// (`POST /v1beta/models/<model>:streamGenerateContent`).
    Google,
}

impl Provider {
    pub fn label(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::Google => "google",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "anthropic" => Some(Provider::Anthropic),
            "openai" => Some(Provider::OpenAi),
            "google" => Some(Provider::Google),
            _ => None,
        }
    }
}
