//! `gorgias-agent check`: validates a configuration against Gorgias before going live, printing
//! a checklist with a fix for each failure. Never prints secrets.

use std::io::Write;
use std::sync::Arc;

use crate::config::{Mode, Settings};
use crate::gorgias::api::{GorgiasApi, GorgiasError};
use crate::gorgias::ratelimit::RateLimiter;

struct Checklist<'a, W: Write> {
    out: &'a mut W,
    failures: usize,
}

impl<W: Write> Checklist<'_, W> {
    fn pass(&mut self, what: &str) {
        let _ = writeln!(self.out, "[ok]   {what}");
    }
    fn fail(&mut self, what: &str, fix: &str) {
        self.failures += 1;
        let _ = writeln!(self.out, "[FAIL] {what}\n       fix: {fix}");
    }
    fn skip(&mut self, what: &str) {
        let _ = writeln!(self.out, "[skip] {what}");
    }
    /// Allowed, but not for going live; does not fail the check.
    fn warn(&mut self, what: &str) {
        let _ = writeln!(self.out, "[warn] {what}");
    }
}

/// Runs the checks; `true` when all pass.
pub async fn run<W: Write>(settings: &Settings, out: &mut W) -> bool {
    let mut list = Checklist { out, failures: 0 };
    list.pass(&format!(
        "config is valid (mode {}, brain {}, {} Autopilot topics)",
        settings.gorgias.mode.as_str(),
        settings.brain.backend.as_str(),
        settings.autopilot.topics.len()
    ));
    for warning in settings.warnings() {
        list.warn(&warning);
    }
    lifecycle(&mut list, settings);
    if settings.gorgias.mode == Mode::DryRun {
        list.skip("Gorgias credentials, AI user, handoff user and team: dry-run mode makes no Gorgias calls (set gorgias.mode to \"shadow\" or \"live\" to check them)");
        return list.failures == 0;
    }
    let limiter = Arc::new(RateLimiter::new(
        settings.gorgias.requests_per_window,
        settings.gorgias.window(),
    ));
    let api = GorgiasApi::new(&settings.gorgias, limiter);
    let base = settings.gorgias.base_url.trim_end_matches('/');

    match api.get_account().await {
        Ok(account) if account.is_object() => {
            let domain = account["domain"].as_str().unwrap_or("?");
            list.pass(&format!(
                "credentials accepted by {base} (account {domain})"
            ));
        }
        Ok(_) => {
            list.fail(
                &format!("{base} answered, but not like a Gorgias API"),
                "set gorgias.base_url to https://<your-store>.gorgias.com (the API lives under /api/)",
            );
            return false;
        }
        Err(GorgiasError::Status { status: 401, .. }) => {
            list.fail(
                "Gorgias rejected the email or API key (401)",
                "check gorgias.api_email and gorgias.api_key (Settings → REST API in Gorgias)",
            );
            return false;
        }
        Err(GorgiasError::Status { status: 403, .. }) => {
            list.fail(
                "the API key's user may not read the account (403)",
                "use the API key of a Gorgias admin, or give its user more permissions",
            );
            return false;
        }
        Err(GorgiasError::Status { status: 404, .. }) | Err(GorgiasError::Decode(_)) => {
            list.fail(
                &format!("{base} is not a Gorgias API (no /api/account)"),
                "set gorgias.base_url to https://<your-store>.gorgias.com",
            );
            return false;
        }
        Err(e) => {
            list.fail(
                &format!("cannot reach Gorgias at {base}: {e}"),
                "check gorgias.base_url and the network path to Gorgias",
            );
            return false;
        }
    }

    let ai = settings.gorgias.ai_user_id;
    check_entity(
        &mut list,
        api.get_user(ai).await,
        "gorgias.ai_user_id",
        "user",
        ai,
    );
    if let Some(id) = settings.handoff.user_id {
        check_entity(
            &mut list,
            api.get_user(id).await,
            "handoff.user_id",
            "user",
            id,
        );
    } else {
        list.skip("handoff.user_id is 0: handoffs do not set an assignee user");
    }
    if let Some(id) = settings.handoff.team_id {
        check_entity(
            &mut list,
            api.get_team(id).await,
            "handoff.team_id",
            "team",
            id,
        );
    } else {
        list.skip("handoff.team_id is 0: handoffs do not set an assignee team");
    }
    list.failures == 0
}

/// The ticket lifecycle settings, one line each; the business hours' zone is looked up in the
/// bundled time zone database (a bad one fails here as it fails startup).
fn lifecycle<W: Write>(list: &mut Checklist<'_, W>, settings: &Settings) {
    match settings.planner() {
        Ok(planner) => {
            list.pass(&planner.handoff.tags.describe());
            match &planner.handoff.final_reply_offline {
                Some(_) => {
                    list.pass("handoff.final_reply_offline is set: used outside business hours")
                }
                None => list
                    .pass("handoff.final_reply_offline is empty: handoff.final_reply at any hour"),
            }
            list.pass(&planner.reply.tags.describe());
            list.pass(&format!(
                "autopilot.close_after_reply = {}",
                planner.reply.close
            ));
            match &planner.hours {
                Some(hours) => {
                    let now = if hours.is_open(jiff::Timestamp::now()) {
                        "open now"
                    } else {
                        "closed now"
                    };
                    list.pass(&format!("business hours: {} ({now})", hours.describe()));
                }
                None => list.pass("business hours: none configured (always open)"),
            }
        }
        Err(e) => list.fail(
            &e.to_string(),
            "fix the key named; see the README's config reference",
        ),
    }
}

fn check_entity<W: Write>(
    list: &mut Checklist<'_, W>,
    result: Result<serde_json::Value, GorgiasError>,
    key: &str,
    kind: &str,
    id: u64,
) {
    match result {
        Ok(v) => {
            let name = v["name"].as_str().or(v["email"].as_str()).unwrap_or("");
            list.pass(&format!("{key} = {id}: {kind} {name:?} exists"));
        }
        Err(GorgiasError::Status { status: 404, .. }) => list.fail(
            &format!("{key} = {id}: no such {kind} in Gorgias"),
            &format!(
                "set {key} to the id of an existing Gorgias {kind} (Settings → {}s)",
                if kind == "user" { "User" } else { "Team" }
            ),
        ),
        Err(e) => list.fail(
            &format!("{key} = {id}: cannot read the {kind}: {e}"),
            "retry, or check the API key's permissions",
        ),
    }
}
