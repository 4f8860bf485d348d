//! The customer's orders as Gorgias holds them (`customer.integrations`): read and normalized,
//! their shopper-facing status, the order a conversation names, and the order's words in a reply
//! (plain text and `body_html`). Pure: no I/O, nothing from the rest of the crate.
//!
//! Order data is untrusted (a product title is whatever the shop typed): it is cleaned when read,
//! HTML-escaped when it reaches HTML, and only `http(s)` URLs are ever kept. Addresses and payment
//! details are never read into these types, so they cannot leak into a reply or a prompt.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::text::escape_html;

/// The longest text kept from one order field (titles, carriers, tracking numbers, names).
const MAX_FIELD_CHARS: usize = 200;
/// The longest URL kept; longer ones are more likely garbage than a tracking page.
const MAX_URL_CHARS: usize = 2048;
/// Orders read per store: Shopify lists them newest first, and a blob can be hundreds of KB.
const MAX_ORDERS_PER_STORE: usize = 100;
/// Line items and fulfillments read per order.
const MAX_ITEMS: usize = 50;

// ---------------------------------------------------------------------------------------------
// The normalized order
// ---------------------------------------------------------------------------------------------

/// Where an order is, in the words Gorgias uses for shoppers (its Order Management statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Unfulfilled,
    ProcessingFulfillment,
    InTransit,
    OutForDelivery,
    AttemptedDelivery,
    ReadyForPickup,
    Delivered,
    FailedDelivery,
    Cancelled,
    Refunded,
    PartiallyRefunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 11] = [
        OrderStatus::Unfulfilled,
        OrderStatus::ProcessingFulfillment,
        OrderStatus::InTransit,
        OrderStatus::OutForDelivery,
        OrderStatus::AttemptedDelivery,
        OrderStatus::ReadyForPickup,
        OrderStatus::Delivered,
        OrderStatus::FailedDelivery,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
        OrderStatus::PartiallyRefunded,
    ];

    /// The contract's code (`in_transit`, ...).
    pub fn code(self) -> &'static str {
        match self {
            OrderStatus::Unfulfilled => "unfulfilled",
            OrderStatus::ProcessingFulfillment => "processing_fulfillment",
            OrderStatus::InTransit => "in_transit",
            OrderStatus::OutForDelivery => "out_for_delivery",
            OrderStatus::AttemptedDelivery => "attempted_delivery",
            OrderStatus::ReadyForPickup => "ready_for_pickup",
            OrderStatus::Delivered => "delivered",
            OrderStatus::FailedDelivery => "failed_delivery",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    /// Words for a customer (`{order.status}`).
    pub fn human(self) -> &'static str {
        match self {
            OrderStatus::Unfulfilled => "not shipped yet",
            OrderStatus::ProcessingFulfillment => "being prepared for shipping",
            OrderStatus::InTransit => "in transit",
            OrderStatus::OutForDelivery => "out for delivery",
            OrderStatus::AttemptedDelivery => "delivery attempted",
            OrderStatus::ReadyForPickup => "ready for pickup",
            OrderStatus::Delivered => "delivered",
            OrderStatus::FailedDelivery => "delivery failed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::PartiallyRefunded => "partially refunded",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One line of an order: what was bought and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub title: String,
    pub quantity: u64,
}

/// One order, reduced to what a customer may be told about it. Addresses, payment details,
/// prices and contact data are deliberately absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// As the shop shows it (`#1001`, `UK-1003`); `None` when the data has neither a name nor a
    /// number (the public Gorgias sample is such an order).
    #[serde(default)]
    pub name: Option<String>,
    /// Shopify's `order_number` (the name without prefix or `#`).
    #[serde(default)]
    pub number: Option<u64>,
    /// RFC 3339 as the shop wrote it, in the shop's offset (so its date is the shop's date).
    #[serde(default)]
    pub created_at: Option<String>,
    pub status: OrderStatus,
    /// When the status was reached, where the data says: shipped, delivered, cancelled,
    /// refunded. Same format as `created_at`.
    #[serde(default)]
    pub status_at: Option<String>,
    /// Only some of the items have shipped (the rest is still to come).
    #[serde(default)]
    pub partial: bool,
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// Always `http(s)`.
    #[serde(default)]
    pub tracking_url: Option<String>,
    /// The shop's order status page (`order_status_url`); always `http(s)`.
    #[serde(default)]
    pub status_url: Option<String>,
    #[serde(default)]
    pub items: Vec<LineItem>,
}

impl Order {
    /// For decisions and logs, e.g. `order #1001 in_transit`.
    pub fn detail(&self) -> String {
        match (&self.name, self.created_at.as_deref().and_then(iso_date)) {
            (Some(name), _) => format!("order {name} {}", self.status),
            (None, Some(date)) => format!("order placed {date} {}", self.status),
            (None, None) => format!("order (no name) {}", self.status),
        }
    }

