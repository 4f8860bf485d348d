//! Part `floor`: two minimal actix-web endpoints on the same stack, driven like intake:
//! parse-and-answer, and parse + one sled insert + group-committed flush (`Store::commit`).

use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use gorgias_agent::store::{Store, TreeName, Write};
use serde_json::{json, Value};

use crate::client::{closed_loop, ClosedLoop};
use crate::Args;

pub async fn floor_parse(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<Value>(&body) {
        Ok(v) => HttpResponse::Ok().json(json!({
            "outcome": "accepted",
            "ticket_id": v["ticket"]["id"],
        })),
        Err(e) => HttpResponse::BadRequest().json(json!({ "error": e.to_string() })),
    }
}

pub static FLOOR_SEQ: AtomicU64 = AtomicU64::new(0);

pub async fn floor_commit(body: web::Bytes, store: web::Data<Store>) -> HttpResponse {
    let v = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => v,
        Err(e) => return HttpResponse::BadRequest().json(json!({ "error": e.to_string() })),
    };
    let ticket_id = v["ticket"]["id"].as_u64().unwrap_or(0);
    let mut key = ticket_id.to_be_bytes().to_vec();
    key.extend_from_slice(&FLOOR_SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    // About the size of what intake stores for a message.
    let value = serde_json::to_vec(&json!({
        "ticket_id": ticket_id,
        "message_id": v["message"]["id"],
        "sender": v["message"]["sender"]["email"],
        "text": v["message"]["body_text"],
        "subject": v["message"]["subject"],
        "channel": v["message"]["channel"],
    }))
    .unwrap();
    match store
        .commit(vec![Write::Put(TreeName::Inbox, key, value)])
        .await
    {
        Ok(()) => HttpResponse::Ok().json(json!({ "outcome": "accepted", "ticket_id": ticket_id })),
        Err(e) => HttpResponse::ServiceUnavailable().json(json!({ "error": e.to_string() })),
    }
}

pub async fn part_floor(args: &Args, dir: &Path) -> Value {
    let store = Store::open(&dir.join("floor.sled")).expect("floor store");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let data = web::Data::new(store.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/floor/parse", web::post().to(floor_parse))
            .route("/floor/commit", web::post().to(floor_commit))
    })
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    let stopped = actix_web::rt::spawn(server);
    let mut out = serde_json::Map::new();
    for (name, path) in [("parse", "/floor/parse"), ("commit", "/floor/commit")] {
        let mut per_conns = serde_json::Map::new();
        for &conns in &args.conns {
            let r = closed_loop(ClosedLoop {
                addr,
                path,
                conns,
                threads: args.client_threads,
                warmup: Duration::from_secs_f64(args.warmup),
                secs: Duration::from_secs_f64(args.secs),
                max_requests: None,
            })
            .await;
            eprintln!(
                "  floor {name:<6} {conns:>4} conns: {:>7.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
                r.rps(),
                r.pct_ms(0.5),
                r.pct_ms(0.99),
                r.errors()
            );
            per_conns.insert(conns.to_string(), r.json());
        }
        out.insert(name.to_string(), Value::Object(per_conns));
    }
    handle.stop(true).await;
    let _ = stopped.await;
    drop(store);
    Value::Object(out)
}
