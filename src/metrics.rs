//! Prometheus metrics: one registry behind a cheap, `Send + Sync` [`Metrics`] handle shared by
//! the HTTP workers and the actors' arbiter, and the typed recording calls the pipeline makes.
//! It only counts: the gauges observed at scrape time are read by `http::metrics` and set here.
//!
//! Every name starts with `gorgias_agent_`; counters end in `_total`, durations are histograms in
//! `_seconds` (the OpenMetrics encoder of `prometheus-client` adds both suffixes). Labels carry
//! only bounded sets of codes (outcomes, reasons, endpoints, statuses, modes), never ticket ids.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::domain::outcome::{ActionName, HandoffReason, IntakeOutcome};
use crate::domain::plan::Mode;
use crate::gorgias::api::{CallObserver, CallRecord};

/// The `Content-Type` of a scrape answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    endpoint: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BrainLabels {
    brain: &'static str,
    outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latencies of Gorgias calls: 5 ms to about 40 s.
fn gorgias_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Latencies of brain decisions: 1 ms (embedded) to about 2 min (a slow model).
fn brain_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

struct Inner {
    registry: Registry,
    webhooks: Family<OutcomeLabels, Counter>,
    replies_posted: Family<ModeLabels, Counter>,
    notes_posted: Family<ModeLabels, Counter>,
    reassignments: Family<ModeLabels, Counter>,
    tags_added: Family<ModeLabels, Counter>,
    tickets_closed: Family<ModeLabels, Counter>,
    handoffs: Family<ReasonLabels, Counter>,
    actions_failed: Family<ActionLabels, Counter>,
    gorgias_requests: Family<CallLabels, Counter>,
    gorgias_duration: HistogramFamily<EndpointLabels>,
    rate_limit_wait: Counter<f64, AtomicU64>,
    brain_duration: HistogramFamily<BrainLabels>,
    turns_in_progress: Gauge,
    ticket_actors: Gauge,
    outbox_pending: Gauge,
    outbox_retrying: Gauge,
    outbox_oldest_failure: Gauge,
    dedup_entries: Gauge,
    storage_queued_commits: Gauge,
    order_lookups: Family<SourceLabels, Counter>,
    order_fetch_failures: Family<ReasonLabels, Counter>,
}

