//! `threadwork audit` and `threadwork jobs show`: read the audit log and transcripts — from the
//! store when no bot holds it, else from the running bot's ops server — filter them and print
//! them as a table or JSON lines. Filtering and rendering are pure.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::job::Job;
use crate::store::{AuditRecord, JobChain, SledStore, Store, TranscriptEntry};

/// What to keep. A record about a job (an approval, a cancel, a PR action) matches the
/// channel and outcome of that job's `job_finished` record.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub agent: Option<String>,
    pub user: Option<String>,
    pub channel: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

/// A `--since` that is neither a time nor a span.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSince {
    #[error("`{0}` is neither a time (RFC 3339) nor a span like 30m, 24h, 7d")]
    Neither(String),
    #[error("`{0}`: use m, h or d for the span")]
    Unit(String),
}

/// `2026-11-24T10:00:00Z`, or a span back from `now`: `30m`, `24h`, `7d`.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, BadSince> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let (n, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = n.parse().map_err(|_| BadSince::Neither(text.to_string()))?;
    let span = match unit {
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return Err(BadSince::Unit(text.to_string())),
    };
    Ok(now - span)
}

pub fn select<'a>(records: &'a [AuditRecord], f: &Filter) -> Vec<&'a AuditRecord> {
    let chains: HashMap<u64, &JobChain> = records
        .iter()
        .filter_map(|r| Some((r.job?, r.chain.as_deref()?)))
        .collect();
    records
        .iter()
        .filter(|r| {
            let chain = r.job.and_then(|j| chains.get(&j)).copied();
            f.agent.as_ref().is_none_or(|a| &r.agent == a)
                && f.user
                    .as_ref()
                    .is_none_or(|u| &r.by == u || chain.is_some_and(|c| &c.requester == u))
                && f.channel
                    .as_ref()
                    .is_none_or(|c| chain.is_some_and(|x| &x.channel == c))
                && f.outcome
                    .as_ref()
                    .is_none_or(|o| chain.is_some_and(|x| &x.outcome == o))
                && f.since.is_none_or(|s| r.at >= s)
        })
        .collect()
}

