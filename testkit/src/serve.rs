//! How every stateful fake listens: on a loopback port of its own, one handler for every path,
//! its state shared with the test through `Arc<Mutex<_>>`.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, FromRequest, Handler, HttpServer, Responder};

/// Serves `handler` (with `state` as `web::Data<Arc<Mutex<S>>>`) on `127.0.0.1:0`, on the
/// current arbiter; answers the port.
pub(crate) fn on_loopback<S, F, Args>(state: Arc<Mutex<S>>, handler: F) -> u16
where
    S: Send + 'static,
    F: Handler<Args> + Send,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .default_service(web::to(handler.clone()))
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    port
}
