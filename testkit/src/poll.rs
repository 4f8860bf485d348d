//! Waiting for work to happen: poll a condition until it holds or a deadline passes, so no test
//! or bench sleeps for a fixed time and hopes.

use std::future::Future;
use std::time::{Duration, Instant};

/// The usual deadline for something the agent does on its own (a reply, a handoff).
pub const WAIT: Duration = Duration::from_secs(20);

/// Polls `condition` until it holds (answers how long that took) or `deadline` passes (then
/// panics with `what`).
pub async fn eventually<F: FnMut() -> bool>(
    what: &str,
    deadline: Duration,
    mut condition: F,
) -> Duration {
    let start = Instant::now();
    loop {
        if condition() {
            return start.elapsed();
        }
        if start.elapsed() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Like [`eventually`], for conditions that must be awaited (an HTTP call).
pub async fn eventually_async<F, Fut>(what: &str, deadline: Duration, mut condition: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if condition().await {
            return start.elapsed();
        }
        if start.elapsed() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn eventually_answers_once_the_condition_holds() {
        let mut calls = 0;
        eventually("the third call", WAIT, || {
            calls += 1;
            calls == 3
        })
        .await;
        assert_eq!(calls, 3);
    }

    #[actix_web::test]
    #[should_panic(expected = "timed out waiting for: never")]
    async fn eventually_panics_with_what_it_waited_for() {
        eventually("never", Duration::from_millis(30), || false).await;
    }
}
