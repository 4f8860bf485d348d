//! Storage that fails: writes or flushes failing, a committer stuck on its disk, a full commit
//! queue, session reads that panic, and a damaged store at startup. Webhooks answer 503 within
//! the request and `/readyz` says why; once storage recovers by itself, every message that was
//! answered 200 `accepted`, and every one Gorgias retried after a 503, is answered exactly once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gorgias_agent::store::{Store, TreeName, Write};
use serde_json::Value;

use crate::helpers::*;

const QUESTION: &str = "Hi, where is my order #1234?";

/// Sends a webhook, timing the answer.
async fn timed_webhook(app: &TestApp, ticket_id: u64, message_id: u64) -> (u16, Duration) {
    let started = Instant::now();
    let (status, _) = app
        .webhook(&customer_event(ticket_id, message_id, QUESTION))
        .await;
    (status, started.elapsed())
}

/// Redelivers a webhook until it is no longer refused, as Gorgias retries a 503.
async fn retry_like_gorgias(app: &TestApp, ticket_id: u64, message_id: u64) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = app
            .webhook(&customer_event(ticket_id, message_id, QUESTION))
            .await;
        if status == 200 {
            return body;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "still refused after {WAIT:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn readyz(app: &TestApp) -> (u16, String) {
    let (status, body, _) = app.get("/readyz", None).await;
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

/// Waits until every ticket of `tickets` has its reply and nothing left to do, then checks that
/// each got exactly one.
async fn each_answered_once(app: &TestApp, tickets: &[u64]) {
    let settled = |t: u64| {
        !app.gorgias.replies(t).is_empty()
            && app
                .store()
                .load_session(t)
                .ok()
                .flatten()
                .is_some_and(|s| !s.has_pending_work() && s.unanswered().is_empty())
    };
    let deadline = Instant::now() + WAIT;
    while !tickets.iter().all(|&t| settled(t)) {
        if Instant::now() > deadline {
            let late: Vec<String> = tickets
                .iter()
                .filter(|&&t| !settled(t))
                .map(|&t| {
                    format!(
                        "{t}: {} replies, inbox {}, session {:?}",
                        app.gorgias.replies(t).len(),
                        app.store().inbox_for(t).len(),
                        app.store()
                            .load_session(t)
                            .map(|s| s.map(|s| s.history.len()))
                    )
                })
                .collect();
            panic!("not answered: {late:#?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for &t in tickets {
        assert_eq!(app.gorgias.replies(t).len(), 1, "ticket {t}");
    }
}

#[actix_web::test]
async fn storage_that_fails_then_recovers_answers_each_accepted_and_each_retried_message_once() {
    let app = TestApp::spawn_with(&[("storage.commit_timeout_ms", "1000")]).await;
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for t in 1500..1505 {
        let (status, _) = timed_webhook(&app, t, t * 10).await;
        assert_eq!(status, 200);
        accepted.push(t);
    }

    app.store().faults().fail_writes(true);
    for t in 1505..1515 {
        let (status, took) = timed_webhook(&app, t, t * 10).await;
        assert_eq!(status, 503, "ticket {t}: never 200 for what was not stored");
        assert!(
            took < Duration::from_secs(2),
            "answered within the request: {took:?}"
        );
        refused.push(t);
    }
    let (status, why) = readyz(&app).await;
    assert_eq!(status, 503);
    assert!(why.starts_with("storage: the last write failed"), "{why}");

    // Flush failures too (the writes reach sled's memory, never the disk).
    app.store().faults().fail_writes(false);
    app.store().faults().fail_flush(true);
    for t in 1515..1520 {
        let (status, _) = timed_webhook(&app, t, t * 10).await;
        assert_eq!(status, 503);
        refused.push(t);
    }

    app.store().faults().fail_flush(false);
    // Back by itself, without a restart and without traffic.
    eventually_async("readyz 200 again", WAIT, || async {
        readyz(&app).await.0 == 200
    })
    .await;
    for &t in &refused {
        let body = retry_like_gorgias(&app, t, t * 10).await;
        assert!(
            matches!(body["outcome"].as_str(), Some("accepted" | "duplicate")),
            "{body}"
        );
    }
    for t in 1520..1525 {
        assert_eq!(timed_webhook(&app, t, t * 10).await.0, 200);
        accepted.push(t);
    }
    let all: Vec<u64> = accepted.iter().chain(&refused).copied().collect();
    each_answered_once(&app, &all).await;
}

#[actix_web::test]
async fn a_stuck_committer_or_a_full_commit_queue_answers_503_in_time_and_recovers() {
    let app = TestApp::spawn_with(&[
        ("storage.commit_timeout_ms", "500"),
        ("storage.commit_queue", "2"),
    ])
    .await;
    // The disk stops answering: the committer blocks inside its flush.
    app.store().faults().stall(true);
    let tickets: Vec<u64> = (1600..1608).collect();
    let answers =
        futures_util::future::join_all(tickets.iter().map(|&t| timed_webhook(&app, t, t * 10)))
            .await;
    for (t, (status, took)) in tickets.iter().zip(&answers) {
        assert_eq!(*status, 503, "ticket {t}");
        assert!(*took < Duration::from_secs(3), "ticket {t}: {took:?}");
    }
    let overloaded = app
        .get("/metrics", None)
        .await
        .2
        .lines()
        .any(|l| l.contains("overloaded") && !l.starts_with('#'));
    assert!(overloaded, "the full queue refused some at once");
    let (status, why) = readyz(&app).await;
    assert_eq!(status, 503);
    assert!(why.contains("waiting for the disk"), "{why}");

    app.store().faults().stall(false);
    eventually_async("readyz 200 again", WAIT, || async {
        readyz(&app).await.0 == 200
    })
    .await;
    for &t in &tickets {
        retry_like_gorgias(&app, t, t * 10).await;
    }
    each_answered_once(&app, &tickets).await;
}

#[actix_web::test]
async fn a_ticket_whose_session_read_panics_is_skipped_and_the_others_are_served() {
    let app = TestApp::spawn().await;
    app.store().faults().panic_on_session_read(Some(1700));
    assert_eq!(timed_webhook(&app, 1700, 17000).await.0, 200);
    assert_eq!(timed_webhook(&app, 1701, 17010).await.0, 200);
    each_answered_once(&app, &[1701]).await;
    assert!(app.gorgias.replies(1700).is_empty());
    // The message stays stored for when the damage is repaired; the agent stays ready.
    assert_eq!(app.store().inbox_for(1700).len(), 1);
    assert_eq!(readyz(&app).await.0, 200);
    app.store().faults().panic_on_session_read(None);
    assert_eq!(timed_webhook(&app, 1702, 17020).await.0, 200);
    each_answered_once(&app, &[1702]).await;
}

#[actix_web::test]
async fn a_store_that_lost_data_stops_the_start_with_one_line_unless_the_loss_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let gorgias = crate::fake_gorgias::FakeGorgias::start();
    let config = write_test_config(dir.path(), &gorgias.base_url);
    let storage = dir.path().join("store");
    {
        let store = Store::open(&storage).unwrap();
        for i in 0..300u64 {
            let size = if i % 3 == 0 { 200_000 } else { 2_000 };
            let record = Write::Put(TreeName::Dedup, [i as u8; 32].to_vec(), vec![0; size]);
            let key = Write::Put(TreeName::Handoffs, i.to_be_bytes().to_vec(), vec![0; 8]);
            store.commit(vec![record, key]).await.unwrap();
        }
        store.flush().await.unwrap();
    }
    let db = std::fs::OpenOptions::new()
        .write(true)
        .open(storage.join("db"))
        .unwrap();
    db.set_len(db.metadata().unwrap().len() / 2).unwrap();
    drop(db);

    let port = free_port();
    let agent = |extra: &[&str]| {
        let mut cmd = agent_command(&config);
        cmd.args(extra)
            .env("GORGIAS_AGENT__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("GORGIAS_AGENT__LOG__LEVEL", "error");
        cmd
    };
    let out = agent(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("lost committed data"))
        .collect();
    assert_eq!(lines.len(), 1, "one clear line: {stderr}");
    assert!(lines[0].contains("--accept-data-loss"), "{stderr}");

    let mut child = agent(&["serve", "--accept-data-loss"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = awc::Client::default();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    eventually_async("the agent starts on what is left", WAIT, || async {
        client
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A small tmpfs, unmounted (lazily) when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None`, with the reason, where mounting is not allowed (not root, a container without
    /// the capability).
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A real full disk, no fault seam: storage on a 12 MB tmpfs that webhooks of 20 KB fill up;
/// then space is freed. Run by `.ci/run` with `--ignored` (it mounts a filesystem).
#[actix_web::test]
#[ignore = "mounts a tmpfs; run explicitly (as root) with --ignored"]
async fn a_full_disk_answers_503_at_once_and_recovers_when_space_is_freed() {
    let fs = match Tmpfs::mount("12m") {
        Ok(fs) => fs,
        Err(why) => {
            println!("skipped: cannot mount a tmpfs here ({why})");
            return;
        }
    };
    // Room to give back later.
    let ballast = fs.dir.path().join("ballast");
    std::fs::write(&ballast, vec![0u8; 4 << 20]).unwrap();
    let storage = fs.dir.path().join("store");
    let storage = storage.display().to_string();
    let mut app = TestApp::spawn_with(&[
        ("storage.path", storage.as_str()),
        ("storage.commit_timeout_ms", "2000"),
    ])
    .await;
    // The text is carried four times (text, stripped, HTML, stripped HTML): about 20 KB a body.
    let padding = "x".repeat(5_000);
    let mut accepted = Vec::new();
    let mut refused = None;
    for t in 2000..3000u64 {
        let text = format!("{QUESTION} {padding}");
        let started = Instant::now();
        let (status, body) = app.webhook(&customer_event(t, t * 10, &text)).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "answered within the request"
        );
        match status {
            200 => accepted.push(t),
            503 => {
                refused = Some(t);
                break;
            }
            other => panic!("{other}: {body}"),
        }
    }
    let refused = refused.expect("the disk filled up");
    println!(
        "full disk: {} accepted, then 503 (ticket {refused})",
        accepted.len()
    );
    let (status, why) = readyz(&app).await;
    assert_eq!(status, 503, "readiness reports the full disk");
    assert!(why.starts_with("storage:"), "{why}");

    std::fs::remove_file(&ballast).unwrap();
    eventually_async("readyz 200 once space is back", WAIT, || async {
        readyz(&app).await.0 == 200
    })
    .await;
    let text = format!("{QUESTION} {padding}");
    let deadline = Instant::now() + WAIT;
    while app
        .webhook(&customer_event(refused, refused * 10, &text))
        .await
        .0
        != 200
    {
        assert!(
            Instant::now() < deadline,
            "the refused webhook is never taken"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    accepted.push(refused);
    each_answered_once(&app, &accepted).await;
    println!("after freeing space: {} answered once each", accepted.len());
    app.stop().await;
}
