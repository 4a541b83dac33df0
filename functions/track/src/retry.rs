//! Bounded retries for carrier calls: exponential backoff with jitter (the schedule comes from
//! `backon`), a server's `Retry-After` honoured when it sends one, and never a sleep that would
//! end past the invocation's deadline. DHL's default quota is tiny (about one call per 5 s), so
//! hammering it only burns the day's allowance.

use std::future::Future;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;

use crate::error::{TrackError, Transient};
use shared::report;

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all; 1 means no retry.
    pub attempts: u32,
    /// The first backoff delay (doubled per retry, plus up to as much again of jitter).
    pub base: Duration,
    /// The longest single backoff, and the longest `Retry-After` worth waiting for: a server
    /// asking for more than this is not going to answer within one invocation.
    pub max_delay: Duration,
    /// Time kept back before the deadline, to return a typed error rather than be killed.
    pub deadline_margin: Duration,
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T> {
    /// Success, or a failure that another attempt cannot fix.
    Done(Result<T, TrackError>),
    /// A failure another attempt may not have; `retry_after` is the server's own wish.
    Retry {
        cause: Transient,
        retry_after: Option<Duration>,
    },
}

impl RetryPolicy {
    /// Runs `op` until it is done, attempts run out, or the deadline comes near. `op` gets the
    /// attempt number (from 1) and the time this attempt may take at most.
    pub async fn run<T, F, Fut>(&self, deadline: Instant, mut op: F) -> Result<T, TrackError>
    where
        F: FnMut(u32, Duration) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.base)
            .with_max_delay(self.max_delay)
            .with_max_times(self.attempts as usize)
            .with_jitter()
            .build();
        let mut attempt = 0;
        let mut last = Transient::NoTimeLeft;
        loop {
            let budget = self.time_left(deadline);
            if budget.is_zero() {
                return Err(TrackError::exhausted(attempt, last));
            }
            attempt += 1;
            let (cause, retry_after) = match op(attempt, budget).await {
                Attempt::Done(result) => return result,
                Attempt::Retry { cause, retry_after } => (cause, retry_after),
            };
            if attempt >= self.attempts {
                return Err(TrackError::exhausted(attempt, cause));
            }
            let delay = match retry_after {
                Some(wanted) if wanted > self.max_delay => {
                    tracing::warn!(
                        attempt,
                        retry_after_ms = wanted.as_millis() as u64,
                        "the carrier asks to wait longer than we may; giving up"
                    );
                    return Err(TrackError::exhausted(attempt, cause));
                }
                Some(wanted) => wanted,
                None => backoff.next().unwrap_or(self.max_delay),
            };
            // Sleeping into the margin would leave no time for the attempt after it.
            if delay >= self.time_left(deadline) {
                tracing::warn!(
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    error = %report(&cause),
                    "no time left before the invocation deadline for another attempt"
                );
                return Err(TrackError::exhausted(attempt, cause));
            }
            tracing::warn!(
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %report(&cause),
                "carrier call failed; retrying"
            );
            tokio::time::sleep(delay).await;
            last = cause;
        }
    }

    fn time_left(&self, deadline: Instant) -> Duration {
        deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(self.deadline_margin)
    }
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP-date (a date already past means now).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "-1", "1.5", "soon", "99999999999999999999999"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    fn policy(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(50),
            deadline_margin: Duration::from_millis(10),
        }
    }

    fn unavailable() -> Attempt<()> {
        Attempt::Retry {
            cause: Transient::Status {
                status: 503,
                detail: None,
            },
            retry_after: None,
        }
    }

    #[tokio::test]
    async fn attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let err = policy(3)
            .run(deadline, |_, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { unavailable() }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(matches!(
            err,
            TrackError::CarrierUnavailable { attempts: 3, .. }
        ));
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_deadline_gives_up_at_once() {
        let calls = AtomicU32::new(0);
        let mut p = policy(5);
        p.max_delay = Duration::from_secs(60);
        let deadline = Instant::now() + Duration::from_millis(500);
        let started = std::time::Instant::now();
        let err = p
            .run(deadline, |_, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    Attempt::<()>::Retry {
                        cause: Transient::RateLimited { detail: None },
                        retry_after: Some(Duration::from_secs(10)),
                    }
                }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(err.kind(), "CarrierRateLimited");
        assert!(started.elapsed() < Duration::from_millis(400));
    }

    #[tokio::test]
    async fn a_past_deadline_makes_no_attempt() {
        let calls = AtomicU32::new(0);
        let err = policy(3)
            .run(Instant::now(), |_, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { unavailable() }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(err.kind(), "CarrierUnavailable");
    }

    #[tokio::test]
    async fn the_attempt_budget_never_reaches_past_the_margin() {
        let deadline = Instant::now() + Duration::from_millis(200);
        let budget = policy(1)
            .run(deadline, |_, budget| async move {
                Attempt::Done(Ok::<_, TrackError>(budget))
            })
            .await
            .unwrap();
        assert!(budget <= Duration::from_millis(190), "{budget:?}");
    }
}
