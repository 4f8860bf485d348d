//! The customer's orders for a turn that needs them: those the webhook body carried, else (live
//! and shadow, `orders.fetch`) `GET /api/customers/{id}` through the rate-limited Gorgias client,
//! bounded by a timeout and cached per customer for `orders.cache_secs`. A failed fetch is "no
//! order data": it never fails, blocks or repeats the turn.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::config::OrdersSettings;
use crate::domain::message::MAX_CARRIED_ORDERS;
use crate::domain::orders::{parse_integrations, Order};
use crate::gorgias::api::GorgiasApi;
use crate::metrics::Metrics;

/// Customers remembered at most; past this, expired entries go first, then the oldest.
const MAX_CACHED_CUSTOMERS: usize = 10_000;

/// Where a turn's orders came from (the `source` label of the lookups metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSource {
    /// The webhook body carried them.
    Body,
    /// Read from Gorgias for this turn.
    Fetched,
    /// Read from Gorgias for an earlier turn, within `orders.cache_secs`.
    Cache,
    /// No order data: none in the body, and no fetch (off, dry-run, no customer id, failed).
    None,
}

impl OrderSource {
    pub fn code(self) -> &'static str {
        match self {
            OrderSource::Body => "body",
            OrderSource::Fetched => "fetched",
            OrderSource::Cache => "cache",
            OrderSource::None => "none",
        }
    }
}

/// Fetched orders per customer id, each for `ttl` from when it was fetched. Time is passed in.
#[derive(Debug)]
pub struct OrderCache {
    ttl: Duration,
    capacity: usize,
    entries: HashMap<u64, (Instant, Rc<[Order]>)>,
}

