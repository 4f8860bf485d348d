//! Retention with injected time: a pass deletes sessions idle longer than the retention with
//! everything stored for them, and keeps recent ones and ones with work owed.

use gorgias_agent::domain::session::{ActionKind, Session};
use gorgias_agent::tickets::supervisor::RetentionPass;
use gorgias_agent::time::now_secs;
use gorgias_agent_testkit::builders::{answered_session as answered, put_sessions};

use crate::helpers::*;

const DAY: u64 = 86_400;

async fn put(app: &TestApp, session: &Session) {
    put_sessions(app.store(), std::slice::from_ref(session))
        .await
        .unwrap();
}

#[actix_web::test]
async fn a_retention_pass_deletes_old_idle_sessions_and_keeps_recent_and_owed_ones() {
    let app = TestApp::spawn().await;
    let now = now_secs();
    // 600 old idle sessions: more than one batch.
    for t in 1..=600u64 {
        put(&app, &answered(t, now - 40 * DAY)).await;
    }
    put(&app, &answered(1001, now - DAY)).await;
    let mut owed = answered(1002, now - 40 * DAY);
    owed.enqueue(vec![ActionKind::Note {
        text: "still owed".into(),
    }]);
    put(&app, &owed).await;
    // A live ticket, answered through the agent just now.
    app.webhook(&customer_event(1003, 10031, "Hi, where is my order?"))
        .await;
    eventually("the reply", WAIT, || !app.gorgias.replies(1003).is_empty()).await;
    let before = app.store().session_count();

    let supervisor = app.running.as_ref().unwrap().supervisor.clone();
    let deleted = supervisor
        .send(RetentionPass {
            now,
            retention_secs: 30 * DAY,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted, 600);
    assert_eq!(app.store().session_count(), before - 600);
    for t in [1, 300, 600] {
        assert!(app.store().load_session(t).unwrap().is_none(), "ticket {t}");
    }
    assert!(app.store().load_session(1001).unwrap().is_some());
    assert!(app.store().load_session(1002).unwrap().is_some());
    assert!(app.store().tickets_with_work().contains(&1002));
    assert!(app.store().load_session(1003).unwrap().is_some());

    // Two months later the recent one goes too; the one that owes an action never does.
    let deleted = supervisor
        .send(RetentionPass {
            now: now + 60 * DAY,
            retention_secs: 30 * DAY,
        })
        .await
        .unwrap()
        .unwrap();
    assert!(deleted >= 1, "{deleted}");
    assert!(app.store().load_session(1001).unwrap().is_none());
    assert!(app.store().load_session(1002).unwrap().is_some());
}
