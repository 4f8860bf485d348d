//! The operator console over HTTP: sign-in and its cookie, wrong tokens (401, then limited),
//! cookie expiry, CSRF refusal, resume through the console, the list's filters and pages, and
//! `/admin/stats` against a known sequence of tickets.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// A client that shows redirects instead of following them.
fn client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(30))
        .finish()
}

pub struct Answer {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: String,
}

impl Answer {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

async fn send(req: awc::ClientRequest, form: Option<&[(&str, &str)]>) -> Answer {
    let mut resp = match form {
        Some(f) => req.send_form(&f.to_vec()).await,
        None => req.send().await,
    }
    .expect("request");
    let body = resp.body().limit(8 << 20).await.unwrap();
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

/// GET with an optional session cookie.
async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Answer {
    let mut req = client().get(format!("{}{path}", app.address));
    if let Some(c) = cookie {
        req = req.insert_header(("Cookie", c.to_string()));
    }
    send(req, None).await
}

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> Answer {
    let mut req = client().post(format!("{}{path}", app.address));
    if let Some(c) = cookie {
        req = req.insert_header(("Cookie", c.to_string()));
    }
    send(req, Some(form)).await
}

/// Signs in through the form; returns the `Cookie` header value and the `Set-Cookie` line.
pub async fn sign_in(app: &TestApp) -> (String, String) {
    let a = post_form(app, "/console/login", None, &[("token", ADMIN)]).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.header("location"), "/console");
    let set = a.header("set-cookie");
    let pair = set.split(';').next().unwrap().to_string();
    (pair, set)
}

/// The hidden CSRF field of a page.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

async fn state_of(app: &TestApp, ticket: u64) -> Value {
    app.get(&format!("/admin/tickets/{ticket}"), Some(ADMIN))
        .await
        .1["state"]
        .clone()
}

/// Sends one customer message and waits until its decision is committed.
async fn decided(app: &TestApp, event: Value) {
    let ticket = event["ticket"]["id"].as_u64().unwrap();
    let message = event["message"]["id"].clone();
    let (status, body) = app.webhook(&event).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "accepted", "{body}");
    // This message's own decision, delivered (an earlier one on the ticket does not count).
    eventually_async("the decision", WAIT, || async {
        let (_, s, _) = app
            .get(&format!("/admin/tickets/{ticket}"), Some(ADMIN))
            .await;
        s["outbox"].as_array().is_some_and(|o| o.is_empty())
            && s["decisions"].as_array().is_some_and(|d| {
                d.iter().any(|d| {
                    d["message_ids"]
                        .as_array()
                        .is_some_and(|ids| ids.contains(&message))
                })
            })
    })
    .await;
}

#[actix_web::test]
async fn signing_in_sets_a_strict_http_only_cookie_that_opens_the_pages() {
    let app = TestApp::spawn().await;
    let a = get(&app, "/console", None).await;
    assert_eq!(a.status, 303, "a page without credentials goes to the form");
    assert_eq!(a.header("location"), "/console/login");
    let form = get(&app, "/console/login", None).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"token\""));
    assert!(form
        .header("content-security-policy")
        .contains("default-src 'none'"));
    assert!(!form
        .header("content-security-policy")
        .contains("script-src"));

    let (cookie, set) = sign_in(&app).await;
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(set.contains("Max-Age=43200"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP: not Secure");
    assert!(!set.contains(ADMIN), "the cookie is not the token");
    let page = get(&app, "/console", Some(&cookie)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Overview"));
    assert!(!page.body.contains(ADMIN), "no secret in a page");
    assert!(!page.body.to_lowercase().contains("<script"));
    assert!(page
        .header("content-security-policy")
        .contains("frame-ancestors 'none'"));

    // Behind a TLS proxy the cookie is Secure.
    let req = client()
        .post(format!("{}/console/login", app.address))
        .insert_header(("X-Forwarded-Proto", "https"));
    let a = send(req, Some(&[("token", ADMIN)])).await;
    assert!(a.header("set-cookie").contains("; Secure"));

    // The bearer header works too; a made-up cookie does not.
    let req = client()
        .get(format!("{}/console/tickets", app.address))
        .insert_header(("Authorization", format!("Bearer {ADMIN}")));
    assert_eq!(send(req, None).await.status, 200);
    let forged = get(&app, "/console", Some("console_session=0123abcd")).await;
    assert_eq!(forged.status, 303);
    let (status, _, _) = app.get("/admin/stats", None).await;
    assert_eq!(
        status, 401,
        "the JSON figures answer 401 without credentials"
    );
}

#[actix_web::test]
async fn a_wrong_token_is_401_then_the_address_is_rate_limited() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let a = post_form(&app, "/console/login", None, &[("token", "guess")]).await;
        assert_eq!(a.status, 401, "attempt {i}");
        assert!(a.header("set-cookie").is_empty());
    }
    let a = post_form(&app, "/console/login", None, &[("token", "guess")]).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.header("retry-after"), "60");
    // Even the right token waits now, and a wrong bearer counts the same way.
    let a = post_form(&app, "/console/login", None, &[("token", ADMIN)]).await;
    assert_eq!(a.status, 429);
    let req = client()
        .get(format!("{}/console", app.address))
        .insert_header(("Authorization", "Bearer guess"));
    assert_eq!(send(req, None).await.status, 429);
}

