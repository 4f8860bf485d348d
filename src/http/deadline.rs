//! The request body deadline: a body that has not fully arrived `server.body_read_timeout_ms`
//! after its headers fails the read, and the request is answered 408 and its connection closed.
//! actix-web bounds only the wait for headers (`client_request_timeout`); without this, a client
//! that sends the headers and the token and then stalls holds its connection (and a file
//! descriptor) for ever.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;
use serde_json::json;

/// The text of the 408 answer.
pub const TIMEOUT_MESSAGE: &str =
    "the request body did not arrive in time (server.body_read_timeout_ms)";

/// Whether a payload error is this deadline's.
pub fn is_timeout(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(e) if e.kind() == io::ErrorKind::TimedOut)
}

/// The request's payload, failing with a `TimedOut` I/O error once `sleep` fires before it ends.
struct DeadlinePayload {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    timed_out: Rc<Cell<bool>>,
    done: bool,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(item) => Poll::Ready(item),
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    self.timed_out.set(true);
                    Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        TIMEOUT_MESSAGE,
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// Puts the deadline on `req`'s body; the flag says afterwards whether it fired.
pub fn install(req: &mut ServiceRequest, timeout: Duration) -> Rc<Cell<bool>> {
    let timed_out = Rc::new(Cell::new(false));
    let inner = req.take_payload();
    let payload = DeadlinePayload {
        inner,
        sleep: Box::pin(tokio::time::sleep(timeout)),
        timed_out: timed_out.clone(),
        done: false,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(payload),
    });
    timed_out
}

/// When the deadline fired, whatever the handler made of the failed read (a form extractor's
/// 400, say) becomes a 408 and the connection is closed: the rest of that body never counts.
pub fn finish<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
    timed_out: &Cell<bool>,
) -> ServiceResponse<BoxBody> {
    if !timed_out.get() {
        return res.map_into_boxed_body();
    }
    let (req, _) = res.into_parts();
    let mut answer = actix_web::HttpResponse::build(StatusCode::REQUEST_TIMEOUT);
    answer.force_close();
    ServiceResponse::new(req, answer.json(json!({ "error": TIMEOUT_MESSAGE })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use futures_util::StreamExt;

    #[actix_web::test]
    async fn a_body_that_stalls_fails_at_the_deadline_and_a_complete_one_passes() {
        let first = Bytes::from_static(b"{\"ticket\":");
        let stalled = futures_util::stream::once(std::future::ready(Ok(first.clone())))
            .chain(futures_util::stream::pending());
        let mut req = TestRequest::post().to_srv_request();
        req.set_payload(Payload::Stream {
            payload: Box::pin(stalled),
        });
        let flag = install(&mut req, Duration::from_millis(50));
        let mut payload = req.take_payload();
        assert_eq!(payload.next().await.unwrap().unwrap(), first);
        assert!(!flag.get());
        let err = payload.next().await.unwrap().unwrap_err();
        assert!(is_timeout(&err), "{err}");
        assert!(flag.get());
        assert!(payload.next().await.is_none());

        let mut req = TestRequest::post()
            .set_payload(Bytes::from_static(b"{}"))
            .to_srv_request();
        let flag = install(&mut req, Duration::from_millis(50));
        let mut payload = req.take_payload();
        assert_eq!(payload.next().await.unwrap().unwrap(), "{}");
        assert!(payload.next().await.is_none());
        assert!(!flag.get());
    }
}
