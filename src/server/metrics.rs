//! Prometheus metrics: what the broker counts, with the handles looked up once.
//!
//! Names: `chat_held_polls` and `chat_clients` (gauges), `chat_messages_sent_total{outcome}`,
//! `chat_deliveries_total`, `chat_polls_total{outcome}`, `chat_store_errors_total`,
//! `chat_pushes_total{outcome}` (counters),
//! `chat_send_duration_seconds`, `chat_wakeup_seconds` and `chat_search_seconds` (histograms).

use std::{sync::OnceLock, time::Duration};

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::model::PollStatus;

/// Buckets (seconds) for send and wake-up latencies: 100 µs to 5 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How often recorded histogram samples are folded into their buckets. Until then each sample
/// is kept on its own, so without this upkeep memory would grow with every poll between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide Prometheus recorder (once) and returns its handle for `/metrics`.
/// Call it inside the tokio runtime: it starts the recorder's periodic upkeep there.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|builder| builder.install_recorder())
                .unwrap_or_else(|error| {
                    tracing::error!(%error, "cannot install the metrics recorder");
                    PrometheusBuilder::new().build_recorder().handle()
                });
            tokio::spawn(run_upkeep(handle.clone()));
            handle
        })
        .clone()
}

async fn run_upkeep(handle: PrometheusHandle) {
    let mut ticks = tokio::time::interval(UPKEEP_EVERY);
    loop {
        ticks.tick().await;
        handle.run_upkeep();
    }
}

/// Counts a failed store operation (`chat_store_errors_total`), whichever store failed. Store
/// failures are rare: the counter is looked up on each.
pub fn count_store_error() {
    counter!("chat_store_errors_total").increment(1);
}

/// Counts a push by what became of it (`chat_pushes_total{outcome}`): `sent`, `gone` (the
/// subscription ended), `failed`, `dropped` (the queue was full).
pub fn count_push(outcome: &'static str) {
    counter!("chat_pushes_total", "outcome" => outcome).increment(1);
}

/// Records how long a search took the index (`chat_search_seconds`): searches are few next to
/// polls, so the histogram is looked up on each.
pub fn record_search(took: Duration) {
    histogram!("chat_search_seconds").record(took.as_secs_f64());
}

/// The client registry's gauges, kept current by the registry itself.
#[derive(Clone)]
pub struct RegistryMetrics {
    pub held_polls: Gauge,
    pub clients: Gauge,
}

/// The broker's metrics. Without an installed recorder every update is a no-op.
pub struct BrokerMetrics {
    pub registry: RegistryMetrics,
    pub sent: Counter,
    pub send_failed: Counter,
    pub deliveries: Counter,
    pub send_duration: Histogram,
    pub wakeup: Histogram,
    polls_with_messages: Counter,
    polls_reset: Counter,
    polls_timeout: Counter,
    polls_superseded: Counter,
    polls_disconnected: Counter,
    polls_refused: Counter,
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        let polls = |outcome: &'static str| counter!("chat_polls_total", "outcome" => outcome);
        Self {
            registry: RegistryMetrics {
                held_polls: gauge!("chat_held_polls"),
                clients: gauge!("chat_clients"),
            },
            sent: counter!("chat_messages_sent_total", "outcome" => "sent"),
            send_failed: counter!("chat_messages_sent_total", "outcome" => "store_error"),
            deliveries: counter!("chat_deliveries_total"),
            send_duration: histogram!("chat_send_duration_seconds"),
            wakeup: histogram!("chat_wakeup_seconds"),
            polls_with_messages: polls("message"),
            polls_reset: polls("reset"),
            polls_timeout: polls("timeout"),
            polls_superseded: polls("superseded"),
            polls_disconnected: polls("disconnected"),
            polls_refused: polls("refused"),
        }
    }
}

impl BrokerMetrics {
    /// Counts how a poll ended (and the messages it delivered).
    pub fn poll_answered(&self, status: PollStatus, reset: bool, messages: usize) {
        let outcome = match status {
            _ if reset => &self.polls_reset,
            PollStatus::Success => &self.polls_with_messages,
            PollStatus::Timeout => &self.polls_timeout,
            PollStatus::Superseded => &self.polls_superseded,
            PollStatus::Disconnected => &self.polls_disconnected,
        };
        outcome.increment(1);
        self.deliveries.increment(messages as u64);
    }

    pub fn poll_refused(&self) {
        self.polls_refused.increment(1);
    }
}