impl OrderCache {
    pub fn new(ttl: Duration, capacity: usize) -> OrderCache {
        OrderCache {
            ttl,
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// The customer's orders when fetched less than `ttl` before `now`.
    pub fn get(&self, customer_id: u64, now: Instant) -> Option<Rc<[Order]>> {
        let (at, orders) = self.entries.get(&customer_id)?;
        (now.saturating_duration_since(*at) < self.ttl).then(|| orders.clone())
    }

    pub fn put(&mut self, customer_id: u64, orders: Rc<[Order]>, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&customer_id) {
            let ttl = self.ttl;
            self.entries
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
            if self.entries.len() >= self.capacity {
                if let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(id, _)| *id)
                {
                    self.entries.remove(&oldest);
                }
            }
        }
        self.entries.insert(customer_id, (now, orders));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Looks a customer's orders up for a turn; one per arbiter, shared by its ticket actors.
pub struct OrderLookup {
    settings: OrdersSettings,
    /// `None`: never fetch (dry-run, or `orders.fetch = false`).
    api: Option<GorgiasApi>,
    cache: RefCell<OrderCache>,
    metrics: Metrics,
}

impl OrderLookup {
    /// `api` is the client to fetch with, `None` where fetching is off.
    pub fn new(settings: &OrdersSettings, api: Option<GorgiasApi>, metrics: Metrics) -> Self {
        OrderLookup {
            settings: settings.clone(),
            api: api.filter(|_| settings.enabled && settings.fetch),
            cache: RefCell::new(OrderCache::new(settings.cache_for(), MAX_CACHED_CUSTOMERS)),
            metrics,
        }
    }

    /// Whether order data is used at all (`orders.enabled`).
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    pub fn max_orders(&self) -> usize {
        self.settings.max_orders
    }

    /// The customer's orders, newest first: `carried` (from the webhook body) when there are
    /// any, else the cache, else a fetch. Counted by source; never an error.
    pub async fn lookup(
        &self,
        ticket_id: u64,
        customer_id: Option<u64>,
        carried: Vec<Order>,
    ) -> (Vec<Order>, OrderSource) {
        let (orders, source) = self.find(ticket_id, customer_id, carried).await;
        self.metrics.order_lookup(source.code());
        (orders, source)
    }

    async fn find(
        &self,
        ticket_id: u64,
        customer_id: Option<u64>,
        carried: Vec<Order>,
    ) -> (Vec<Order>, OrderSource) {
        if !self.settings.enabled {
            return (Vec::new(), OrderSource::None);
        }
        if !carried.is_empty() {
            return (carried, OrderSource::Body);
        }
        let (Some(api), Some(customer_id)) = (&self.api, customer_id) else {
            return (Vec::new(), OrderSource::None);
        };
        if let Some(orders) = self.cache.borrow().get(customer_id, Instant::now()) {
            return (orders.to_vec(), OrderSource::Cache);
        }
        let fetched =
            tokio::time::timeout(self.settings.fetch_timeout(), api.get_customer(customer_id))
                .await;
        let customer = match fetched {
            Ok(Ok(customer)) => customer,
            Ok(Err(e)) => {
                let reason = fetch_failure_reason(&e.status_label());
                tracing::warn!(ticket_id, customer_id, reason, error = %e, "cannot fetch the customer's orders; answering without order data");
                self.metrics.order_fetch_failed(reason);
                return (Vec::new(), OrderSource::None);
            }
            Err(_) => {
                tracing::warn!(
                    ticket_id,
                    customer_id,
                    reason = "timeout",
                    timeout_secs = self.settings.fetch_timeout_secs,
                    "fetching the customer's orders took too long; answering without order data"
                );
                self.metrics.order_fetch_failed("timeout");
                return (Vec::new(), OrderSource::None);
            }
        };
        let parsed = parse_integrations(&customer["integrations"]);
        if let Some(degraded) = parsed.degraded {
            tracing::warn!(
                ticket_id,
                customer_id,
                path = "customer.integrations",
                reason = degraded.code(),
                kept_orders = parsed.orders.len(),
                "fetched order data partly or wholly unreadable"
            );
        }
        let orders: Rc<[Order]> = parsed.orders.into_iter().take(MAX_CARRIED_ORDERS).collect();
        self.cache
            .borrow_mut()
            .put(customer_id, orders.clone(), Instant::now());
        (orders.to_vec(), OrderSource::Fetched)
    }
}

/// A bounded label for a failed fetch: the HTTP status class or the transport problem.
fn fetch_failure_reason(status_label: &str) -> &'static str {
    match status_label {
        "timeout" => "timeout",
        "connect" => "connect",
        "interrupted" => "interrupted",
        "decode" => "decode",
        "404" => "not_found",
        "429" => "rate_limited",
        s if s.starts_with('5') => "server_error",
        _ => "client_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(name: &str) -> Order {
        serde_json::from_value(serde_json::json!({"name": name, "status": "delivered"})).unwrap()
    }

    fn orders(name: &str) -> Rc<[Order]> {
        vec![order(name)].into()
    }

    #[test]
    fn a_cached_customer_is_reused_until_the_ttl_passes() {
        let t0 = Instant::now();
        let mut cache = OrderCache::new(Duration::from_secs(60), 10);
        assert!(cache.get(1, t0).is_none());
        cache.put(1, orders("#1"), t0);
        assert_eq!(
            cache.get(1, t0 + Duration::from_secs(59)).unwrap()[0]
                .name
                .as_deref(),
            Some("#1")
        );
        assert!(cache.get(1, t0 + Duration::from_secs(60)).is_none());
        assert!(cache.get(2, t0).is_none(), "per customer");
    }

    #[test]
    fn the_cache_is_bounded_expired_entries_first_then_the_oldest() {
        let t0 = Instant::now();
        let mut cache = OrderCache::new(Duration::from_secs(10), 2);
        cache.put(1, orders("#1"), t0);
        cache.put(2, orders("#2"), t0 + Duration::from_secs(5));
        // 1 has expired by now: it goes, 2 stays.
        cache.put(3, orders("#3"), t0 + Duration::from_secs(11));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(2, t0 + Duration::from_secs(11)).is_some());
        // Nothing expired: the oldest (2) goes.
        cache.put(4, orders("#4"), t0 + Duration::from_secs(12));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(2, t0 + Duration::from_secs(12)).is_none());
        assert!(cache.get(3, t0 + Duration::from_secs(12)).is_some());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let mut cache = OrderCache::new(Duration::ZERO, 10);
        cache.put(1, orders("#1"), Instant::now());
        assert!(cache.is_empty());
    }

    #[test]
    fn fetch_failures_have_bounded_reasons() {
        assert_eq!(fetch_failure_reason("503"), "server_error");
        assert_eq!(fetch_failure_reason("timeout"), "timeout");
        assert_eq!(fetch_failure_reason("404"), "not_found");
        assert_eq!(fetch_failure_reason("400"), "client_error");
    }

    #[actix::test]
    async fn body_orders_win_and_without_a_client_there_is_no_order_data() {
        let settings = OrdersSettings::default();
        let lookup = OrderLookup::new(&settings, None, Metrics::new());
        let (found, source) = lookup.lookup(1, Some(5), vec![order("#7")]).await;
        assert_eq!((found.len(), source), (1, OrderSource::Body));
        let (found, source) = lookup.lookup(1, Some(5), Vec::new()).await;
        assert_eq!((found.len(), source), (0, OrderSource::None));
        let off = OrdersSettings {
            enabled: false,
            ..OrdersSettings::default()
        };
        let lookup = OrderLookup::new(&off, None, Metrics::new());
        let (found, source) = lookup.lookup(1, Some(5), vec![order("#7")]).await;
        assert_eq!((found.len(), source), (0, OrderSource::None));
    }
}