/// The metrics registry and its handles; clones share everything.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("gorgias_agent");
        let webhooks = Family::default();
        r.register(
            "webhooks",
            "Webhook deliveries by outcome (accepted, ignored, duplicate, rejected, unauthorized, unavailable) and reason",
            webhooks.clone(),
        );
        let replies_posted = Family::default();
        r.register(
            "replies_posted",
            "Public replies delivered to Gorgias, by mode (dry-run: decided, not sent)",
            replies_posted.clone(),
        );
        let notes_posted = Family::default();
        r.register(
            "notes_posted",
            "Internal notes delivered to Gorgias (handoff notes, shadow drafts), by mode",
            notes_posted.clone(),
        );
        let reassignments = Family::default();
        r.register(
            "reassignments",
            "Tickets reassigned to the handoff user or team, by mode",
            reassignments.clone(),
        );
        let tags_added = Family::default();
        r.register(
            "tags_added",
            "Tag names added to tickets (handoff.tags, autopilot.reply_tags), by mode",
            tags_added.clone(),
        );
        let tickets_closed = Family::default();
        r.register(
            "tickets_closed",
            "Tickets closed after an AI reply (autopilot.close_after_reply), by mode",
            tickets_closed.clone(),
        );
        let handoffs = Family::default();
        r.register(
            "handoffs",
            "Tickets handed to humans, by reason",
            handoffs.clone(),
        );
        let actions_failed = Family::default();
        r.register(
            "outbox_failed_actions",
            "Outbound actions given up on (refused by Gorgias or still failing after gorgias.retry_for_secs), by action",
            actions_failed.clone(),
        );
        let gorgias_requests = Family::default();
        r.register(
            "gorgias_requests",
            "Gorgias API calls by endpoint and status (2xx, an HTTP status, or timeout/connect/interrupted/decode)",
            gorgias_requests.clone(),
        );
        let gorgias_duration: HistogramFamily<EndpointLabels> =
            Family::new_with_constructor(gorgias_histogram);
        r.register_with_unit(
            "gorgias_request_duration",
            "Latency of Gorgias API calls, by endpoint (rate-limit wait excluded)",
            Unit::Seconds,
            gorgias_duration.clone(),
        );
        let rate_limit_wait = Counter::<f64, AtomicU64>::default();
        r.register_with_unit(
            "gorgias_rate_limit_wait",
            "Time Gorgias calls spent waiting for the account's rate budget (pacing and Retry-After)",
            Unit::Seconds,
            rate_limit_wait.clone(),
        );
        let brain_duration: HistogramFamily<BrainLabels> =
            Family::new_with_constructor(brain_histogram);
        r.register_with_unit(
            "brain_duration",
            "Time the brain took to decide, by brain and outcome (reply, handoff, error)",
            Unit::Seconds,
            brain_duration.clone(),
        );
        let turns_in_progress = Gauge::default();
        r.register(
            "turns_in_progress",
            "Ticket turns running now",
            turns_in_progress.clone(),
        );
        let ticket_actors = Gauge::default();
        r.register(
            "ticket_actors",
            "Live ticket actors (idle ones are passivated after sessions.idle_secs)",
            ticket_actors.clone(),
        );
        let outbox_pending = Gauge::default();
        r.register(
            "outbox_pending_actions",
            "Outbound Gorgias actions decided but not yet delivered",
            outbox_pending.clone(),
        );
        let outbox_retrying = Gauge::default();
        r.register(
            "outbox_retrying_actions",
            "Outbound actions whose last attempt failed and that are being retried",
            outbox_retrying.clone(),
        );
        let outbox_oldest_failure = Gauge::default();
        r.register_with_unit(
            "outbox_oldest_failure_age",
            "How long the longest-failing outbound action has been failing (0: none)",
            Unit::Seconds,
            outbox_oldest_failure.clone(),
        );
        let dedup_entries = Gauge::default();
        r.register(
            "dedup_entries",
            "Deliveries remembered by the deduplication window",
            dedup_entries.clone(),
        );
        let storage_queued_commits = Gauge::default();
        r.register(
            "storage_queued_commits",
            "Storage commits waiting for the group committer",
            storage_queued_commits.clone(),
        );
        let order_lookups = Family::default();
        r.register(
            "order_lookups",
            "Turns that needed the customer's orders, by where they came from (body, fetched, cache, none)",
            order_lookups.clone(),
        );
        let order_fetch_failures = Family::default();
        r.register(
            "order_fetch_failures",
            "Failed GET /api/customers/{id} for order data (the turn went on without it), by reason",
            order_fetch_failures.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry: r,
                webhooks,
                replies_posted,
                notes_posted,
                reassignments,
                tags_added,
                tickets_closed,
                handoffs,
                actions_failed,
                gorgias_requests,
                gorgias_duration,
                rate_limit_wait,
                brain_duration,
                turns_in_progress,
                ticket_actors,
                outbox_pending,
                outbox_retrying,
                outbox_oldest_failure,
                dedup_entries,
                storage_queued_commits,
                order_lookups,
                order_fetch_failures,
            }),
        }
    }

    /// A webhook answered with `outcome` (and a bounded `reason` code).
    pub fn webhook(&self, outcome: IntakeOutcome, reason: &'static str) {
        self.inner
            .webhooks
            .get_or_create(&OutcomeLabels {
                outcome: outcome.code(),
                reason,
            })
            .inc();
    }

    /// An outbox action was delivered (tags are counted by name: see [`Metrics::tags_added`]).
    pub fn delivered(&self, action: ActionName, mode: Mode) {
        let labels = ModeLabels {
            mode: mode.as_str(),
        };
        let family = match action {
            ActionName::Reply => &self.inner.replies_posted,
            ActionName::Note => &self.inner.notes_posted,
            ActionName::Reassign => &self.inner.reassignments,
            ActionName::Close => &self.inner.tickets_closed,
            ActionName::AddTags => return,
        };
        family.get_or_create(&labels).inc();
    }

    /// `count` tag names were added to a ticket.
    pub fn tags_added(&self, count: usize, mode: Mode) {
        self.inner
            .tags_added
            .get_or_create(&ModeLabels {
                mode: mode.as_str(),
            })
            .inc_by(count as u64);
    }

    /// A ticket was handed to humans.
    pub fn handoff(&self, reason: HandoffReason) {
        self.inner
            .handoffs
            .get_or_create(&ReasonLabels {
                reason: reason.code(),
            })
            .inc();
    }

    /// An outbox action was given up on.
    pub fn action_failed(&self, action: ActionName) {
        self.inner
            .actions_failed
            .get_or_create(&ActionLabels {
                action: action.code(),
            })
            .inc();
    }

    /// Records one Gorgias call.
    pub fn gorgias_call(&self, call: &CallRecord) {
        self.inner
            .gorgias_requests
            .get_or_create(&CallLabels {
                endpoint: call.endpoint,
                status: call.status.clone(),
            })
            .inc();
        self.inner
            .gorgias_duration
            .get_or_create(&EndpointLabels {
                endpoint: call.endpoint,
            })
            .observe(call.elapsed.as_secs_f64());
        if !call.waited.is_zero() {
            self.inner.rate_limit_wait.inc_by(call.waited.as_secs_f64());
        }
    }

    /// The hook to hand to `GorgiasApi::with_observer`.
    pub fn gorgias_observer(&self) -> CallObserver {
        let metrics = self.clone();
        Arc::new(move |call: &CallRecord| metrics.gorgias_call(call))
    }

    /// A turn looked up the customer's orders; `source` is `body`, `fetched`, `cache` or `none`.
    pub fn order_lookup(&self, source: &'static str) {
        self.inner
            .order_lookups
            .get_or_create(&SourceLabels { source })
            .inc();
    }

    /// Fetching a customer's orders failed (`reason`: an HTTP status or `timeout`, ...).
    pub fn order_fetch_failed(&self, reason: &'static str) {
        self.inner
            .order_fetch_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Records one brain decision.
    pub fn brain_decided(&self, brain: &'static str, outcome: &'static str, took: Duration) {
        self.inner
            .brain_duration
            .get_or_create(&BrainLabels { brain, outcome })
            .observe(took.as_secs_f64());
    }

    /// A turn starts; the gauge goes down when the guard is dropped (the turn ended or its
    /// actor was stopped).
    pub fn turn_started(&self) -> TurnInProgress {
        self.inner.turns_in_progress.inc();
        TurnInProgress {
            gauge: self.inner.turns_in_progress.clone(),
        }
    }

    /// Sets the gauges that are read, not counted: live actors, dedup entries, the outbox.
    pub fn set_observed(&self, observed: &Observed) {
        let i = &self.inner;
        let as_gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        if let Some(n) = observed.ticket_actors {
            i.ticket_actors.set(as_gauge(n as u64));
        }
        if let Some(n) = observed.dedup_entries {
            i.dedup_entries.set(as_gauge(n as u64));
        }
        i.storage_queued_commits
            .set(as_gauge(observed.storage_queued_commits));
        i.outbox_pending.set(as_gauge(observed.outbox_pending));
        i.outbox_retrying.set(as_gauge(observed.outbox_retrying));
        i.outbox_oldest_failure
            .set(as_gauge(observed.outbox_oldest_failure_secs));
    }

    /// The registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }
}

