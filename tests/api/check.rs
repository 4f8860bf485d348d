//! `gorgias-agent check`, the real binary against the fake Gorgias: exit 0 when the credentials
//! and every configured id are good, exit 1 naming the key to fix otherwise, never the API key.

use crate::fake_gorgias::{FakeGorgias, API_KEY};
use crate::helpers::*;

/// Runs `gorgias-agent check` with the test config and `GORGIAS_AGENT__*` overrides; returns
/// the exit code and everything it printed.
async fn check(gorgias: &FakeGorgias, env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_test_config(dir.path(), &gorgias.base_url);
    let mut cmd = agent_command(&config);
    cmd.arg("check").envs(env.iter().copied());
    let output = output_of(cmd).await;
    let text = printed(&output);
    assert!(!text.contains(API_KEY), "the API key was printed:\n{text}");
    drop(dir);
    (output.status.code().unwrap_or(-1), text)
}

#[actix_web::test]
async fn check_passes_when_credentials_and_ids_are_good() {
    let gorgias = FakeGorgias::start();
    let (code, out) = check(&gorgias, &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("[FAIL]"), "{out}");
    for line in [
        "credentials accepted",
        "gorgias.ai_user_id = 900001",
        "handoff.user_id = 42",
        "handoff.team_id = 77",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    let paths: Vec<String> = gorgias.calls().into_iter().map(|c| c.path).collect();
    assert_eq!(
        paths,
        [
            "/api/account",
            "/api/users/900001",
            "/api/users/42",
            "/api/teams/77"
        ]
    );
    assert!(gorgias.writes().is_empty(), "check never changes Gorgias");
}

#[actix_web::test]
async fn check_fails_on_a_wrong_api_key_and_names_the_credentials() {
    let gorgias = FakeGorgias::start();
    let wrong = "wrong-secret-key-123";
    let (code, out) = check(&gorgias, &[("GORGIAS_AGENT__GORGIAS__API_KEY", wrong)]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[FAIL]"), "{out}");
    assert!(out.contains("401"), "{out}");
    assert!(out.contains("gorgias.api_email"), "{out}");
    assert!(out.contains("gorgias.api_key"), "{out}");
    assert!(!out.contains(wrong), "the key was printed:\n{out}");
    // Nothing else is tried with credentials Gorgias refused.
    assert_eq!(gorgias.calls().len(), 1);
}

#[actix_web::test]
async fn check_fails_on_an_unknown_user_or_team_and_names_the_key_to_fix() {
    let gorgias = FakeGorgias::start();
    // (users Gorgias has, teams Gorgias has, the key to fix)
    let cases: [(&[u64], &[u64], &str); 3] = [
        (&[42], &[77], "gorgias.ai_user_id"),
        (&[900001], &[77], "handoff.user_id"),
        (&[900001, 42], &[55], "handoff.team_id"),
    ];
    for (users, teams, key) in cases {
        gorgias.set_users(users);
        gorgias.set_teams(teams);
        let (code, out) = check(&gorgias, &[]).await;
        assert_eq!(code, 1, "{key}: {out}");
        let failures: Vec<&str> = out.lines().filter(|l| l.starts_with("[FAIL]")).collect();
        assert_eq!(failures.len(), 1, "{key}: {out}");
        assert!(failures[0].contains(key), "{key}: {out}");
        assert!(out.contains(&format!("fix: set {key}")), "{key}: {out}");
    }
}

#[actix_web::test]
async fn check_in_dry_run_mode_calls_nothing_and_passes() {
    let gorgias = FakeGorgias::start();
    let (code, out) = check(&gorgias, &[("GORGIAS_AGENT__GORGIAS__MODE", "dry-run")]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[skip]"), "{out}");
    assert!(gorgias.calls().is_empty());
}

#[actix_web::test]
async fn check_shows_the_lifecycle_settings_and_validates_the_timezone() {
    let gorgias = FakeGorgias::start();
    let (code, out) = check(
        &gorgias,
        &[
            (
                "GORGIAS_AGENT__HANDOFF__TAGS",
                "ai-handoff,ai-handoff-{reason}",
            ),
            ("GORGIAS_AGENT__AUTOPILOT__REPLY_TAGS", "ai-replied"),
            ("GORGIAS_AGENT__AUTOPILOT__CLOSE_AFTER_REPLY", "true"),
            (
                "GORGIAS_AGENT__BUSINESS_HOURS__TIMEZONE",
                "America/New_York",
            ),
            ("GORGIAS_AGENT__BUSINESS_HOURS__MON", "09:00-17:00"),
            ("GORGIAS_AGENT__BUSINESS_HOURS__TUE", "09:00-17:00"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    for line in [
        "[ok]   handoff.tags: \"ai-handoff\", \"ai-handoff-{reason}\"",
        "[ok]   autopilot.reply_tags: \"ai-replied\"",
        "[ok]   autopilot.close_after_reply = true",
        "[ok]   business hours: America/New_York: mon-tue 09:00-17:00, wed-sun closed",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }

    let (code, out) = check(
        &gorgias,
        &[
            (
                "GORGIAS_AGENT__BUSINESS_HOURS__TIMEZONE",
                "America/Springfield",
            ),
            ("GORGIAS_AGENT__BUSINESS_HOURS__MON", "09:00-17:00"),
        ],
    )
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("`business_hours.timezone`"), "{out}");
    assert!(out.contains("America/Springfield"), "{out}");
}
