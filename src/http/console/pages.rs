//! The console's HTML, as maud templates: every interpolated value is escaped by maud, so
//! customer text, order data and model output reach the page as text. Charts are inline SVG
//! drawn here; styles are inline; there is no script.

use actix_web::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

use super::{ConsoleState, PAGE_SIZE};
use crate::domain::plan::Mode;
use crate::domain::session::{ActionKind, Role, Session, SessionState};
use crate::domain::stats::{is_draft, Figures, TicketFilter, TicketSummary};
use crate::intake::recent::IntakeDecision;

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2430;background:#f5f6f8}
header{background:#1d2430;color:#fff;padding:.6em 1em;display:flex;flex-wrap:wrap;gap:1em;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}header form{margin-left:auto}header .pill{color:#1d2430}
main{max-width:1100px;margin:0 auto;padding:1em}
h1{font-size:1.4em;margin:.3em 0 .6em}h2{font-size:1.1em;margin:1.2em 0 .4em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.6em}
.card{background:#fff;border-radius:8px;padding:.6em .8em;box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:1.5em}.card span{color:#5a6372;font-size:.85em}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef0f3;font-weight:600}.wrap{overflow-x:auto}
.msg{white-space:pre-wrap;word-break:break-word;margin:0}
.customer{border-left:4px solid #5b8def}.ai{border-left:4px solid #2fa36b}
.draft{background:#fff7e0;border:1px dashed #d39b00;padding:.1em .4em;border-radius:4px;font-size:.85em}
.banner{background:#fff7e0;border:1px solid #d39b00;padding:.5em .8em;border-radius:6px;margin-bottom:1em}
.err{color:#b3261e}.muted{color:#5a6372}.pill{padding:.05em .45em;border-radius:9px;background:#e3e6ea;font-size:.85em}
.handed_off{background:#fde2e1}.active{background:#dff3e8}
form.filters{display:flex;flex-wrap:wrap;gap:.5em;margin-bottom:.8em;align-items:end}
input,select,button{font:inherit;padding:.3em .5em}button{cursor:pointer}
.pager{display:flex;gap:1em;margin:.8em 0}
svg{max-width:100%;height:auto;background:#fff;border-radius:8px;box-shadow:0 1px 2px #0002}
@media(max-width:600px){th,td{padding:.3em}body{font-size:14px}}
";

fn time(at: u64) -> String {
    jiff::Timestamp::from_second(at as i64)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| at.to_string())
}

fn ms(v: Option<u64>) -> String {
    match v {
        None => "n/a".into(),
        Some(ms) if ms < 10_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) if ms < 120_000 => format!("{} s", ms / 1000),
        Some(ms) => format!("{} min", ms / 60_000),
    }
}

fn layout(title: &str, c: Option<&ConsoleState>, csrf: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · gorgias-agent console" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    a href="/console" { "Overview" }
                    a href="/console/tickets" { "Tickets" }
                    @if let Some(c) = c {
                        span.pill { "mode: " (c.mode.as_str()) }
                    }
                    @if !csrf.is_empty() {
                        form method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn error(status: StatusCode, message: &str) -> Markup {
    layout(
        status.canonical_reason().unwrap_or("Error"),
        None,
        "",
        html! { h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) } p.err { (message) } },
    )
}

pub fn login(problem: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        "",
        html! {
            h1 { "Sign in" }
            @if let Some(p) = problem { p.err { (p) } }
            form method="post" action="/console/login" {
                label { "Admin token " input type="password" name="token" autocomplete="current-password" required; }
                " " button type="submit" { "Sign in" }
            }
            p.muted { "The token is the agent's server.admin_token." }
        },
    )
}

fn mode_banner(mode: Mode) -> Markup {
    html! {
        @match mode {
            Mode::Live => {},
            Mode::Shadow => p.banner { "Shadow mode: the AI posts its replies as internal notes (drafts) and never writes to customers. Drafts are marked on each ticket." },
            Mode::DryRun => p.banner { "Dry-run mode: nothing is sent to Gorgias. The replies the AI would have posted are shown as drafts on each ticket." },
        }
    }
}

fn cards(f: &Figures, mode: Mode) -> Markup {
    html! {
        div.cards {
            div.card { b id={"conversations-" (f.window)} { (f.conversations) } span { "conversations" } }
            div.card { b id={"ai-replies-" (f.window)} { (f.ai_replies) } span { "AI replies" } }
            div.card { b id={"handoffs-" (f.window)} { (f.handoffs_total()) } span { "handoffs" } }
            div.card { b id={"automation-" (f.window)} { (format!("{:.0}%", f.automation_rate * 100.0)) } span { "automation rate" } }
            div.card { b { (ms(f.first_reply_ms_p50)) } span { "first reply p50" } }
            div.card { b { (ms(f.first_reply_ms_p90)) } span { "first reply p90" } }
            @if mode != Mode::Live || f.drafts > 0 {
                div.card { b { (f.drafts) } span { "drafts (shadow / dry-run)" } }
            }
            div.card { b { (f.gorgias_errors) } span { "Gorgias errors" } }
            div.card { b { (f.retries) } span { "retries" } }
            div.card { b { (f.actions_failed) } span { "actions given up" } }
        }
    }
}

/// Horizontal bars, one per handoff reason.
fn reasons_chart(f: &Figures) -> Markup {
    let max = f.handoffs.values().copied().max().unwrap_or(0).max(1);
    let rows = f.handoffs.len().max(1);
    let h = 28 * rows + 10;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 600 " (h)} width="600" height=(h) role="img" aria-label="Handoffs by reason" {
            @if f.handoffs.is_empty() {
                text x="10" y="24" fill="#5a6372" { "No handoffs in this window." }
            }
            @for (i, (reason, n)) in f.handoffs.iter().enumerate() {
                @let y = 8 + 28 * i;
                @let w = 330 * n / max;
                text x="200" y=(y + 15) text-anchor="end" font-size="13" { (reason) }
                rect x="210" y=(y) width=(w.max(1)) height="20" fill="#d9534f" {}
                text x=(215 + w) y=(y + 15) font-size="13" { (n) }
            }
        }
    }
}

/// Per-day columns: conversations, AI replies, handoffs.
fn days_chart(f: &Figures) -> Markup {
    let max = f
        .per_day
        .iter()
        .map(|d| d.conversations.max(d.ai_replies).max(d.handoffs))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = 600 / f.per_day.len().max(1) as u64;
    let bar = (slot.saturating_sub(12) / 3).max(2);
    let scale = |v: u64| 150 * v / max;
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 620 210" width="620" height="210" role="img" aria-label="Per day" {
            @for (i, d) in f.per_day.iter().enumerate() {
                @let x = 10 + slot * i as u64;
                @for (j, (v, color)) in [(d.conversations, "#5b8def"), (d.ai_replies, "#2fa36b"), (d.handoffs, "#d9534f")].into_iter().enumerate() {
                    rect x=(x + bar * j as u64) y=(170 - scale(v)) width=(bar) height=(scale(v).max(1)) fill=(color) {
                        title { (v) }
                    }
                }
                text x=(x) y="188" font-size="11" {
                    (jiff::Timestamp::from_second(d.day as i64 * 86400).map(|t| t.strftime("%b %d").to_string()).unwrap_or_default())
                }
            }
            rect x="10" y="196" width="10" height="10" fill="#5b8def" {}
            text x="24" y="205" font-size="11" { "conversations" }
            rect x="120" y="196" width="10" height="10" fill="#2fa36b" {}
            text x="134" y="205" font-size="11" { "AI replies" }
            rect x="210" y="196" width="10" height="10" fill="#d9534f" {}
            text x="224" y="205" font-size="11" { "handoffs" }
        }
    }
}

pub fn overview(c: &ConsoleState, day: &Figures, week: &Figures) -> Markup {
    layout(
        "Overview",
        Some(c),
        "",
        html! {
            h1 { "Overview" }
            (mode_banner(c.mode))
            h2 { "Last 24 hours" }
            (cards(day, c.mode))
            h2 { "Last 7 days" }
            (cards(week, c.mode))
            h2 { "Handoffs by reason (7 days)" }
            (reasons_chart(week))
            h2 { "Per day (UTC)" }
            (days_chart(week))
            p.muted { "Conversations: tickets whose first customer message arrived in the window. Automation rate: of those, the share the AI answered and never handed off. First reply: from the webhook being accepted to the first reply being delivered." }
        },
    )
}

fn state_pill(state: SessionState) -> Markup {
    let (class, label) = match state {
        SessionState::Active => ("pill active", "active"),
        SessionState::HandedOff => ("pill handed_off", "handed off"),
    };
    html! { span class=(class) { (label) } }
}

fn list_link(filter: &TicketFilter, page: usize) -> String {
    let mut q = vec![format!("page={page}")];
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    if let Some(s) = filter.state {
        q.push(format!(
            "state={}",
            if s == SessionState::Active {
                "active"
            } else {
                "handed_off"
            }
        ));
    }
    if let Some(r) = &filter.reason {
        q.push(format!("reason={}", enc(r)));
    }
    if let Some(ch) = &filter.channel {
        q.push(format!("channel={}", enc(ch)));
    }
    format!("/console/tickets?{}", q.join("&"))
}

pub fn tickets(
    c: &ConsoleState,
    filter: &TicketFilter,
    page: usize,
    rows: &[TicketSummary],
    more: bool,
) -> Markup {
    let state = filter.state.map(|s| {
        if s == SessionState::Active {
            "active"
        } else {
            "handed_off"
        }
    });
    layout(
        "Tickets",
        Some(c),
        "",
        html! {
            h1 { "Tickets" }
            form.filters method="get" action="/console/tickets" {
                label { "State " select name="state" {
                    option value="" selected[state.is_none()] { "any" }
                    option value="active" selected[state == Some("active")] { "active" }
                    option value="handed_off" selected[state == Some("handed_off")] { "handed off" }
                } }
                label { "Handoff reason " input name="reason" value=(filter.reason.as_deref().unwrap_or("")) placeholder="e.g. no_answer"; }
                label { "Channel " input name="channel" value=(filter.channel.as_deref().unwrap_or("")) placeholder="e.g. email"; }
                button type="submit" { "Filter" }
            }
            div.wrap { table {
                thead { tr { th { "Ticket" } th { "State" } th { "Channel" } th { "Last decision" } th { "Handoff reason" } th { "Msgs / AI" } th { "Updated" } th { "Gorgias" } } }
                tbody {
                    @for t in rows {
                        tr {
                            td { a.ticket href={"/console/tickets/" (t.ticket_id)} { "#" (t.ticket_id) } }
                            td { (state_pill(t.state)) }
                            td { (t.channel) }
                            td { (t.last_outcome.as_deref().unwrap_or("")) " " span.muted { (t.last_reason.as_deref().unwrap_or("")) } }
                            td { (t.handoff_reason.as_deref().unwrap_or("")) }
                            td { (t.customer_messages) " / " (t.ai_replies) }
                            td { (time(t.updated_at)) }
                            td { a href={(c.gorgias_base_url) "/app/ticket/" (t.ticket_id)} rel="noreferrer" { "open" } }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="8" .muted { "No tickets match." } } }
                }
            } }
            div.pager {
                @if page > 1 { a rel="prev" href=(list_link(filter, page - 1)) { "← newer" } }
                span.muted { "page " (page) " · " (PAGE_SIZE) " per page" }
                @if more { a rel="next" href=(list_link(filter, page + 1)) { "older →" } }
            }
        },
    )
}

fn action_label(kind: &ActionKind) -> String {
    match kind {
        ActionKind::Reply { target, .. } => format!("reply ({})", target.channel),
        ActionKind::Note { .. } => "internal note".into(),
        ActionKind::Reassign { user_id, team_id } => format!(
            "reassign (user {}, team {})",
            user_id.map_or("-".into(), |u| u.to_string()),
            team_id.map_or("-".into(), |t| t.to_string())
        ),
        ActionKind::AddTags { names } => format!("add tags ({})", names.join(", ")),
        ActionKind::Close => "close the ticket".into(),
    }
}

fn action_text(kind: &ActionKind) -> &str {
    match kind {
        ActionKind::Reply { text, .. } | ActionKind::Note { text } => text,
        ActionKind::Reassign { .. } | ActionKind::AddTags { .. } | ActionKind::Close => "",
    }
}

pub fn ticket(
    c: &ConsoleState,
    ticket_id: u64,
    session: Option<&Session>,
    intake: &[IntakeDecision],
    csrf: &str,
) -> Markup {
    let drafts = c.mode != Mode::Live;
    layout(
        &format!("Ticket {ticket_id}"),
        Some(c),
        csrf,
        html! {
            h1 { "Ticket #" (ticket_id) " " @if let Some(s) = session { (state_pill(s.state)) } }
            p { a href={(c.gorgias_base_url) "/app/ticket/" (ticket_id)} rel="noreferrer" { "Open in Gorgias" } }
            (mode_banner(c.mode))
            @if let Some(s) = session {
                @if s.is_handed_off() {
                    form method="post" action={"/console/tickets/" (ticket_id) "/resume"} {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Resume: give this ticket back to the AI" }
                        @if let Some(at) = s.handed_off_at { " " span.muted { "handed off " (time(at)) } }
                    }
                }
                h2 { "Transcript" }
                div.wrap { table id="transcript" {
                    thead { tr { th { "Time" } th { "From" } th { "Message" } } }
                    tbody {
                        @for e in &s.history {
                            @let ai = e.role == Role::Ai;
                            tr class=(if ai { "ai" } else { "customer" }) {
                                td { (time(e.at)) }
                                td { (if ai { "AI" } else { "Customer" })
                                    @if ai && drafts { " " span.draft { "draft: not sent (" (c.mode.as_str()) ")" } } }
                                td { p.msg { (e.text) } }
                            }
                        }
                    }
                } }
                h2 { "Decisions" }
                div.wrap { table {
                    thead { tr { th { "Time" } th { "Outcome" } th { "Reason" } th { "Detail (topic, score, order)" } th { "Messages" } } }
                    tbody {
                        @for d in &s.decisions {
                            tr {
                                td { (time(d.at)) }
                                td { (d.outcome.code()) }
                                td { (d.reason) }
                                td { p.msg { (d.detail.as_deref().unwrap_or("")) } }
                                td { (d.message_ids.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")) }
                            }
                        }
                    }
                } }
                h2 { "Outbox" }
                @if s.outbox.is_empty() { p.muted { "Nothing owed to Gorgias." } } @else {
                    div.wrap { table {
                        thead { tr { th { "#" } th { "Action" } th { "Attempts" } th { "Last error" } th { "Text" } } }
                        tbody {
                            @for a in &s.outbox {
                                tr {
                                    td { (a.seq) }
                                    td { (action_label(&a.kind)) @if is_draft(&a.kind, c.mode) { " " span.draft { "draft" } } }
                                    td { (a.attempts) }
                                    td.err { (a.last_error.as_deref().unwrap_or("")) }
                                    td { p.msg { (action_text(&a.kind)) } }
                                }
                            }
                        }
                    } }
                }
                h2 { "Failed actions" }
                @if s.failed.is_empty() { p.muted { "None." } } @else {
                    div.wrap { table {
                        thead { tr { th { "Time" } th { "Action" } th { "Attempts" } th { "Error" } } }
                        tbody {
                            @for f in &s.failed {
                                tr { td { (time(f.at)) } td { (action_label(&f.action.kind)) } td { (f.action.attempts) } td.err { (f.error) } }
                            }
                        }
                    } }
                }
            } @else {
                p.muted { "No session: the agent never took a message of this ticket in." }
            }
            h2 { "Intake decisions (recent, in memory)" }
            @if intake.is_empty() { p.muted { "None since the agent started." } } @else {
                div.wrap { table {
                    thead { tr { th { "Time" } th { "Outcome" } th { "Reason" } th { "Message" } } }
                    tbody {
                        @for d in intake {
                            tr { td { (time(d.at)) } td { (d.outcome.code()) } td { (d.reason) } td { (d.message_id.map(|m| m.to_string()).unwrap_or_default()) } }
                        }
                    }
                } }
            }
        },
    )
}