    /// `{order.items}`: `Mug × 2, T-shirt`.
    pub fn items_text(&self) -> String {
        self.items
            .iter()
            .map(|i| match i.quantity {
                1 => i.title.clone(),
                n => format!("{} × {n}", i.title),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `{order.date}`: the day it was placed, e.g. `28 November`.
    pub fn date_text(&self) -> Option<String> {
        self.created_at.as_deref().and_then(display_date)
    }

    /// `{order.summary}`: one sentence for the order's status.
    pub fn summary(&self) -> Rendered {
        let mut r = Rendered::default();
        summary_into(&mut r, self);
        r
    }

    /// The text names match by: upper-case letters and digits of the name (`UK1003`).
    fn key(&self) -> Option<String> {
        self.name.as_deref().map(name_key).filter(|k| !k.is_empty())
    }

    /// The order's number, else the digits of a name like `#1001`.
    fn number_digits(&self) -> Option<String> {
        self.number.map(|n| n.to_string()).or_else(|| {
            let name = self.name.as_deref()?;
            let digits = name.trim_start_matches('#');
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.trim_start_matches('0').to_string())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Reading `integrations`
// ---------------------------------------------------------------------------------------------

/// A customer's orders, newest first, and whether reading them degraded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerOrders {
    pub orders: Vec<Order>,
    /// Set when part or all of the data could not be read; the caller logs it once.
    pub degraded: Option<Degraded>,
}

/// How reading order data degraded (never an error: the turn goes on without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Degraded {
    /// The `integrations` value could not be read at all: no order data.
    Unreadable,
    /// This many stores or orders could not be read and were left out.
    Skipped(usize),
}

impl Degraded {
    /// For the log's `reason` field.
    pub fn code(self) -> &'static str {
        match self {
            Degraded::Unreadable => "unreadable_integrations",
            Degraded::Skipped(_) => "skipped_orders",
        }
    }
}

/// Reads the orders out of a customer's `integrations`: an object keyed by integration id (or
/// that object as a JSON string), each value tagged `__integration_type__`. Every `shopify` value
/// is read (a customer can be linked to several stores); other types are ignored: Gorgias
/// publishes no sample of its BigCommerce or Magento blobs to read them from.
pub fn parse_integrations(value: &Value) -> CustomerOrders {
    let decoded;
    let value = match value {
        Value::Null => return CustomerOrders::default(),
        Value::String(s) if s.trim().is_empty() => return CustomerOrders::default(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v) => {
                decoded = v;
                &decoded
            }
            Err(_) => return unreadable(),
        },
        other => other,
    };
    let stores = match value {
        Value::Null => return CustomerOrders::default(),
        Value::Object(map) => map,
        // An empty list is how some templates render "no integrations".
        Value::Array(a) if a.is_empty() => return CustomerOrders::default(),
        _ => return unreadable(),
    };
    let mut orders = Vec::new();
    let mut skipped = 0;
    for store in stores.values() {
        let store = json_in_string(store);
        let Some(store) = store.as_deref().and_then(Value::as_object) else {
            skipped += 1;
            continue;
        };
        let kind = store.get("__integration_type__").and_then(Value::as_str);
        if !kind.is_some_and(|k| k.trim().eq_ignore_ascii_case("shopify")) {
            continue;
        }
        let list = store.get("orders").map(json_in_string);
        let list = match list.as_ref().map(|l| l.as_deref()) {
            None | Some(Some(Value::Null)) => continue,
            Some(Some(Value::Array(list))) => list,
            Some(_) => {
                skipped += 1;
                continue;
            }
        };
        for raw in list.iter().take(MAX_ORDERS_PER_STORE) {
            match shopify_order(raw) {
                Some(order) => orders.push(order),
                None => skipped += 1,
            }
        }
    }
    // Newest first across stores; orders without a readable date keep their place at the end.
    orders
        .sort_by_cached_key(|o| std::cmp::Reverse(o.created_at.as_deref().and_then(parse_instant)));
    CustomerOrders {
        orders,
        degraded: (skipped > 0).then_some(Degraded::Skipped(skipped)),
    }
}

fn unreadable() -> CustomerOrders {
    CustomerOrders {
        orders: Vec::new(),
        degraded: Some(Degraded::Unreadable),
    }
}

/// A value, or the JSON a per-field template put in a string instead.
fn json_in_string(v: &Value) -> Option<Cow<'_, Value>> {
    match v {
        Value::String(s) => serde_json::from_str(s).ok().map(Cow::Owned),
        other => Some(Cow::Borrowed(other)),
    }
}

/// A Shopify REST order; `None` when it is not an object or has nothing to identify it by.
fn shopify_order(raw: &Value) -> Option<Order> {
    let o = raw.as_object()?;
    let get = |k: &str| o.get(k).unwrap_or(&Value::Null);
    let name = text(get("name"));
    let number = uint(get("order_number")).or_else(|| {
        let digits = name.as_deref()?.strip_prefix('#')?;
        digits.parse().ok()
    });
    let name = name.or_else(|| number.map(|n| format!("#{n}")));
    let created_at = timestamp(get("created_at"));
    if name.is_none() && created_at.is_none() {
        return None;
    }

    let fulfillments: Vec<Fulfillment> = get("fulfillments")
        .as_array()
        .map(|list| {
            list.iter()
                .take(MAX_ITEMS)
                .filter_map(Fulfillment::read)
                .collect()
        })
        .unwrap_or_default();
    let shipping = shipping_state(&fulfillments, lower(get("fulfillment_status")).as_deref());

    let financial = lower(get("financial_status"));
    // Shopify leaves it null until the order is cancelled; any text there means cancelled.
    let cancelled = get("cancelled_at")
        .as_str()
        .is_some_and(|s| !s.trim().is_empty());
    let refunded_at = get("refunds").as_array().and_then(|refunds| {
        refunds
            .iter()
            .filter_map(|r| timestamp(r.get("created_at")?))
            .max_by_key(|t| parse_instant(t))
    });
    let (status, status_at) = if cancelled {
        (OrderStatus::Cancelled, timestamp(get("cancelled_at")))
    } else if financial.as_deref() == Some("refunded") {
        (OrderStatus::Refunded, refunded_at)
    } else if financial.as_deref() == Some("partially_refunded") {
        (OrderStatus::PartiallyRefunded, refunded_at)
    } else {
        (shipping.status, shipping.at.clone())
    };

    let items = get("line_items")
        .as_array()
        .map(|list| list.iter().take(MAX_ITEMS).filter_map(line_item).collect())
        .unwrap_or_default();

    let tracking = shipping.tracking.unwrap_or_default();
    Some(Order {
        name,
        number,
        created_at,
        status,
        status_at,
        partial: shipping.partial,
        carrier: tracking.carrier,
        tracking_number: tracking.number,
        tracking_url: tracking.url,
        status_url: url(get("order_status_url")),
        items,
    })
}

fn line_item(raw: &Value) -> Option<LineItem> {
    let title = raw
        .get("title")
        .and_then(text)
        .or_else(|| raw.get("name").and_then(text))?;
    // An unreadable quantity still leaves a product worth naming.
    let quantity = raw.get("quantity").and_then(uint).unwrap_or(1);
    (quantity > 0).then_some(LineItem { title, quantity })
}

#[derive(Debug, Clone, Default)]
struct Tracking {
    carrier: Option<String>,
    number: Option<String>,
    url: Option<String>,
}

/// One Shopify fulfillment (a parcel), reduced to its state and tracking.
#[derive(Debug, Clone)]
struct Fulfillment {
    state: OrderStatus,
    /// When it shipped (`created_at`) or, once delivered, when it last changed.
    at: Option<String>,
    tracking: Tracking,
}

impl Fulfillment {
    /// `None` for a fulfillment that is not going anywhere (cancelled, failed request): its
    /// items count as not shipped.
    fn read(raw: &Value) -> Option<Fulfillment> {
        let f = raw.as_object()?;
        let get = |k: &str| f.get(k).unwrap_or(&Value::Null);
        let state = match lower(get("status")).as_deref() {
            Some("cancelled" | "canceled" | "error" | "failure") => return None,
            Some("pending" | "open") => OrderStatus::ProcessingFulfillment,
            // `success`, or no status at all: it left the warehouse.
            _ => shipment_state(lower(get("shipment_status")).as_deref()),
        };
        let first = |single: &str, many: &str| {
            get(many)
                .as_array()
                .and_then(|a| a.first())
                .and_then(text)
                .or_else(|| text(get(single)))
        };
        let tracking = Tracking {
            carrier: text(get("tracking_company")),
            number: first("tracking_number", "tracking_numbers"),
            url: get("tracking_urls")
                .as_array()
                .and_then(|a| a.iter().find_map(url))
                .or_else(|| url(get("tracking_url"))),
        };
        let at = if state == OrderStatus::Delivered {
            timestamp(get("updated_at"))
        } else {
            timestamp(get("created_at"))
        };
        Some(Fulfillment {
            state,
            at,
            tracking,
        })
    }
}

/// A shipped fulfillment's `shipment_status`, as Gorgias maps it for shoppers. Gorgias's "pending
/// delivery" (a label bought or printed, the carrier not yet holding it) has no code of its own in
/// our contract: it is still being prepared.
fn shipment_state(shipment_status: Option<&str>) -> OrderStatus {
    match shipment_status {
        Some("label_printed" | "label_purchased" | "confirmed") => {
            OrderStatus::ProcessingFulfillment
        }
        Some("out_for_delivery") => OrderStatus::OutForDelivery,
        Some("attempted_delivery") => OrderStatus::AttemptedDelivery,
        Some("ready_for_pickup") => OrderStatus::ReadyForPickup,
        // `picked_up` is the shopper collecting it; `carrier_picked_up` is the carrier.
        Some("delivered" | "picked_up") => OrderStatus::Delivered,
        Some("failure" | "not_delivered" | "label_voided") => OrderStatus::FailedDelivery,
        // in_transit, carrier_picked_up, delayed, none reported yet, or a value Shopify adds later.
        _ => OrderStatus::InTransit,
    }
}

struct Shipping {
    status: OrderStatus,
    at: Option<String>,
    partial: bool,
    tracking: Option<Tracking>,
}

/// The order's shipping state from its live fulfillments: a delivery problem first (the customer
/// must hear of it), else the parcel furthest from the customer (the order is not there until
/// all of it is), else what the order-level `fulfillment_status` says.
fn shipping_state(fulfillments: &[Fulfillment], fulfillment_status: Option<&str>) -> Shipping {
    let order_partial = fulfillment_status == Some("partial");
    let rank = |s: OrderStatus| match s {
        OrderStatus::FailedDelivery => 0,
        OrderStatus::AttemptedDelivery => 1,
        OrderStatus::ProcessingFulfillment => 2,
        OrderStatus::InTransit => 3,
        OrderStatus::OutForDelivery => 4,
        OrderStatus::ReadyForPickup => 5,
        _ => 6,
    };
    // The latest parcel of the winning state: `min_by_key` keeps the first, so search reversed.
    let Some(chosen) = fulfillments.iter().rev().min_by_key(|f| rank(f.state)) else {
        let status = match fulfillment_status {
            Some("fulfilled" | "partial" | "shipped") => OrderStatus::InTransit,
            _ => OrderStatus::Unfulfilled,
        };
        return Shipping {
            status,
            at: None,
            partial: order_partial,
            tracking: None,
        };
    };
    let mixed = fulfillments.iter().any(|f| f.state != chosen.state);
    Shipping {
        status: chosen.state,
        at: chosen.at.clone(),
        partial: order_partial || mixed,
        tracking: Some(chosen.tracking.clone()),
    }
}

// ---- field readers: anything unexpected reads as absent ----

/// A cleaned, bounded, non-empty string (numbers are accepted as their digits).
fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => clean(s),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn lower(v: &Value) -> Option<String> {
    text(v).map(|s| s.to_ascii_lowercase())
}

fn uint(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A timestamp we can read, kept as written.
fn timestamp(v: &Value) -> Option<String> {
    let s = v.as_str()?.trim();
    parse_instant(s).map(|_| s.to_string())
}

/// An `http(s)` URL without anything that could break out of an attribute or a line.
fn url(v: &Value) -> Option<String> {
    safe_url(v.as_str()?.trim()).map(str::to_string)
}

fn safe_url(s: &str) -> Option<&str> {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
    let host_ok = s.split_once("://").is_some_and(|(_, rest)| {
        rest.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
    });
    let chars_ok = s.chars().all(|c| {
        !c.is_whitespace() && !c.is_control() && !matches!(c, '"' | '<' | '>' | '`' | '\\')
    });
    (scheme_ok && host_ok && chars_ok && s.len() <= MAX_URL_CHARS).then_some(s)
}

/// Whitespace runs become one space, control characters go, at most `MAX_FIELD_CHARS` chars.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_FIELD_CHARS));
    let mut count = 0;
    for word in s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        let space = usize::from(!out.is_empty());
        let n = word.chars().count();
        if count + space + n > MAX_FIELD_CHARS {
            if space == 1 && count + 1 < MAX_FIELD_CHARS {
                out.push(' ');
                count += 1;
            }
            out.extend(word.chars().take(MAX_FIELD_CHARS - count));
            break;
        }
        if space == 1 {
            out.push(' ');
        }
        out.push_str(word);
        count += space + n;
    }
    out.trim_end().to_string()
}

