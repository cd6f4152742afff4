//! The bot's metrics, kept with `prometheus-client` and served as Prometheus (OpenMetrics)
//! text at `/metrics`. One `Metrics` per running bot (tests run several in one process).

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentState {
    pub agent: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentLabel {
    pub agent: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentKind {
    pub agent: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub agent: String,
    pub direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub events_received: Counter,
    pub events_acked: Counter,
    /// Envelopes left unacked because the inbound queue was full (Slack redelivers them).
    pub events_shed: Counter,
    /// Events whose handling failed because the store did (a full or failing disk).
    pub store_failures: Counter,
    /// From an envelope's arrival in the push callback to the callback's return, after which
    /// the ack goes out.
    pub ack_seconds: Histogram,
    /// Jobs that reached a state, by agent (queued and running count starts).
    pub jobs: Family<AgentState, Counter>,
    /// Jobs now queued or running, by agent.
    pub jobs_active: Family<AgentState, Gauge>,
    pub job_seconds: Family<AgentLabel, Histogram>,
    pub queue_depth: Gauge,
    /// Bytes the job workspaces take, at the last sweep.
    pub workspace_bytes: Gauge,
    pub slack_calls: Family<MethodLabel, Counter>,
    pub slack_ratelimited: Family<MethodLabel, Counter>,
    pub harness_events: Family<AgentKind, Counter>,
    pub tokens: Family<TokenLabels, Counter>,
    pub cost_usd: Family<AgentLabel, Counter<f64, AtomicU64>>,
    /// HTTP Events API requests refused (bad signature, stale timestamp, bad body).
    pub http_rejected: Family<ReasonLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("threadwork");
        let events_received = Counter::default();
        registry.register(
            "events_received",
            "Slack event envelopes received",
            events_received.clone(),
        );
        let events_acked = Counter::default();
        registry.register(
            "events_acked",
            "Slack event envelopes acknowledged",
            events_acked.clone(),
        );
        let events_shed = Counter::default();
        registry.register(
            "events_shed",
            "Slack event envelopes not acked because the inbound queue was full",
            events_shed.clone(),
        );
        let store_failures = Counter::default();
        registry.register(
            "store_failures",
            "Events not carried out because the store failed (a full or failing disk)",
            store_failures.clone(),
        );
        let ack_seconds = Histogram::new(exponential_buckets(0.000_01, 4.0, 10));
        registry.register(
            "ack_seconds",
            "Time from an envelope's arrival to its acknowledgement",
            ack_seconds.clone(),
        );
        let jobs = Family::<AgentState, Counter>::default();
        registry.register("jobs", "Jobs that reached a state, by agent", jobs.clone());
        let jobs_active = Family::<AgentState, Gauge>::default();
        registry.register(
            "jobs_active",
            "Jobs queued or running now, by agent",
            jobs_active.clone(),
        );
        let job_seconds = Family::<AgentLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.5, 2.0, 14))
        });
        registry.register(
            "job_seconds",
            "Wall-clock time of finished jobs, by agent",
            job_seconds.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Jobs waiting for a run slot",
            queue_depth.clone(),
        );
        let workspace_bytes = Gauge::default();
        registry.register(
            "workspace_bytes",
            "Bytes the job workspaces take under [jobs] workdir, at the last sweep",
            workspace_bytes.clone(),
        );
        let slack_calls = Family::<MethodLabel, Counter>::default();
        registry.register(
            "slack_api_calls",
            "Slack Web API calls, by method",
            slack_calls.clone(),
        );
        let slack_ratelimited = Family::<MethodLabel, Counter>::default();
        registry.register(
            "slack_api_ratelimited",
            "Slack Web API calls answered 429 (ratelimited), by method",
            slack_ratelimited.clone(),
        );
        let harness_events = Family::<AgentKind, Counter>::default();
        registry.register(
            "harness_events",
            "Harness events, by agent and kind",
            harness_events.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "model_tokens",
            "Model tokens, by agent and direction",
            tokens.clone(),
        );
        let cost_usd = Family::<AgentLabel, Counter<f64, AtomicU64>>::default();
        registry.register(
            "model_cost_usd",
            "Model cost in US dollars, by agent",
            cost_usd.clone(),
        );
        let http_rejected = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "http_events_rejected",
            "HTTP Events API requests refused, by reason",
            http_rejected.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            events_received,
            events_acked,
            events_shed,
            store_failures,
            ack_seconds,
            jobs,
            jobs_active,
            job_seconds,
            queue_depth,
            workspace_bytes,
            slack_calls,
            slack_ratelimited,
            harness_events,
            tokens,
            cost_usd,
            http_rejected,
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    pub fn job_state(&self, agent: &str, state: &str) {
        self.jobs
            .get_or_create(&AgentState {
                agent: agent.into(),
                state: state.into(),
            })
            .inc();
    }

    pub fn active(&self, agent: &str, state: &str, delta: i64) {
        self.jobs_active
            .get_or_create(&AgentState {
                agent: agent.into(),
                state: state.into(),
            })
            .inc_by(delta);
    }

    pub fn slack_call(&self, method: &str, ratelimited: bool) {
        let label = MethodLabel {
            method: method.into(),
        };
        self.slack_calls.get_or_create(&label).inc();
        if ratelimited {
            self.slack_ratelimited.get_or_create(&label).inc();
        }
    }

    pub fn rejected(&self, reason: &str) {
        self.http_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.job_state("coder", "succeeded");
        m.slack_call("chat.update", true);
        m.cost_usd
            .get_or_create(&AgentLabel {
                agent: "coder".into(),
            })
            .inc_by(0.25);
        let text = m.render();
        assert!(
            text.contains("threadwork_jobs_total{agent=\"coder\",state=\"succeeded\"} 1"),
            "{text}"
        );
        assert!(text.contains("threadwork_slack_api_ratelimited_total{method=\"chat.update\"} 1"));
        assert!(text.contains("threadwork_model_cost_usd_total{agent=\"coder\"} 0.25"));
        assert!(text.ends_with("# EOF\n"));
    }
}
