//! The console in a real browser: headless Chromium driven over WebDriver (`chromedriver`, plain
//! HTTP and JSON, so no client crate): sign in through the form, read the overview's figures
//! for a seeded set of tickets, and open a ticket whose customer message is a script injection
//! (it must show as text, and the script must not run). Where Chromium or chromedriver is not
//! installed the test says SKIPPED, loudly.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::console::sign_in;
use crate::helpers::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const EVIL: &str = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>";

fn find_binary(names: &[&str]) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}

/// The chromedriver child; killed (by its own pid) when the test ends.
struct Driver {
    child: Child,
    base: String,
    client: awc::Client,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    /// Ends the browser session (so Chromium exits even when an assertion failed), then the
    /// driver.
    fn drop(&mut self) {
        if !self.session.is_empty() {
            use std::io::{Read, Write};
            let addr = self.base.trim_start_matches("http://").to_string();
            if let Ok(mut s) = std::net::TcpStream::connect(&addr) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = write!(
                    s,
                    "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
                    self.session
                );
                let _ = s.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(chromium: &str, chromedriver: &str) -> Driver {
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let profile = tempfile::tempdir().unwrap();
        let mut driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client,
            session: String::new(),
            _profile: profile,
        };
        let status_url = format!("{}/status", driver.base);
        let c = driver.client.clone();
        eventually_async("chromedriver to listen", Duration::from_secs(20), || {
            let c = c.clone();
            let url = status_url.clone();
            async move {
                c.get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", format!("--user-data-dir={}", driver._profile.path().display())]
            }
        }}});
        let created = driver.call("POST", "/session", Some(caps)).await;
        driver.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a WebDriver session: {created}"))
            .to_string();
        driver
    }

    /// One WebDriver command; returns the whole JSON answer.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url),
        };
        let mut resp = match body {
            Some(b) => req.send_json(&b).await,
            None if method == "POST" => req.send_json(&json!({})).await,
            None => req.send().await,
        }
        .expect("a WebDriver answer");
        let bytes = resp.body().limit(16 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body).await["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("element {css}: {v}"))
            .to_string()
    }

    async fn count(&self, css: &str) -> usize {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array().map_or(0, |a| a.len())
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.cmd("GET", &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

#[actix_web::test]
async fn in_a_real_browser_the_overview_shows_the_figures_and_injected_script_stays_text() {
    let (Some(chromium), Some(chromedriver)) = (
        find_binary(&["chromium", "chromium-browser"]),
        find_binary(&["chromedriver"]),
    ) else {
        eprintln!(
            "SKIPPED: in_a_real_browser_...: chromium and chromedriver are not installed \
             (Debian: apt-get install chromium chromium-driver)"
        );
        println!("SKIPPED: the console's real-browser test (no chromium / chromedriver)");
        return;
    };
    let app = TestApp::spawn().await;
    for t in 0..2u64 {
        app.webhook(&customer_event(500 + t, 5000 + t, "Hi, where is my order?"))
            .await;
    }
    app.webhook(&customer_event(502, 5020, "Can I talk to a human please"))
        .await;
    app.webhook(&customer_event(
        503,
        5030,
        &format!("{EVIL} where is my order?"),
    ))
    .await;
    eventually_async("four decisions delivered", WAIT, || async {
        let (_, s, _) = app.get("/admin/stats?window=24h", Some(ADMIN)).await;
        s["conversations"] == 4 && s["first_reply_ms_p50"].is_u64() && {
            let (_, t, _) = app.get("/admin/tickets/502", Some(ADMIN)).await;
            t["outbox"].as_array().is_some_and(|o| o.is_empty())
        }
    })
    .await;
    // Sanity of the HTTP path before the browser: a cookie works.
    let _ = sign_in(&app).await;

    let driver = Driver::start(&chromium, &chromedriver).await;
    driver
        .goto(&format!("{}/console/tickets", app.address))
        .await;
    let url = driver.cmd("GET", "/url", None).await;
    assert!(
        url.as_str().unwrap_or_default().ends_with("/console/login"),
        "signed out, the browser lands on the form: {url}"
    );
    let token = driver.find("input[name=token]").await;
    driver
        .cmd(
            "POST",
            &format!("/element/{token}/value"),
            Some(json!({ "text": ADMIN })),
        )
        .await;
    let submit = driver.find("button[type=submit]").await;
    driver
        .cmd("POST", &format!("/element/{submit}/click"), None)
        .await;
    eventually_async("the overview after signing in", WAIT, || async {
        driver
            .cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .ends_with("/console")
    })
    .await;
    assert_eq!(driver.text("#conversations-24h").await, "4");
    assert_eq!(driver.text("#ai-replies-24h").await, "4");
    assert_eq!(driver.text("#handoffs-24h").await, "1");
    assert_eq!(driver.text("#automation-24h").await, "75%");
    assert_eq!(driver.text("#conversations-7d").await, "4");
    assert!(driver.count("svg rect").await > 0, "the charts are drawn");

    driver
        .goto(&format!("{}/console/tickets/503", app.address))
        .await;
    let title = driver.cmd("GET", "/title", None).await;
    assert_eq!(
        title, "Ticket 503 · gorgias-agent console",
        "the script did not run"
    );
    let transcript = driver.text("#transcript").await;
    assert!(transcript.contains(EVIL), "shown literally: {transcript}");
    assert_eq!(
        driver.count("#transcript img").await,
        0,
        "no element was injected"
    );
    assert_eq!(driver.count("#transcript script").await, 0);
    let alert = driver
        .call(
            "GET",
            &format!("/session/{}/alert/text", driver.session),
            None,
        )
        .await;
    assert_eq!(
        alert["value"]["error"], "no such alert",
        "no alert fired: {alert}"
    );
}
