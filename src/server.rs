//! Wiring: open the store, start the actors once (outside `HttpServer::new`), recover unfinished
//! work, serve HTTP, and on SIGTERM/Ctrl-C stop accepting and flush storage.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::dev::Service;
use actix_web::{web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::brain::guardrails::Guardrails;
use crate::brain::knowledge::{KnowledgeBrain, KnowledgeIndex};
use crate::brain::openai::OpenAiBrain;
use crate::brain::prompt::PromptBuilder;
use crate::brain::Brain;
use crate::config::{BrainBackend, ConfigError, Settings};
use crate::dedup::DedupActor;
use crate::domain::hours::Clock;
use crate::domain::plan::{Mode, Planner};
use crate::gorgias::api::{GorgiasApi, Sender};
use crate::gorgias::ratelimit::RateLimiter;
use crate::http::admin::SettingsView;
use crate::http::console::ConsoleState;
use crate::http::deadline;
use crate::http::health::outbox_stuck_after;
use crate::http::{routes, AgentRootSpan, AppState};
use crate::intake::filter::FilterRules;
use crate::intake::Intake;
use crate::metrics::Metrics;
use crate::store::{open_when_free_with, Store, StoreError};
use crate::tickets::delivery::Delivery;
use crate::tickets::orders::OrderLookup;
use crate::tickets::supervisor::{RecoverPending, TicketSupervisor};
use crate::tickets::turn::{RetryPolicy, TurnContext};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
    #[error("cannot read brain.knowledge_dir: {0}")]
    Knowledge(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("server error: {0}")]
    Server(String),
}

/// A started agent: the HTTP server and the handles tests and shutdown need.
pub struct Running {
    pub addr: SocketAddr,
    /// Stops the HTTP server (gracefully or not).
    pub server: actix_web::dev::ServerHandle,
    /// Resolves when the HTTP server has stopped (after a signal or `server.stop`).
    pub stopped: actix_web::rt::task::JoinHandle<std::io::Result<()>>,
    pub store: Store,
    pub supervisor: Addr<TicketSupervisor>,
    pub dedup: Addr<DedupActor>,
}

/// Builds the configured brain.
pub fn build_brain(settings: &Settings) -> Result<Rc<dyn Brain>, StartError> {
    let dir = settings.brain.knowledge_dir.trim();
    let index = KnowledgeIndex::build(
        &settings.autopilot.topics,
        (!dir.is_empty()).then(|| Path::new(dir)),
    )
    .map_err(|e| StartError::Knowledge(e.to_string()))?;
    match settings.brain.backend {
        BrainBackend::KnowledgeBase => Ok(Rc::new(KnowledgeBrain::from_settings(
            index,
            &settings.brain,
            &settings.handoff,
        ))),
        BrainBackend::Openai => Ok(Rc::new(OpenAiBrain::new(
            &settings.brain.openai,
            PromptBuilder::new(
                &settings.brain.openai.system_prompt,
                &settings.gorgias.sender_name,
                &settings.autopilot.topics,
                index,
            ),
        ))),
    }
}

/// The filter rules of intake, from the settings (serve and replay read the same ones).
pub fn filter_rules(settings: &Settings) -> FilterRules {
    FilterRules {
        ai_user_id: settings.gorgias.ai_user_id,
        autopilot: settings.autopilot.clone(),
    }
}

/// What every turn needs: the configured brain and guardrails, the planner for `mode`, and
/// `delivery`. The one place a turn's context is built, for `serve` and `replay` alike, so the
/// two cannot decide differently.
pub fn turn_context(
    settings: &Settings,
    store: Store,
    mode: Mode,
    delivery: Delivery,
    metrics: Metrics,
) -> Result<TurnContext, StartError> {
    Ok(TurnContext {
        store,
        brain: build_brain(settings)?,
        guardrails: Guardrails::new(&settings.autopilot.topics, settings.handoff.max_ai_replies)
            .with_phrases(&settings.brain.guardrails)
            .with_final_replies(&settings.handoff.final_replies),
        delivery,
        planner: Planner {
            mode,
            ..settings.planner()?
        },
        retry: RetryPolicy {
            initial: settings.gorgias.retry_initial(),
            max: settings.gorgias.retry_max(),
            give_up_after: settings.gorgias.retry_for(),
            in_doubt_delay: settings.gorgias.request_timeout(),
        },
        orders: OrderLookup::new(&settings.orders, None, metrics.clone()),
        metrics,
        clock: Clock::System,
        caps: settings.sessions.caps(),
    })
}

/// Starts everything on the current actix system, serving on `listener`.
pub async fn start(settings: Settings, listener: TcpListener) -> Result<Running, StartError> {
    start_with_clock(settings, listener, Clock::System).await
}