/// Holds the `turns_in_progress` gauge up while alive.
pub struct TurnInProgress {
    gauge: Gauge,
}

impl Drop for TurnInProgress {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Values read at scrape time; `None` when the actor holding them did not answer in time.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub ticket_actors: Option<usize>,
    pub dedup_entries: Option<usize>,
    pub storage_queued_commits: u64,
    /// Outbound actions decided and not delivered yet.
    pub outbox_pending: u64,
    /// Head actions whose last attempt failed.
    pub outbox_retrying: u64,
    /// How long the longest-failing action has been failing (0: none).
    pub outbox_oldest_failure_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, line_start: &str) -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample {line_start} in\n{text}"))
    }

    #[test]
    fn tags_are_counted_by_name_and_closes_by_ticket() {
        let m = Metrics::new();
        m.delivered(ActionName::AddTags, Mode::Live);
        m.tags_added(2, Mode::Live);
        m.delivered(ActionName::Close, Mode::Live);
        m.delivered(ActionName::Close, Mode::DryRun);
        let text = m.encode();
        assert_eq!(
            sample(&text, "gorgias_agent_tags_added_total{mode=\"live\"}"),
            2.0
        );
        assert_eq!(
            sample(&text, "gorgias_agent_tickets_closed_total{mode=\"live\"}"),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                "gorgias_agent_tickets_closed_total{mode=\"dry-run\"}"
            ),
            1.0
        );
    }

    #[test]
    fn names_follow_prometheus_conventions_and_values_move() {
        let m = Metrics::new();
        m.webhook(IntakeOutcome::Ignored, "not_assigned_to_ai");
        m.webhook(IntakeOutcome::Ignored, "not_assigned_to_ai");
        m.delivered(ActionName::Reply, Mode::Live);
        m.handoff(HandoffReason::SkipTopic);
        m.gorgias_call(&CallRecord {
            endpoint: "create_message",
            status: "2xx".into(),
            elapsed: Duration::from_millis(30),
            waited: Duration::from_millis(500),
        });
        m.order_lookup("fetched");
        m.order_fetch_failed("timeout");
        let guard = m.turn_started();
        let text = m.encode();
        assert_eq!(
            sample(
                &text,
                "gorgias_agent_order_lookups_total{source=\"fetched\"}"
            ),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                "gorgias_agent_order_fetch_failures_total{reason=\"timeout\"}"
            ),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                "gorgias_agent_webhooks_total{outcome=\"ignored\",reason=\"not_assigned_to_ai\"}"
            ),
            2.0
        );
        assert_eq!(
            sample(&text, "gorgias_agent_replies_posted_total{mode=\"live\"}"),
            1.0
        );
        assert_eq!(
            sample(&text, "gorgias_agent_handoffs_total{reason=\"skip_topic\"}"),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                "gorgias_agent_gorgias_requests_total{endpoint=\"create_message\",status=\"2xx\"}"
            ),
            1.0
        );
        assert_eq!(
            sample(
                &text,
                "gorgias_agent_gorgias_request_duration_seconds_count{endpoint=\"create_message\"}"
            ),
            1.0
        );
        assert_eq!(
            sample(&text, "gorgias_agent_gorgias_rate_limit_wait_seconds_total"),
            0.5
        );
        assert_eq!(sample(&text, "gorgias_agent_turns_in_progress"), 1.0);
        drop(guard);
        assert_eq!(sample(&m.encode(), "gorgias_agent_turns_in_progress"), 0.0);
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn metrics_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Metrics>();
    }
}