// ---- dates ----

/// Seconds since the epoch of `YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH[:]MM]` (no offset: UTC).
fn parse_instant(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |r: Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = 0;
    let mut offset = 0;
    if b.len() > 10 {
        if !matches!(b[10], b'T' | b't' | b' ') || b.get(13) != Some(&b':') {
            return None;
        }
        let (h, mi) = (num(11..13)?, num(14..16)?);
        let mut i = 16;
        let mut sec = 0;
        if b.get(16) == Some(&b':') {
            sec = num(17..19)?;
            i = 19;
            if b.get(19) == Some(&b'.') {
                i = 20;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
        }
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        secs = h * 3600 + mi * 60 + sec;
        match b.get(i) {
            None => {}
            Some(b'Z' | b'z') if i + 1 == b.len() => {}
            Some(sign @ (b'+' | b'-')) => {
                let oh = num(i + 1..i + 3)?;
                let rest = &b[i + 3..];
                let om = match rest {
                    [] => 0,
                    [b':', ..] if rest.len() == 3 => num(i + 4..i + 6)?,
                    _ if rest.len() == 2 => num(i + 3..i + 5)?,
                    _ => return None,
                };
                if oh > 23 || om > 59 {
                    return None;
                }
                offset = (oh * 3600 + om * 60) * if *sign == b'+' { 1 } else { -1 };
            }
            Some(_) => return None,
        }
    }
    Some(days_from_civil(y, m, d) * 86_400 + secs - offset)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a timestamp we can read.
fn iso_date(s: &str) -> Option<&str> {
    parse_instant(s)?;
    s.trim().get(..10)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `20 November`: the date in the shop's own offset, as a shopper reads it.
fn display_date(s: &str) -> Option<String> {
    let date = iso_date(s)?;
    let month: usize = date.get(5..7)?.parse().ok()?;
    let day: u32 = date.get(8..10)?.parse().ok()?;
    Some(format!("{day} {}", MONTHS.get(month.checked_sub(1)?)?))
}

// ---------------------------------------------------------------------------------------------
// Order references in customer text, and choosing the order
// ---------------------------------------------------------------------------------------------

/// An order the customer names in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef {
    /// As written, e.g. `#1001`, `UK-1003`, `1001`.
    pub text: String,
    /// Said unmistakably (`#1001`, "order 1001", `UK-1003`): when none of the customer's orders
    /// has it, it is someone else's or a mistake, never to be answered as another order. A bare
    /// number is not: it may be a street number or a zip code.
    pub explicit: bool,
    /// Upper-case letters and digits (`UK1003`, `1001`): what names compare by.
    key: String,
    /// The name had letters before its digits; it then matches by the whole name only.
    prefixed: bool,
}

impl OrderRef {
    fn digits(&self) -> &str {
        self.key
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
    }

    fn matches(&self, order: &Order) -> bool {
        if order.key().as_deref() == Some(self.key.as_str()) {
            return true;
        }
        !self.prefixed
            && order.number_digits().as_deref() == Some(self.digits().trim_start_matches('0'))
    }
}

/// Words that introduce an order number, in the languages customers most often write in.
const ORDER_WORDS: &[&str] = &[
    "order",
    "orders",
    "commande",
    "bestellung",
    "bestelling",
    "pedido",
    "ordine",
];
/// Words allowed between an order word and its number ("order number: 1001").
const ORDER_FILLERS: &[&str] = &[
    "number",
    "no",
    "nr",
    "num",
    "#",
    "id",
    "n°",
    "nº",
    "no°",
    "numéro",
    "numero",
    "nummer",
    "is",
    "ref",
    "reference",
];
/// Words after a number that make it a quantity, a duration, a size or a price.
const UNIT_WORDS: &[&str] = &[
    "item", "items", "piece", "pieces", "pcs", "pc", "unit", "units", "x", "times", "day", "days",
    "week", "weeks", "month", "months", "year", "years", "hour", "hours", "hr", "hrs", "minute",
    "minutes", "min", "mins", "second", "seconds", "kg", "g", "gr", "lb", "lbs", "oz", "ml", "l",
    "cm", "mm", "m", "km", "in", "inch", "inches", "ft", "%", "percent", "usd", "eur", "gbp",
    "cad", "aud", "chf", "jpy", "dollar", "dollars", "euro", "euros", "pound", "pounds", "bucks",
    "€", "$", "£", "¥", "pairs", "pair", "pack", "packs", "box", "boxes", "bottles", "bottle",
    "points", "stars",
];
/// Words before a number that make it something other than an order.
const NOT_ORDER_BEFORE: &[&str] = &[
    "usd",
    "eur",
    "gbp",
    "cad",
    "aud",
    "chf",
    "$",
    "€",
    "£",
    "¥",
    "phone",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "call",
    "fax",
    "whatsapp",
    "sms",
    "zip",
    "zipcode",
    "postal",
    "postcode",
    "code",
    "apt",
    "apartment",
    "suite",
    "unit",
    "room",
    "floor",
    "ext",
    "extension",
    "pin",
    "box",
    "po",
    "sku",
    "item",
    "size",
    "model",
    "ref",
    "invoice",
    "account",
    "ticket",
    "case",
    "card",
    "iban",
    "x",
    "qty",
    "quantity",
    "price",
    "total",
    "paid",
    "pay",
    "cost",
    "costs",
    "tracking",
    "parcel",
    "package",
];
/// Words skipped when looking back for what a bare number is ("zip *is* 94103").
const LOOKBACK_FILLERS: &[&str] = &["is", "was", "my", "the", "a", "no", "code", "of", "-"];
/// Words after a number that make it a street number.
const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "way",
    "court",
    "ct",
    "place",
    "pl",
    "rue",
    "strasse",
    "straße",
    "calle",
    "via",
];
/// Words before a year (`since 2023`) and month names, for dates.
const YEAR_BEFORE: &[&str] = &[
    "in", "since", "year", "from", "until", "till", "by", "of", "early", "late", "mid",
];
const MONTH_WORDS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];
/// Prefixes that make a code something other than an order name: currencies (`EUR-100`), stock
/// keeping units, return authorisations, invoices, tickets.
const NOT_ORDER_PREFIXES: &[&str] = &[
    "USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY", "SEK", "NOK", "SKU", "RMA", "INV", "REF",
    "ID", "TEL", "PO", "TKT", "CASE", "ITEM", "ART",
];