/// [`start`] with "now" taken from `clock`: tests fix it to decide at a chosen instant (business
/// hours) without waiting for the wall clock.
pub async fn start_with_clock(
    settings: Settings,
    listener: TcpListener,
    clock: Clock,
) -> Result<Running, StartError> {
    for warning in settings.warnings() {
        tracing::warn!(mode = settings.gorgias.mode.as_str(), "{warning}");
    }
    let addr = listener.local_addr().map_err(|e| StartError::Bind {
        addr: settings.server.bind.clone(),
        reason: e.to_string(),
    })?;
    // A previous process (or, in tests, a previous life of the agent) may still be letting go
    // of the store: wait a little for its lock instead of failing the start.
    let store = open_when_free_with(
        &settings.storage.path,
        settings.storage.store_options(),
        Duration::from_secs(10),
    )
    .await?;
    let dedup = DedupActor::new(store.clone(), settings.dedup.window_secs).start();

    let mode = settings.gorgias.mode;
    let limiter = Arc::new(RateLimiter::new(
        settings.gorgias.requests_per_window,
        settings.gorgias.window(),
    ));
    let metrics = Metrics::new();
    // Order fetches share the account's rate budget (the limiter) with every other call.
    let orders_api = (mode != Mode::DryRun).then(|| {
        GorgiasApi::new(&settings.gorgias, limiter.clone())
            .with_observer(metrics.gorgias_observer())
    });
    let api = (mode != Mode::DryRun).then(|| {
        GorgiasApi::new(&settings.gorgias, limiter).with_observer(metrics.gorgias_observer())
    });
    let cx = Rc::new(TurnContext {
        clock,
        // Serving fetches order data a body lacks (live and shadow); replay never calls Gorgias.
        orders: OrderLookup::new(&settings.orders, orders_api, metrics.clone()),
        ..turn_context(
            &settings,
            store.clone(),
            mode,
            Delivery::new(mode, api, Sender::from_settings(&settings.gorgias)),
            metrics.clone(),
        )?
    });
    let supervisor = TicketSupervisor::new(cx, settings.sessions.idle())
        .with_retention(settings.sessions.retention_secs())
        .start();
    let recovered = supervisor
        .send(RecoverPending)
        .await
        .map_err(|e| StartError::Server(e.to_string()))?;

    let state = web::Data::new(AppState {
        webhook_token: settings.server.webhook_token.clone(),
        max_body_bytes: settings.server.max_body_bytes,
        intake: Intake::new(
            filter_rules(&settings),
            store.clone(),
            dedup.clone(),
            supervisor.clone().recipient(),
            metrics.clone(),
        ),
        store: store.clone(),
        dedup: dedup.clone(),
        supervisor: supervisor.clone(),
        admin_token: settings.server.admin_token.clone(),
        metrics,
        outbox_stuck_after: outbox_stuck_after(settings.gorgias.retry_for()),
        console: ConsoleState::new(
            &settings.gorgias.base_url,
            mode,
            settings.server.console_session(),
        ),
        settings_view: SettingsView::new(&settings, clock)?,
    });
    let body_timeout = settings.server.body_read_timeout();
    let (workers, per_worker) = settings
        .server
        .connection_limits(std::thread::available_parallelism().map_or(2, |n| n.get().min(512)));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap_fn(move |mut req, srv| {
                let timed_out = deadline::install(&mut req, body_timeout);
                let answer = srv.call(req);
                async move { Ok(deadline::finish(answer.await?, &timed_out)) }
            })
            .wrap(TracingLogger::<AgentRootSpan>::new())
            .configure(routes)
    })
    .workers(workers)
    .max_connections(per_worker)
    .listen(listener)
    .map_err(|e| StartError::Bind {
        addr: addr.to_string(),
        reason: e.to_string(),
    })?
    .shutdown_timeout(10)
    .run();
    let handle = server.handle();
    let stopped = actix_web::rt::spawn(server);
    tracing::info!(
        %addr,
        mode = mode.as_str(),
        brain = settings.brain.backend.as_str(),
        recovered_tickets = recovered,
        workers,
        max_connections = workers * per_worker,
        "gorgias-agent listening"
    );
    Ok(Running {
        addr,
        server: handle,
        stopped,
        store,
        supervisor,
        dedup,
    })
}

/// Raises the soft open-files limit to the hard one, logging both once, and warns when
/// `max_connections` would not fit under it (storage, the listener and outbound calls need
/// descriptors too).
fn raise_fd_limit(max_connections: usize) {
    const RESERVED: u64 = 256;
    match crate::fdlimit::raise_to_hard() {
        Ok(limit) => {
            tracing::info!(
                soft_before = limit.before,
                soft = limit.after,
                hard = limit.hard,
                "open-files limit"
            );
            if max_connections as u64 + RESERVED > limit.after {
                tracing::warn!(
                    max_connections,
                    open_files_limit = limit.after,
                    "server.max_connections does not fit under the open-files limit; raise the hard limit (ulimit -Hn, LimitNOFILE=) or lower server.max_connections"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-files limit"),
    }
}

/// Binds `server.bind`, serves until SIGTERM/Ctrl-C, then flushes storage.
pub async fn serve(settings: Settings) -> Result<(), StartError> {
    raise_fd_limit(settings.server.max_connections);
    let listener = TcpListener::bind(&settings.server.bind).map_err(|e| StartError::Bind {
        addr: settings.server.bind.clone(),
        reason: e.to_string(),
    })?;
    let running = start(settings, listener).await?;
    // actix-web stops accepting on SIGTERM/SIGINT and drains in-flight requests; every
    // accepted event and every step of a turn is already committed, so flushing is all that
    // is left to do.
    let result = running.stopped.await;
    // Bounded: a disk that stopped answering must not hang the stop; the error says what was
    // left unflushed (none of it was acknowledged).
    if let Err(e) = running.store.flush().await {
        tracing::error!(error = %e, "storage could not be flushed on stop");
        return Err(e.into());
    }
    tracing::info!("storage flushed; bye");
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StartError::Server(e.to_string())),
        Err(e) => Err(StartError::Server(e.to_string())),
    }
}