/// One line per record.
pub fn table(records: &[&AuditRecord]) -> String {
    let mut out = format!(
        "{:<20} {:<18} {:>5} {:<14} {:<12} {}\n",
        "at", "action", "job", "agent", "by", "details"
    );
    for r in records {
        let details = match &r.chain {
            Some(c) => {
                let mut d = format!(
                    "{} · {} · {} · prompt {} · ${:.4} · {}/{} tokens",
                    c.outcome,
                    c.harness,
                    c.model.as_deref().unwrap_or("default model"),
                    r.prompt_version.as_deref().unwrap_or("?"),
                    c.cost_usd,
                    c.input_tokens,
                    c.output_tokens
                );
                if let Some(s) = &c.sandbox {
                    d.push_str(&format!(
                        " · {} {}",
                        s.runtime,
                        s.image.as_deref().unwrap_or("")
                    ));
                }
                if let Some(pr) = &c.pr {
                    d.push_str(&format!(" · {pr}"));
                }
                d
            }
            None => [
                r.amendment.map(|a| format!("amendment {a}")),
                r.prompt_version.as_ref().map(|v| format!("prompt {v}")),
                r.detail.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
        };
        out.push_str(&format!(
            "{:<20} {:<18} {:>5} {:<14} {:<12} {}\n",
            r.at.format("%Y-%m-%d %H:%M:%S"),
            r.action,
            r.job.map(|j| j.to_string()).unwrap_or_default(),
            r.agent,
            r.by,
            details
        ));
    }
    out
}

/// JSON lines, one record each.
pub fn json_lines(records: &[&AuditRecord]) -> String {
    records
        .iter()
        .filter_map(|r| serde_json::to_string(r).ok())
        .map(|l| l + "\n")
        .collect()
}

/// A job and its transcript, as `jobs show` prints them.
pub fn show_job(job: &Job, transcript: &[TranscriptEntry]) -> String {
    let mut out = format!(
        "job {} · {} · agent {} · harness {} · model {}\nrequested by {} in {} (thread {}): {}\n",
        job.id,
        job.state.label(),
        job.agent,
        job.harness,
        job.model.as_deref().unwrap_or("default"),
        job.requester,
        job.channel,
        job.thread_ts,
        job.task
    );
    if let Some(v) = &job.prompt_version {
        out.push_str(&format!("prompt {v} · amendments {:?}\n", job.amendments));
    }
    if let Some(s) = &job.sandbox {
        out.push_str(&format!(
            "sandbox {} {} {} · {}\n",
            s.runtime,
            s.image.as_deref().unwrap_or("-"),
            s.digest.as_deref().unwrap_or(""),
            s.limits
        ));
    }
    if let Some(pr) = &job.pr {
        out.push_str(&format!("PR {}\n", pr.url));
    }
    out.push_str(&format!(
        "transcript: {} events{}\n",
        transcript.len(),
        if job.transcript_dropped > 0 {
            format!(" ({} more not kept)", job.transcript_dropped)
        } else {
            String::new()
        }
    ));
    let start = transcript.first().map(|e| e.at);
    for e in transcript {
        let offset = start
            .map(|s| (e.at - s).num_milliseconds() as f64 / 1000.0)
            .unwrap_or(0.0);
        let line = serde_json::to_string(&e.event).unwrap_or_default();
        out.push_str(&format!("+{offset:>8.3}s {line}\n"));
    }
    if let Some(f) = &job.failure {
        out.push_str(&format!("failure: {f}\n"));
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot open the store at {path} ({store}) and no `[ops] listen` is configured to ask the running bot")]
    NoStore { path: String, store: String },
    #[error("the store is in use and the bot's ops server at {url} did not answer: {message}")]
    Ops { url: String, message: String },
    #[error("no job {0}")]
    NoJob(u64),
}

/// The store, or (when a running bot holds it) the URL of that bot's ops server.
pub enum Source {
    Store(SledStore),
    /// The running bot's ops server, and the bearer token it asks for.
    Ops(String, Option<SecretString>),
}

pub fn source(
    store: &Path,
    ops: Option<std::net::SocketAddr>,
    token: Option<SecretString>,
) -> Result<Source, ReadError> {
    match SledStore::open(store) {
        Ok(s) => Ok(Source::Store(s)),
        Err(e) => match ops {
            // A server bound to every interface is asked on this machine's loopback.
            Some(addr) if addr.ip().is_unspecified() => Ok(Source::Ops(
                format!("http://127.0.0.1:{}", addr.port()),
                token,
            )),
            Some(addr) => Ok(Source::Ops(format!("http://{addr}"), token)),
            None => Err(ReadError::NoStore {
                path: store.display().to_string(),
                store: e.to_string(),
            }),
        },
    }
}

impl Source {
    pub async fn audit(&self) -> Result<Vec<AuditRecord>, ReadError> {
        match self {
            Source::Store(s) => s.audit().map_err(|e| ReadError::NoStore {
                path: "store".into(),
                store: e.to_string(),
            }),
            Source::Ops(url, token) => {
                let text = get(&format!("{url}/audit"), token.as_ref()).await?;
                Ok(text
                    .lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect())
            }
        }
    }

    /// The records exactly as stored, for the chain check.
    pub async fn audit_raw(&self) -> Result<Vec<Vec<u8>>, ReadError> {
        match self {
            Source::Store(s) => s.audit_raw().map_err(|e| ReadError::NoStore {
                path: "store".into(),
                store: e.to_string(),
            }),
            Source::Ops(url, token) => {
                let text = get(&format!("{url}/audit"), token.as_ref()).await?;
                Ok(text.lines().map(|l| l.as_bytes().to_vec()).collect())
            }
        }
    }

    pub async fn job(&self, id: u64) -> Result<(Job, Vec<TranscriptEntry>), ReadError> {
        match self {
            Source::Store(s) => {
                let err = |e: crate::store::StoreError| ReadError::NoStore {
                    path: "store".into(),
                    store: e.to_string(),
                };
                let job = s.job(id).map_err(err)?.ok_or(ReadError::NoJob(id))?;
                Ok((job, s.transcript(id).map_err(err)?))
            }
            Source::Ops(url, token) => {
                let text = get(&format!("{url}/jobs/{id}"), token.as_ref()).await?;
                let v: serde_json::Value =
                    serde_json::from_str(&text).map_err(|_| ReadError::NoJob(id))?;
                let job =
                    serde_json::from_value(v["job"].clone()).map_err(|_| ReadError::NoJob(id))?;
                let transcript =
                    serde_json::from_value(v["transcript"].clone()).unwrap_or_default();
                Ok((job, transcript))
            }
        }
    }
}

impl Source {
    /// An agent's amendments and its approved cases (for `threadwork eval`).
    pub async fn learning(
        &self,
        agent: &str,
    ) -> Result<
        (
            Vec<crate::amendments::Amendment>,
            Vec<crate::evals::ApprovedCase>,
        ),
        ReadError,
    > {
        match self {
            Source::Store(s) => {
                let err = |e: crate::store::StoreError| ReadError::NoStore {
                    path: "store".into(),
                    store: e.to_string(),
                };
                Ok((
                    s.amendments(agent).map_err(err)?,
                    s.eval_cases(agent).map_err(err)?,
                ))
            }
            Source::Ops(url, token) => {
                let target = format!("{url}/agents/{agent}/learning");
                let text = get(&target, token.as_ref()).await?;
                let bad = |e: serde_json::Error| ReadError::Ops {
                    url: target.clone(),
                    message: format!("not the expected answer: {e}"),
                };
                let v: serde_json::Value = serde_json::from_str(&text).map_err(bad)?;
                Ok((
                    serde_json::from_value(v["amendments"].clone()).map_err(bad)?,
                    serde_json::from_value(v["approved_cases"].clone()).map_err(bad)?,
                ))
            }
        }
    }

    /// A stored prompt version's text.
    pub async fn prompt_version(&self, version: &str) -> Result<Option<String>, ReadError> {
        match self {
            Source::Store(s) => s.prompt_version(version).map_err(|e| ReadError::NoStore {
                path: "store".into(),
                store: e.to_string(),
            }),
            Source::Ops(url, token) => {
                match get(&format!("{url}/prompt_versions/{version}"), token.as_ref()).await {
                    Ok(text) => Ok(Some(text)),
                    Err(ReadError::Ops { message, .. }) if message.starts_with("404") => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

async fn get(url: &str, token: Option<&SecretString>) -> Result<String, ReadError> {
    let fail = |message: String| ReadError::Ops {
        url: url.to_string(),
        message,
    };
    // Straight to the bot: a proxy must never carry the ops token.
    let mut req = crate::net::outbound()
        .direct()
        .build()
        .unwrap_or_default()
        .get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t.expose_secret());
    }
    let resp = req.send().await.map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let why = resp.text().await.unwrap_or_default();
        return Err(fail(format!("{status}: {}", why.trim())));
    }
    resp.text().await.map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::sample_job;

    fn finished(job: u64, agent: &str, channel: &str, outcome: &str) -> AuditRecord {
        let mut j = sample_job(job);
        j.agent = agent.into();
        j.channel = channel.into();
        let mut chain = crate::jobs::job_chain(&j, None);
        chain.outcome = outcome.into();
        AuditRecord {
            job: Some(job),
            chain: Some(Box::new(chain)),
            ..AuditRecord::new("job_finished", "U1", agent)
        }
    }

    #[test]
    fn filters_join_on_the_job_chain() {
        let records = vec![
            finished(1, "coder", "C1", "succeeded"),
            finished(2, "coder", "C2", "failed"),
            AuditRecord {
                job: Some(1),
                ..AuditRecord::new("result_approved", "U2", "coder")
            },
            finished(3, "writer", "C1", "cancelled"),
        ];
        let pick = |f: Filter| {
            select(&records, &f)
                .iter()
                .map(|r| (r.job.unwrap(), r.action.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pick(Filter {
                channel: Some("C1".into()),
                agent: Some("coder".into()),
                ..Default::default()
            }),
            vec![(1, "job_finished".into()), (1, "result_approved".into())]
        );
        assert_eq!(
            pick(Filter {
                outcome: Some("failed".into()),
                ..Default::default()
            }),
            vec![(2, "job_finished".into())]
        );
        assert_eq!(
            pick(Filter {
                user: Some("U2".into()),
                ..Default::default()
            }),
            vec![(1, "result_approved".into())]
        );
        let text = table(&select(&records, &Filter::default()));
        assert_eq!(text.lines().count(), 5);
        let lines = json_lines(&select(&records, &Filter::default()));
        for l in lines.lines() {
            let _: AuditRecord = serde_json::from_str(l).unwrap();
        }
    }

    #[test]
    fn since_takes_times_and_spans() {
        let now = Utc::now();
        assert_eq!(parse_since("24h", now).unwrap(), now - Duration::hours(24));
        assert_eq!(parse_since("7d", now).unwrap(), now - Duration::days(7));
        assert!(parse_since("2026-11-24T10:00:00Z", now).is_ok());
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("5w", now).is_err());
    }
}