struct Token<'a> {
    /// With surrounding punctuation removed (`#1001`, `$10.99`).
    core: &'a str,
    /// `core` lower-cased.
    lower: String,
    /// The raw token began with `(` or `+` (a phone number's area code or country code).
    phone_mark: bool,
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    text.split_whitespace()
        .map(|raw| {
            let core = raw
                .trim_start_matches(['(', '[', '{', '"', '\'', '«', '“', '¿', '¡'])
                .trim_end_matches([
                    ')', ']', '}', '"', '\'', '»', '”', '.', ',', ';', ':', '!', '?', '…',
                ]);
            Token {
                core,
                lower: core.to_lowercase(),
                phone_mark: raw.starts_with(['(', '+']),
            }
        })
        .collect()
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `UK-1003`, `uk-1003` (explicit) or `UK1003` (upper-case only, not explicit): the key, and
/// whether it was hyphenated.
fn prefixed_name(s: &str) -> Option<(String, bool)> {
    let split = s.find(|c: char| !c.is_ascii_alphabetic())?;
    let (letters, rest) = s.split_at(split);
    if !(1..=4).contains(&letters.len()) {
        return None;
    }
    let (hyphen, digits) = match rest.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, rest),
    };
    if digits.len() < 3 || digits.len() > 12 || !all_digits(digits) {
        return None;
    }
    let upper = letters.to_ascii_uppercase();
    if NOT_ORDER_PREFIXES.contains(&upper.as_str()) || (!hyphen && letters != upper) {
        return None;
    }
    Some((format!("{upper}{digits}"), hyphen))
}

