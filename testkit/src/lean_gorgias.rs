//! A lean fake Gorgias for load: answers every call the agent makes at once, counts posted
//! messages, and (when asked) records when each ticket's messages arrived. No state beyond
//! that, so under load it costs little next to the agent it serves.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::json;

#[derive(Default)]
pub struct LeanState {
    posts: AtomicU64,
    record: bool,
    arrivals: Mutex<Vec<(u64, Instant)>>,
}

/// Handle to a running lean fake.
pub struct LeanGorgias {
    pub base_url: String,
    state: Arc<LeanState>,
    server: actix_web::dev::ServerHandle,
}

impl LeanGorgias {
    /// Starts the fake on port 0 on the current arbiter; `record` keeps each post's arrival.
    pub fn start(record: bool) -> LeanGorgias {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(LeanState {
            record,
            ..Default::default()
        });
        let shared = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(shared.clone()))
                .route("/api/tickets/{id}/messages", web::post().to(post_message))
                .route("/api/tickets/{id}/messages", web::get().to(list_messages))
                .default_service(web::to(other))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        LeanGorgias {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            server: handle,
        }
    }

    /// Messages posted so far.
    pub fn posts(&self) -> u64 {
        self.state.posts.load(Ordering::Relaxed)
    }

    /// `(ticket id, arrival)` of each post since the last [`LeanGorgias::take_arrivals`].
    pub fn take_arrivals(&self) -> Vec<(u64, Instant)> {
        std::mem::take(&mut *self.state.arrivals.lock().unwrap())
    }

    pub async fn stop(&self) {
        self.server.stop(true).await;
    }
}

async fn post_message(
    path: web::Path<u64>,
    state: web::Data<LeanState>,
    _body: web::Bytes,
) -> HttpResponse {
    let at = Instant::now();
    let n = state.posts.fetch_add(1, Ordering::Relaxed) + 1;
    if state.record {
        state.arrivals.lock().unwrap().push((path.into_inner(), at));
    }
    HttpResponse::Created().json(json!({ "id": 900_000_000 + n }))
}

async fn list_messages() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": [], "meta": { "next_cursor": null } }))
}

async fn other(_body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok().json(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn counts_posts_and_records_arrivals_by_ticket() {
        let fake = LeanGorgias::start(true);
        let client = awc::Client::new();
        for ticket in [7, 8] {
            let resp = client
                .post(format!("{}/api/tickets/{ticket}/messages", fake.base_url))
                .send_body("{}")
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 201);
        }
        let resp = client
            .get(format!("{}/api/account", fake.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(fake.posts(), 2);
        let tickets: Vec<u64> = fake.take_arrivals().iter().map(|(t, _)| *t).collect();
        assert_eq!(tickets, [7, 8]);
        assert!(fake.take_arrivals().is_empty());
        fake.stop().await;
    }
}
