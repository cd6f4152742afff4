//! Decisions whose audit record a crash lost.
//!
//! `Store::record_decision` writes a decision (a result's verdict, an amendment's status),
//! then its audit record, then flushes once. sled recovers a prefix of its log, so a crash
//! keeps both, neither, or the decision alone. At start-up each stored decision is matched
//! with the last record of its kind; a decision without one gets its record then, saying so,
//! so the trail never lacks a decision the bot acted on. Pure: the bot appends what this
//! returns.

use std::collections::HashMap;

use crate::amendments::{Amendment, AmendmentStatus};
use crate::job::Job;
use crate::store::AuditRecord;

const VERDICTS: [&str; 3] = ["result_approved", "result_rejected", "verdict_withdrawn"];
const AMENDMENT_DECISIONS: [&str; 3] = [
    "amendment_adopted",
    "amendment_rejected",
    "amendment_reverted",
];

/// The records to append so that every decision in `jobs` and `amendments` has one.
pub fn missing_records(
    jobs: &[Job],
    amendments: &[Amendment],
    audit: &[AuditRecord],
) -> Vec<AuditRecord> {
    // The last verdict record per job, and the last decision record per amendment.
    let mut last_verdict: HashMap<u64, &AuditRecord> = HashMap::new();
    let mut last_decision: HashMap<(&str, u32), &AuditRecord> = HashMap::new();
    for r in audit {
        if let (Some(job), true) = (r.job, VERDICTS.contains(&r.action.as_str())) {
            last_verdict.insert(job, r);
        }
        if let (Some(n), true) = (
            r.amendment,
            AMENDMENT_DECISIONS.contains(&r.action.as_str()),
        ) {
            last_decision.insert((r.agent.as_str(), n), r);
        }
    }
    let mut out = Vec::new();
    for job in jobs {
        let last = last_verdict.get(&job.id);
        let (action, by, when) = match &job.verdict {
            Some(v) if v.approved => ("result_approved", v.by.as_str(), Some(v.at)),
            Some(v) => ("result_rejected", v.by.as_str(), Some(v.at)),
            // No verdict: nothing to match unless one was recorded and then withdrawn.
            None if last.is_none_or(|r| r.action == "verdict_withdrawn") => continue,
            None => ("verdict_withdrawn", "", None),
        };
        if last.is_some_and(|r| r.action == action && (by.is_empty() || r.by == by)) {
            continue;
        }
        out.push(AuditRecord {
            job: Some(job.id),
            prompt_version: job.prompt_version.clone(),
            detail: Some(recovered(when)),
            ..AuditRecord::new(
                action,
                if by.is_empty() { "unknown" } else { by },
                &job.agent,
            )
        });
    }
    for a in amendments {
        let action = match a.status {
            AmendmentStatus::Proposed => continue,
            AmendmentStatus::Active => "amendment_adopted",
            AmendmentStatus::Rejected => "amendment_rejected",
            AmendmentStatus::Reverted => "amendment_reverted",
        };
        if last_decision
            .get(&(a.agent.as_str(), a.number))
            .is_some_and(|r| r.action == action)
        {
            continue;
        }
        out.push(AuditRecord {
            job: a.job,
            amendment: Some(a.number),
            detail: Some(recovered(a.decided_at)),
            ..AuditRecord::new(
                action,
                a.decided_by.as_deref().unwrap_or("unknown"),
                &a.agent,
            )
        });
    }
    out
}

fn recovered(when: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let at = when
        .map(|t| format!(" (decided {})", t.to_rfc3339()))
        .unwrap_or_default();
    format!("recorded at start-up: the decision{at} was stored, its record was lost in a crash")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Verdict;

    fn job(id: u64, verdict: Option<bool>) -> Job {
        let mut j = crate::job::sample_job(id);
        j.agent = "coder".into();
        j.verdict = verdict.map(|approved| Verdict {
            approved,
            by: "U2".into(),
            at: chrono::Utc::now(),
        });
        j
    }

    fn record(action: &str, job: u64) -> AuditRecord {
        AuditRecord {
            job: Some(job),
            ..AuditRecord::new(action, "U2", "coder")
        }
    }

    // Guards: a verdict the bot acted on always has its audit record (part 1, item 9).
    #[test]
    fn a_verdict_without_its_record_gets_one_once() {
        let jobs = [job(1, Some(true)), job(2, Some(false)), job(3, None)];
        let audit = [record("result_approved", 1)];
        let missing = missing_records(&jobs, &[], &audit);
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert_eq!(missing[0].action, "result_rejected");
        assert_eq!(missing[0].job, Some(2));
        assert_eq!(missing[0].by, "U2");
        assert!(missing[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("lost in a crash"));
        // Once appended, nothing more is missing.
        let mut audit = audit.to_vec();
        audit.extend(missing);
        assert!(missing_records(&jobs, &[], &audit).is_empty());
    }

    #[test]
    fn a_withdrawal_and_a_changed_verdict_are_matched_by_the_last_record() {
        // Approved, then withdrawn: the withdrawal's record was lost.
        let withdrawn = [record("result_approved", 4)];
        let missing = missing_records(&[job(4, None)], &[], &withdrawn);
        assert_eq!(missing[0].action, "verdict_withdrawn");
        // Approved, then rejected: the rejection's record was lost.
        let changed = [record("result_approved", 5)];
        let missing = missing_records(&[job(5, Some(false))], &[], &changed);
        assert_eq!(missing[0].action, "result_rejected");
        // Rejected then withdrawn then approved, all recorded: nothing missing.
        let all = [
            record("result_rejected", 6),
            record("verdict_withdrawn", 6),
            record("result_approved", 6),
        ];
        assert!(missing_records(&[job(6, Some(true))], &[], &all).is_empty());
    }

    #[test]
    fn an_amendment_decision_without_its_record_gets_one() {
        let mut a: Amendment = serde_json::from_value(serde_json::json!({
            "agent": "coder", "number": 2, "text": "x", "author": "U1", "channel": "C1",
            "created_at": "2026-12-01T00:00:00Z", "status": "active", "decided_by": "U9"
        }))
        .expect("a minimal amendment parses");
        let missing = missing_records(&[], std::slice::from_ref(&a), &[]);
        assert_eq!(missing[0].action, "amendment_adopted");
        assert_eq!(
            (missing[0].amendment, missing[0].by.as_str()),
            (Some(2), "U9")
        );
        let recorded = AuditRecord {
            amendment: Some(2),
            ..AuditRecord::new("amendment_adopted", "U9", "coder")
        };
        assert!(missing_records(
            &[],
            std::slice::from_ref(&a),
            std::slice::from_ref(&recorded)
        )
        .is_empty());
        a.status = AmendmentStatus::Reverted;
        assert_eq!(
            missing_records(&[], &[a], &[recorded])[0].action,
            "amendment_reverted"
        );
    }
}