/// The key of a name: upper-case letters and digits only (`#uk-1003` → `UK1003`).
fn name_key(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The orders a message names, in the order written. `#1001`, `order 1001`, `order number:
/// 1001`, `UK-1003` are explicit; a bare `1001` counts unless its neighbours make it a price, a
/// quantity, a phone number, a date, a zip code or a street number.
pub fn order_refs(text: &str) -> Vec<OrderRef> {
    let toks = tokens(text);
    let mut refs: Vec<OrderRef> = Vec::new();
    let mut push = |r: OrderRef| match refs.iter_mut().find(|e| e.key == r.key) {
        Some(existing) => existing.explicit |= r.explicit,
        None => refs.push(r),
    };
    let word = |i: usize| toks.get(i).map(|t| t.lower.as_str()).unwrap_or("");
    let unit_after = |i: usize| UNIT_WORDS.contains(&word(i + 1));
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        // `#1001`, `#UK-1003`, `# 1001`.
        if let Some(rest) = t.core.strip_prefix('#') {
            let (rest, at) = if rest.is_empty() {
                (toks.get(i + 1).map(|n| n.core).unwrap_or(""), i + 1)
            } else {
                (rest, i)
            };
            if let Some(r) = explicit_ref(rest, t.core, 3) {
                if !unit_after(at) {
                    push(r);
                }
                i = at + 1;
                continue;
            }
        }
        // `order 1001`, `order number: 1001`, `order#1001`.
        let (is_order_word, glued) = match t.lower.split_once('#') {
            Some((w, rest)) if ORDER_WORDS.contains(&w) => (true, Some(rest)),
            _ => (ORDER_WORDS.contains(&t.lower.as_str()), None),
        };
        if is_order_word {
            if let Some(r) = glued.and_then(|g| explicit_ref(g, g, 1)) {
                push(r);
                i += 1;
                continue;
            }
            let mut j = i + 1;
            let mut fillers = 0;
            while fillers < 3 && ORDER_FILLERS.contains(&word(j).trim_end_matches(['.', ':'])) {
                j += 1;
                fillers += 1;
            }
            if let Some(next) = toks.get(j) {
                let candidate = next.core.strip_prefix('#').unwrap_or(next.core);
                // "order 12 shirts" is a verb and a quantity: short numbers need a filler word.
                let min_digits = if fillers > 0 || next.core.starts_with('#') {
                    1
                } else {
                    3
                };
                if let Some(r) = explicit_ref(candidate, next.core, min_digits) {
                    if !unit_after(j) {
                        push(r);
                    }
                    i = j + 1;
                    continue;
                }
            }
        }
        // `UK-1003` (explicit), `UK1003` (upper-case, a name only if the customer has it).
        if let Some((key, hyphen)) = prefixed_name(t.core) {
            push(OrderRef {
                text: t.core.to_string(),
                explicit: hyphen,
                key,
                prefixed: true,
            });
        } else if bare_order_number(&toks, i) {
            push(OrderRef {
                text: t.core.to_string(),
                explicit: false,
                key: t.core.to_string(),
                prefixed: false,
            });
        }
        i += 1;
    }
    refs
}

/// An explicit reference from the text after `#` or an order word.
fn explicit_ref(s: &str, written: &str, min_digits: usize) -> Option<OrderRef> {
    if all_digits(s) && s.len() >= min_digits && s.len() <= 12 {
        return Some(OrderRef {
            text: written.to_string(),
            explicit: true,
            key: s.to_string(),
            prefixed: false,
        });
    }
    prefixed_name(s).map(|(key, _)| OrderRef {
        text: written.to_string(),
        explicit: true,
        key,
        prefixed: true,
    })
}

/// A bare number that reads as an order number (see [`order_refs`]).
fn bare_order_number(toks: &[Token<'_>], i: usize) -> bool {
    let t = &toks[i];
    if !all_digits(t.core) || !(3..=9).contains(&t.core.len()) || t.core.starts_with('0') {
        return false;
    }
    if t.phone_mark {
        return false;
    }
    let word = |j: Option<usize>| {
        j.and_then(|j| toks.get(j))
            .map(|t| t.lower.as_str())
            .unwrap_or("")
    };
    let before = word(i.checked_sub(1));
    let before2 = word(i.checked_sub(2));
    let after = word(Some(i + 1));
    // Digit groups side by side are a phone number (`555 123 4567`), a date or an amount.
    let digitish = |w: &str| {
        !w.is_empty()
            && w.chars().any(|c| c.is_ascii_digit())
            && w.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | '/' | '(' | ')' | '+'))
    };
    if digitish(before) || digitish(after) || toks.get(i + 1).is_some_and(|n| n.phone_mark) {
        return false;
    }
    let after2 = word(Some(i + 2));
    if UNIT_WORDS.contains(&after)
        || STREET_WORDS.contains(&after)
        || STREET_WORDS.contains(&after2)
    {
        return false;
    }
    // "my zip is 94103", "phone number: 5551234": the nearest meaningful word before decides; a
    // bare number after "number" that no order word introduced is some other number.
    let mut back = i;
    for _ in 0..3 {
        let Some(j) = back.checked_sub(1) else { break };
        back = j;
        let w = toks[j].lower.as_str();
        if NOT_ORDER_BEFORE.contains(&w) || w == "number" || w == "#" {
            return false;
        }
        if !LOOKBACK_FILLERS.contains(&w) {
            break;
        }
    }
    let is_year = t.core.len() == 4 && (1990..=2099).contains(&t.core.parse::<u32>().unwrap_or(0));
    if is_year
        && (MONTH_WORDS.contains(&before)
            || MONTH_WORDS.contains(&before2)
            || YEAR_BEFORE.contains(&before)
            || ORDER_WORDS.contains(&after))
    {
        return false;
    }
    true
}

