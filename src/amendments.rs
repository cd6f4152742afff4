//! Amendments: corrections from the thread that become part of an agent's prompt once an owner
//! adopts them. The record and its status machine are pure; the store keeps them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::job::JobId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmendmentStatus {
    Proposed,
    Active,
    Rejected,
    Reverted,
}

impl AmendmentStatus {
    pub fn label(self) -> &'static str {
        match self {
            AmendmentStatus::Proposed => "proposed",
            AmendmentStatus::Active => "active",
            AmendmentStatus::Rejected => "rejected",
            AmendmentStatus::Reverted => "reverted",
        }
    }
}

/// What a person does to an amendment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmendmentAction {
    Adopt,
    Reject,
    Revert,
}

/// Why an action does not apply to an amendment in its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotApplicable {
    #[error("it is already active")]
    AlreadyActive,
    #[error("it was never adopted; reject it instead")]
    NeverAdopted,
    #[error("it is {}", .0.label())]
    Settled(AmendmentStatus),
}

impl AmendmentAction {
    /// The status the action leads to from `from`, or why it cannot apply.
    pub fn apply(self, from: AmendmentStatus) -> Result<AmendmentStatus, NotApplicable> {
        use AmendmentAction::*;
        use AmendmentStatus::*;
        match (self, from) {
            (Adopt, Proposed) => Ok(Active),
            (Reject, Proposed) => Ok(Rejected),
            (Revert, Active) => Ok(Reverted),
            (Adopt, Active) => Err(NotApplicable::AlreadyActive),
            (Revert, Proposed) => Err(NotApplicable::NeverAdopted),
            (_, s) => Err(NotApplicable::Settled(s)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    pub agent: String,
    /// Per-agent number, from 1.
    pub number: u32,
    pub text: String,
    /// Slack user id of who proposed it.
    pub author: String,
    /// Link to the message it came from.
    pub permalink: Option<String>,
    pub job: Option<JobId>,
    pub channel: String,
    /// Our message announcing it (reactions on it adopt or reject).
    pub message_ts: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status: AmendmentStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use AmendmentAction::*;
    use AmendmentStatus::*;

    #[test]
    fn status_machine() {
        assert_eq!(Adopt.apply(Proposed), Ok(Active));
        assert_eq!(Reject.apply(Proposed), Ok(Rejected));
        assert_eq!(Revert.apply(Active), Ok(Reverted));
        assert_eq!(Adopt.apply(Active), Err(NotApplicable::AlreadyActive));
        assert_eq!(
            Adopt.apply(Active).unwrap_err().to_string(),
            "it is already active"
        );
        assert!(Adopt.apply(Rejected).is_err());
        assert!(Revert.apply(Proposed).is_err());
        assert!(Reject.apply(Active).is_err());
        assert!(Adopt.apply(Reverted).is_err());
    }
}
