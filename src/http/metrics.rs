//! `GET /metrics`: reads the gauges that are observed rather than counted (live actors, dedup
//! entries, the stored outbox, queued commits), then answers the registry as OpenMetrics text.

use std::time::Duration;

use actix_web::{web, HttpResponse};

use super::AppState;
use crate::dedup::DedupLen;
use crate::metrics::{Observed, CONTENT_TYPE};
use crate::store::Store;
use crate::tickets::outbox::OutboxStatus;
use crate::tickets::supervisor::LiveActors;
use crate::time::now_secs;

/// How long a scrape waits for an actor to report its gauge before leaving it as it was.
const ACTOR_TIMEOUT: Duration = Duration::from_secs(2);

/// Scans the stored outbox off the worker thread (sled reads may touch the disk).
pub async fn outbox_status(store: &Store) -> OutboxStatus {
    let store = store.clone();
    web::block(move || OutboxStatus::scan(&store, now_secs()))
        .await
        .unwrap_or_default()
}

pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let ticket_actors = tokio::time::timeout(ACTOR_TIMEOUT, state.supervisor.send(LiveActors))
        .await
        .ok()
        .and_then(Result::ok);
    let dedup_entries = tokio::time::timeout(ACTOR_TIMEOUT, state.dedup.send(DedupLen))
        .await
        .ok()
        .and_then(Result::ok);
    let outbox = outbox_status(&state.store).await;
    let observed = Observed {
        ticket_actors,
        dedup_entries,
        storage_queued_commits: state.store.queued_commits(),
        outbox_pending: outbox.pending,
        outbox_retrying: outbox.retrying,
        outbox_oldest_failure_secs: outbox.oldest_failure.map_or(0, |f| f.failing_for_secs),
    };
    state.metrics.set_observed(&observed);
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(state.metrics.encode())
}