/// Which order a turn is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice<'a> {
    /// The conversation names this order, and it is the customer's.
    Named(&'a Order),
    /// Nothing named: the customer's most recent order.
    MostRecent(&'a Order),
    /// The conversation names an order the customer does not have: never describe it.
    NotFound { named: String },
    /// The customer has no orders we can read (`named`: what the conversation named, if any).
    NoOrders { named: Option<String> },
}

impl<'a> Choice<'a> {
    /// The order to talk about, if any.
    pub fn order(&self) -> Option<&'a Order> {
        match self {
            Choice::Named(o) | Choice::MostRecent(o) => Some(o),
            _ => None,
        }
    }
}

/// Picks the order from the customer's messages (oldest first): the latest message that names an
/// order decides. A named order that is the customer's is chosen; an explicit name (or a bare
/// number as long as the customer's order numbers) that is not theirs is `NotFound`; a bare
/// number that does not look like theirs is ignored. Nothing named: the most recent order.
pub fn choose_order<'a, S: AsRef<str>>(orders: &'a [Order], messages: &[S]) -> Choice<'a> {
    for message in messages.iter().rev() {
        let message = message.as_ref();
        let refs = order_refs(message);
        if let Some(order) = refs
            .iter()
            .find_map(|r| orders.iter().find(|o| r.matches(o)))
        {
            return Choice::Named(order);
        }
        // A bare number as long as the customer's order numbers is most likely one of them.
        let plausible = |r: &OrderRef| {
            r.explicit
                || (!r.prefixed
                    && orders.iter().any(|o| {
                        o.number_digits()
                            .is_some_and(|d| d.len() == r.digits().len())
                    }))
        };
        if let Some(r) = refs.iter().find(|r| plausible(r)) {
            let named = r.text.clone();
            return if orders.is_empty() {
                Choice::NoOrders { named: Some(named) }
            } else {
                Choice::NotFound { named }
            };
        }
    }
    match orders.first() {
        Some(o) => Choice::MostRecent(o),
        None => Choice::NoOrders { named: None },
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering: templates, the summary sentence, `body_html`
// ---------------------------------------------------------------------------------------------

/// What a rendering may use: the chosen order (if any) and the customer's first name.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderContext<'a> {
    pub order: Option<&'a Order>,
    pub first_name: Option<&'a str>,
}

/// A template uses `{order.*}` but there is no order: the caller answers `answer_no_order` or
/// hands off with `no_order_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedsOrderData;

impl fmt::Display for NeedsOrderData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the answer needs order data the customer does not have")
    }
}

impl std::error::Error for NeedsOrderData {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Summary,
    Name,
    Status,
    Carrier,
    TrackingNumber,
    TrackingUrl,
    StatusUrl,
    Items,
    Date,
    FirstName,
}

impl Placeholder {
    fn parse(key: &str) -> Option<Placeholder> {
        Some(match key.trim() {
            "order.summary" => Placeholder::Summary,
            "order.name" => Placeholder::Name,
            "order.status" => Placeholder::Status,
            "order.carrier" => Placeholder::Carrier,
            "order.tracking_number" => Placeholder::TrackingNumber,
            "order.tracking_url" => Placeholder::TrackingUrl,
            "order.status_url" => Placeholder::StatusUrl,
            "order.items" => Placeholder::Items,
            "order.date" => Placeholder::Date,
            "customer.first_name" => Placeholder::FirstName,
            _ => return None,
        })
    }
}

/// Splits a template into literal text and placeholders; `{...}` that is not a placeholder stays
/// literal.
fn template_parts(template: &str) -> Vec<Result<&str, Placeholder>> {
    let mut parts = Vec::new();
    let mut literal_start = 0;
    let mut pos = 0;
    while let Some(open) = template[pos..].find('{').map(|o| o + pos) {
        let Some(close) = template[open..].find('}').map(|c| c + open) else {
            break;
        };
        match Placeholder::parse(&template[open + 1..close]) {
            Some(p) => {
                if open > literal_start {
                    parts.push(Ok(&template[literal_start..open]));
                }
                parts.push(Err(p));
                literal_start = close + 1;
                pos = close + 1;
            }
            None => pos = open + 1,
        }
    }
    if literal_start < template.len() {
        parts.push(Ok(&template[literal_start..]));
    }
    parts
}

/// Whether a template uses order data (`{order.*}`).
pub fn needs_order_data(template: &str) -> bool {
    template_parts(template)
        .iter()
        .any(|p| matches!(p, Err(p) if *p != Placeholder::FirstName))
}

/// Fills a topic answer's placeholders. Missing fields render as nothing, with the words that
/// would dangle around them removed ("shipped with ." does not happen); `{order.summary}` words
/// each status properly.
pub fn render(template: &str, ctx: &RenderContext<'_>) -> Result<Rendered, NeedsOrderData> {
    if ctx.order.is_none() && needs_order_data(template) {
        return Err(NeedsOrderData);
    }
    let mut out = Rendered::default();
    let mut after_empty = false;
    for part in template_parts(template) {
        match part {
            Ok(literal) => {
                out.push_literal_after(literal, after_empty);
                after_empty = false;
            }
            Err(p) => {
                let before = out.text.len();
                insert(&mut out, p, ctx);
                if out.text.len() == before {
                    out.drop_dangling();
                    after_empty = true;
                }
            }
        }
    }
    Ok(out)
}

fn insert(out: &mut Rendered, p: Placeholder, ctx: &RenderContext<'_>) {
    if p == Placeholder::FirstName {
        out.push_data(ctx.first_name.unwrap_or(""));
        return;
    }
    let Some(o) = ctx.order else { return };
    match p {
        Placeholder::Summary => summary_into(out, o),
        Placeholder::Name => out.push_data(o.name.as_deref().unwrap_or("")),
        Placeholder::Status => out.push_data(o.status.human()),
        Placeholder::Carrier => out.push_data(o.carrier.as_deref().unwrap_or("")),
        Placeholder::TrackingNumber => out.push_data(o.tracking_number.as_deref().unwrap_or("")),
        Placeholder::TrackingUrl => out.push_link(o.tracking_url.as_deref().unwrap_or("")),
        Placeholder::StatusUrl => out.push_link(o.status_url.as_deref().unwrap_or("")),
        Placeholder::Items => out.push_data(&o.items_text()),
        Placeholder::Date => out.push_data(&o.date_text().unwrap_or_default()),
        Placeholder::FirstName => {}
    }
}