#[actix_web::test]
async fn an_expired_session_cookie_goes_back_to_the_form() {
    // Long enough that the first request lands inside it on a loaded machine.
    let app = TestApp::spawn_with(&[("server.console_session_secs", "3")]).await;
    let (cookie, set) = sign_in(&app).await;
    assert!(set.contains("Max-Age=3"), "{set}");
    assert_eq!(get(&app, "/console", Some(&cookie)).await.status, 200);
    // The browser would drop it after Max-Age; the server refuses it too.
    eventually_async("the session to expire", Duration::from_secs(15), || async {
        get(&app, "/console", Some(&cookie)).await.status == 303
    })
    .await;
}

#[actix_web::test]
async fn resume_needs_the_pages_csrf_token_and_then_gives_the_ticket_back() {
    let app = TestApp::spawn().await;
    decided(
        &app,
        customer_event(61, 611, "Can I talk to a human please"),
    )
    .await;
    assert_eq!(state_of(&app, 61).await, "handed_off");
    let (cookie, _) = sign_in(&app).await;
    let page = get(&app, "/console/tickets/61", Some(&cookie)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/console/tickets/61/resume"));
    let csrf = csrf_of(&page.body);

    for forged in ["", "0000", &csrf[..csrf.len() - 1]] {
        let a = post_form(
            &app,
            "/console/tickets/61/resume",
            Some(&cookie),
            &[("csrf", forged)],
        )
        .await;
        assert_eq!(a.status, 403, "csrf {forged:?}");
    }
    let a = post_form(&app, "/console/tickets/61/resume", None, &[("csrf", &csrf)]).await;
    assert_eq!(a.status, 401, "no session, no resume");
    assert_eq!(state_of(&app, 61).await, "handed_off");

    let a = post_form(
        &app,
        "/console/tickets/61/resume",
        Some(&cookie),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.header("location"), "/console/tickets/61");
    assert_eq!(state_of(&app, 61).await, "active");
    let page = get(&app, "/console/tickets/61", Some(&cookie)).await;
    assert!(
        !page.body.contains("/console/tickets/61/resume"),
        "no button once active"
    );
    assert!(page.body.contains("via the console"));
    // Resuming an active ticket is a conflict, not a silent success.
    let a = post_form(
        &app,
        "/console/tickets/61/resume",
        Some(&cookie),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(a.status, 409);
}

#[actix_web::test]
async fn the_list_filters_by_state_reason_and_channel_and_pages_newest_first() {
    let app = TestApp::spawn().await;
    for t in 1..=27u64 {
        let channel = if t % 3 == 0 { "chat" } else { "email" };
        decided(
            &app,
            on_channel(
                customer_event(100 + t, 1000 + t, "Hi, where is my order?"),
                channel,
            ),
        )
        .await;
    }
    decided(
        &app,
        customer_event(200, 2000, "Can I talk to a human please"),
    )
    .await;
    decided(&app, customer_event(201, 2010, "I want a refund")).await;
    let (cookie, _) = sign_in(&app).await;

    let ids = |page: &str| -> Vec<u64> {
        page.split("class=\"ticket\" href=\"/console/tickets/")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().parse().unwrap())
            .collect()
    };
    let p1 = get(&app, "/console/tickets", Some(&cookie)).await;
    assert_eq!(p1.status, 200);
    let first = ids(&p1.body);
    assert_eq!(first.len(), 25);
    assert_eq!(&first[..3], &[201, 200, 127], "newest ticket first");
    assert!(p1
        .body
        .contains("rel=\"next\" href=\"/console/tickets?page=2\""));
    assert!(p1
        .body
        .contains(&format!("{}/app/ticket/201", app.gorgias.base_url)));
    let p2 = get(&app, "/console/tickets?page=2", Some(&cookie)).await;
    let second = ids(&p2.body);
    assert_eq!(second, vec![104, 103, 102, 101]);
    assert!(!p2.body.contains("rel=\"next\""));
    assert!(p2.body.contains("rel=\"prev\""));

    let handed = ids(
        &get(&app, "/console/tickets?state=handed_off", Some(&cookie))
            .await
            .body,
    );
    assert_eq!(handed, vec![201, 200]);
    let asked = ids(&get(
        &app,
        "/console/tickets?reason=customer_asked_for_human",
        Some(&cookie),
    )
    .await
    .body);
    assert_eq!(asked, vec![200]);
    let chat = ids(&get(
        &app,
        "/console/tickets?channel=chat&state=active",
        Some(&cookie),
    )
    .await
    .body);
    assert_eq!(
        chat,
        (1..=27u64)
            .rev()
            .filter(|t| t % 3 == 0)
            .map(|t| 100 + t)
            .collect::<Vec<_>>()
    );
    let none = ids(&get(
        &app,
        "/console/tickets?reason=no_answer&channel=chat",
        Some(&cookie),
    )
    .await
    .body);
    assert!(none.is_empty());
    assert_eq!(
        get(&app, "/console/tickets?state=bogus", Some(&cookie))
            .await
            .status,
        400
    );
    assert_eq!(
        get(&app, "/console/tickets?page=0", Some(&cookie))
            .await
            .status,
        400
    );
}

#[actix_web::test]
async fn the_stats_json_adds_up_a_known_sequence_of_tickets() {
    let app = TestApp::spawn().await;
    for t in 0..3u64 {
        decided(
            &app,
            customer_event(300 + t, 3000 + t, "Hi, where is my order?"),
        )
        .await;
    }
    decided(
        &app,
        customer_event(303, 3030, "Can I talk to a human please"),
    )
    .await;
    // A second message on an answered ticket is not a new conversation.
    decided(
        &app,
        customer_event(300, 3001, "Also, how do I return an item?"),
    )
    .await;

    for window in ["24h", "7d"] {
        let (status, s, _) = app
            .get(&format!("/admin/stats?window={window}"), Some(ADMIN))
            .await;
        assert_eq!(status, 200, "{s}");
        assert_eq!(s["window"], window);
        assert_eq!(s["conversations"], 4, "{s}");
        assert_eq!(
            s["ai_replies"], 5,
            "four answers and the handoff's final reply: {s}"
        );
        assert_eq!(s["handoffs"], json!({"customer_asked_for_human": 1}), "{s}");
        assert_eq!(s["automation_rate"], 0.75, "{s}");
        let p50 = s["first_reply_ms_p50"].as_u64().expect("a p50");
        let p90 = s["first_reply_ms_p90"].as_u64().expect("a p90");
        assert!(p50 <= p90 && p90 < 20_000, "{s}");
        assert_eq!(s["drafts"], 0, "live mode: {s}");
    }
    let (status, _, _) = app.get("/admin/stats?window=1y", Some(ADMIN)).await;
    assert_eq!(status, 400);
    let (cookie, _) = sign_in(&app).await;
    let page = get(&app, "/console", Some(&cookie)).await;
    assert!(
        page.body.contains("id=\"conversations-24h\">4<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"automation-7d\">75%<"));
    assert!(page.body.contains("customer_asked_for_human"));
}

#[actix_web::test]
async fn dry_run_drafts_are_counted_and_marked_and_customer_text_is_escaped() {
    let app = TestApp::spawn_with(&[("gorgias.mode", "dry-run")]).await;
    let evil =
        "<script>document.title='pwned'</script><img src=x onerror=alert(1)> where is my order?";
    decided(&app, customer_event(400, 4000, evil)).await;
    let (_, s, _) = app.get("/admin/stats?window=24h", Some(ADMIN)).await;
    assert_eq!(s["drafts"], 1, "{s}");
    let (cookie, _) = sign_in(&app).await;
    let page = get(&app, "/console/tickets/400", Some(&cookie)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(
        "&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    ));
    assert!(!page.body.contains("<img src=x"));
    assert!(page.body.contains("draft: not sent (dry-run)"));
    assert!(page.body.contains("Dry-run mode"));
}

#[actix_web::test]
async fn an_empty_admin_token_disables_the_console() {
    let app = TestApp::spawn_with(&[("server.admin_token", "")]).await;
    for path in [
        "/console",
        "/console/login",
        "/console/tickets",
        "/console/tickets/1",
    ] {
        assert_eq!(get(&app, path, None).await.status, 404, "{path}");
    }
    let a = post_form(&app, "/console/login", None, &[("token", "")]).await;
    assert_eq!(a.status, 404);
    assert_eq!(app.get("/admin/stats", Some("")).await.0, 404);
}

#[actix_web::test]
async fn an_erased_customer_leaves_the_console_list_and_its_filters() {
    let app = TestApp::spawn().await;
    decided(
        &app,
        customer_event(71, 711, "Can I talk to a human please"),
    )
    .await;
    let (cookie, _) = sign_in(&app).await;
    for path in [
        "/console/tickets",
        "/console/tickets?reason=customer_asked_for_human",
        "/console/tickets?channel=email",
    ] {
        let page = get(&app, path, Some(&cookie)).await;
        assert!(page.body.contains("href=\"/console/tickets/71\""), "{path}");
    }
    let req = client()
        .delete(format!(
            "{}/admin/customers?email=jane@customer.example",
            app.address
        ))
        .insert_header(("Authorization", format!("Bearer {ADMIN}")));
    let a = send(req, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("\"erased\":1"), "{}", a.body);
    for path in [
        "/console/tickets",
        "/console/tickets?reason=customer_asked_for_human",
        "/console/tickets?channel=email",
        "/console/tickets?state=handed_off",
    ] {
        let page = get(&app, path, Some(&cookie)).await;
        assert!(!page.body.contains("/console/tickets/71\""), "{path}");
    }
    assert_eq!(app.store().ticket_summary(71).unwrap(), None);
}