/// One sentence per status. A sentence that ends with a link has no full stop after it (plain-
/// text clients would make the stop part of the link).
fn summary_into(r: &mut Rendered, o: &Order) {
    let when = o.status_at.as_deref().and_then(display_date);
    let placed = o.date_text();
    let carrier = o.carrier.as_deref();
    // "Your order #1001" / "your order" when the data has no name.
    let your_order = |r: &mut Rendered, capital: bool| {
        r.push_literal(if capital { "Your order" } else { "your order" });
        if let Some(name) = &o.name {
            r.push_literal(" ");
            r.push_data(name);
        }
    };
    let lead = |r: &mut Rendered| {
        if o.partial {
            r.push_literal("Part of ");
            your_order(r, false);
        } else {
            your_order(r, true);
        }
    };
    let on = |r: &mut Rendered, date: &Option<String>| {
        if let Some(d) = date {
            r.push_literal(" on ");
            r.push_data(d);
        }
    };
    let with_carrier = |r: &mut Rendered, word: &str| {
        if let Some(c) = carrier {
            r.push_literal(word);
            r.push_data(c);
        }
    };
    let ended_with_link = match o.status {
        OrderStatus::Unfulfilled => {
            your_order(r, true);
            r.push_literal(" hasn't shipped yet");
            if let Some(d) = &placed {
                r.push_literal("; it was placed on ");
                r.push_data(d);
            }
            false
        }
        OrderStatus::ProcessingFulfillment => {
            lead(r);
            r.push_literal(" is being prepared for shipping");
            with_carrier(r, " with ");
            let link = tracking_tail(r, o);
            if !link && o.tracking_number.is_none() {
                if let Some(d) = &placed {
                    r.push_literal("; it was placed on ");
                    r.push_data(d);
                }
            }
            link
        }
        OrderStatus::InTransit => {
            lead(r);
            r.push_literal(" shipped");
            on(r, &when);
            with_carrier(r, " with ");
            r.push_literal(" and is on its way");
            if o.partial {
                r.push_literal(" (the rest will follow)");
            }
            tracking_tail(r, o)
        }
        OrderStatus::OutForDelivery => {
            lead(r);
            r.push_literal(" is out for delivery");
            with_carrier(r, " with ");
            tracking_tail(r, o)
        }
        OrderStatus::AttemptedDelivery => {
            match carrier {
                Some(c) => r.push_data(c),
                None => r.push_literal("The carrier"),
            }
            r.push_literal(" tried to deliver ");
            your_order(r, false);
            r.push_literal(" but couldn't complete the delivery");
            tracking_tail(r, o)
        }
        OrderStatus::ReadyForPickup => {
            lead(r);
            r.push_literal(" is ready for pickup");
            with_carrier(r, " from ");
            tracking_tail(r, o)
        }
        OrderStatus::Delivered => {
            lead(r);
            r.push_literal(" was delivered");
            on(r, &when);
            false
        }
        OrderStatus::FailedDelivery => {
            r.push_literal("There was a problem delivering ");
            your_order(r, false);
            with_carrier(r, " with ");
            tracking_tail(r, o)
        }
        OrderStatus::Cancelled => {
            your_order(r, true);
            r.push_literal(" was cancelled");
            on(r, &when);
            false
        }
        OrderStatus::Refunded => {
            your_order(r, true);
            r.push_literal(" was refunded");
            on(r, &when);
            false
        }
        OrderStatus::PartiallyRefunded => {
            r.push_literal("Part of ");
            your_order(r, false);
            r.push_literal(" was refunded");
            on(r, &when);
            if o.tracking_number.is_some() || o.tracking_url.is_some() {
                r.push_literal("; the rest shipped");
                with_carrier(r, " with ");
                tracking_tail(r, o)
            } else {
                false
            }
        }
    };
    if !ended_with_link {
        r.push_literal(".");
    }
}

/// `: tracking 1Z…, https://…`; whether it ended with a link.
fn tracking_tail(r: &mut Rendered, o: &Order) -> bool {
    match (&o.tracking_number, &o.tracking_url) {
        (Some(n), Some(u)) => {
            r.push_literal(": tracking ");
            r.push_data(n);
            r.push_literal(", ");
            r.push_link(u);
            true
        }
        (Some(n), None) => {
            r.push_literal(": tracking ");
            r.push_data(n);
            false
        }
        (None, Some(u)) => {
            r.push_literal(": ");
            r.push_link(u);
            true
        }
        (None, None) => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpanKind {
    /// Order or customer data: escaped, never turned into a link.
    Data,
    /// A URL we validated: a link where the channel shows links.
    Link,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    range: Range<usize>,
    kind: SpanKind,
}

/// A reply's text, knowing which parts came from data: `text()` for `body_text`, `html(channel)`
/// for `body_html`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    text: String,
    /// Sorted, disjoint, each within one line.
    spans: Vec<Span>,
}

impl Rendered {
    /// Text written by the merchant or the model: URLs in it become links on email and chat.
    pub fn plain(text: &str) -> Rendered {
        Rendered {
            text: text.to_string(),
            spans: Vec::new(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text
    }

    /// `body_html`: paragraphs and line breaks, everything escaped, `<a href>` links only on
    /// email and chat.
    pub fn html(&self, channel: &str) -> String {
        let links = links_allowed(channel);
        let text = self.text.as_str();
        let base = text.as_ptr() as usize;
        let mut out = String::with_capacity(text.len() + 16);
        for para in text.trim().split("\n\n") {
            let para = para.trim();
            if para.is_empty() {
                continue;
            }
            out.push_str("<p>");
            for (n, line) in para.lines().enumerate() {
                if n > 0 {
                    out.push_str("<br>");
                }
                let start = line.as_ptr() as usize - base;
                self.line_html(start..start + line.len(), links, &mut out);
            }
            out.push_str("</p>");
        }
        out
    }

    fn line_html(&self, line: Range<usize>, links: bool, out: &mut String) {
        let mut pos = line.start;
        for span in &self.spans {
            let r = &span.range;
            if r.start < pos || r.end > line.end {
                continue;
            }
            literal_html(&self.text[pos..r.start], links, out);
            let s = &self.text[r.clone()];
            match span.kind {
                SpanKind::Link if links => anchor(s, out),
                _ => out.push_str(&escape_html(s)),
            }
            pos = r.end;
        }
        literal_html(&self.text[pos..line.end], links, out);
    }

    fn push_literal(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// A literal that follows a placeholder that rendered as nothing: no doubled or leading
    /// space, no stray comma before punctuation.
    fn push_literal_after(&mut self, s: &str, after_empty: bool) {
        let mut s = s;
        if after_empty {
            let at_line_start = self.text.is_empty() || self.text.ends_with('\n');
            if at_line_start || self.text.ends_with(' ') {
                s = s.trim_start_matches(' ');
            }
            if s.starts_with([',', '.', '!', '?', ';', ':', ')']) && self.ends_in_literal(",") {
                self.text.pop();
            }
        }
        self.text.push_str(s);
    }

    /// After a placeholder rendered as nothing: the spaces and the connecting word before it go.
    fn drop_dangling(&mut self) {
        let floor = self.spans.last().map_or(0, |s| s.range.end);
        let trim_spaces = |t: &mut String| {
            while t.len() > floor && t.ends_with(' ') {
                t.pop();
            }
        };
        trim_spaces(&mut self.text);
        for connector in [" with", " via", " by", " on", " from", " at"] {
            if self.ends_in_literal(connector) {
                self.text.truncate(self.text.len() - connector.len());
                break;
            }
        }
    }

    fn ends_in_literal(&self, suffix: &str) -> bool {
        let floor = self.spans.last().map_or(0, |s| s.range.end);
        self.text.len() >= floor + suffix.len() && self.text.ends_with(suffix)
    }

    fn push_span(&mut self, s: &str, kind: SpanKind) {
        let s = clean_line(s);
        if s.is_empty() {
            return;
        }
        let start = self.text.len();
        self.text.push_str(&s);
        self.spans.push(Span {
            range: start..self.text.len(),
            kind,
        });
    }

    fn push_data(&mut self, s: &str) {
        self.push_span(s, SpanKind::Data);
    }

    fn push_link(&mut self, url: &str) {
        // An unsafe URL never reaches a reply, not even as text.
        if let Some(u) = safe_url(url.trim()) {
            self.push_span(u, SpanKind::Link);
        }
    }
}

/// Data as one line: spans never cross lines, so a paragraph split cannot cut one.
fn clean_line(s: &str) -> String {
    if s.chars()
        .any(|c| (c.is_whitespace() && c != ' ') || c.is_control())
        || s.starts_with(' ')
        || s.ends_with(' ')
        || s.contains("  ")
    {
        s.split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        s.to_string()
    }
}

/// Channels whose `body_html` shows links; elsewhere (facebook, instagram, whatsapp, sms, ...)
/// only plain URLs reach the customer.
pub fn links_allowed(channel: &str) -> bool {
    let c = channel.trim();
    c.eq_ignore_ascii_case("email") || c.eq_ignore_ascii_case("chat")
}

/// `body_html` for a reply's plain text on a channel: escaped paragraphs and line breaks, and on
/// email and chat its `http(s)` URLs as links. On other channels it is exactly the plain
/// paragraphs-and-breaks rendering replies had before links were made.
pub fn reply_html(text: &str, channel: &str) -> String {
    Rendered::plain(text).html(channel)
}

fn anchor(url: &str, out: &mut String) {
    let u = escape_html(url);
    out.push_str("<a href=\"");
    out.push_str(&u);
    out.push_str("\">");
    out.push_str(&u);
    out.push_str("</a>");
}

/// Escapes literal text and, when links are allowed, turns its URLs into links.
fn literal_html(s: &str, links: bool, out: &mut String) {
    if !links {
        out.push_str(&escape_html(s));
        return;
    }
    let mut rest = s;
    while let Some((before, url, after)) = next_url(rest) {
        out.push_str(&escape_html(before));
        anchor(url, out);
        rest = after;
    }
    out.push_str(&escape_html(rest));
}

/// The first `http(s)://` URL in `s` that starts a word: (text before, URL, text after).
fn next_url(s: &str) -> Option<(&str, &str, &str)> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("http").map(|f| f + from) {
        from = found + 4;
        let starts_word = s[..found]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        if !starts_word
            || !(lower[found..].starts_with("https://") || lower[found..].starts_with("http://"))
        {
            continue;
        }
        let end = s[found..]
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`'))
            .map_or(s.len(), |e| e + found);
        let candidate =
            s[found..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}']);
        if let Some(url) = safe_url(candidate) {
            let url_end = found + url.len();
            return Some((&s[..found], &s[found..url_end], &s[url_end..]));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Facts for the model
// ---------------------------------------------------------------------------------------------

/// The customer's most recent `max_orders` orders for the openai brain's system message: one JSON
/// object per line (so a product title cannot pass for an instruction's structure), normalized
/// fields only.
pub fn order_facts(orders: &[Order], max_orders: usize) -> String {
    if orders.is_empty() || max_orders == 0 {
        return "The customer has no orders on record.".to_string();
    }
    let mut out = String::from("The customer's orders, most recent first (one JSON object each):");
    for o in orders.iter().take(max_orders) {
        let mut fact = serde_json::Map::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                fact.insert(k.to_string(), Value::String(v));
            }
        };
        put("name", o.name.clone());
        put("status", Some(o.status.code().to_string()));
        put("status_words", Some(o.status.human().to_string()));
        put(
            "placed_on",
            o.created_at
                .as_deref()
                .and_then(iso_date)
                .map(str::to_string),
        );
        put(
            "status_since",
            o.status_at
                .as_deref()
                .and_then(iso_date)
                .map(str::to_string),
        );
        put("carrier", o.carrier.clone());
        put("tracking_number", o.tracking_number.clone());
        put("tracking_url", o.tracking_url.clone());
        put("order_status_url", o.status_url.clone());
        put("items", Some(o.items_text()).filter(|s| !s.is_empty()));
        if o.partial {
            fact.insert("partly_shipped".into(), Value::Bool(true));
        }
        out.push('\n');
        out.push_str(&Value::Object(fact).to_string());
    }
    out
}

#[cfg(test)]
mod tests;
