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
    pub async fn run<T, F, Fut>(&self, deadline: Instant, op: F) -> Result<T, TrackError>
    where
        F: FnMut(u32, Duration) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        self.run_with_sleep(deadline, op, tokio::time::sleep).await
    }

    /// [`RetryPolicy::run`] with the pause between attempts supplied by the caller, so that tests
    /// can see every delay chosen without waiting for it.
    pub async fn run_with_sleep<T, F, Fut, S, SleepFut>(
        &self,
        deadline: Instant,
        mut op: F,
        mut sleep: S,
    ) -> Result<T, TrackError>
    where
        F: FnMut(u32, Duration) -> Fut,
        Fut: Future<Output = Attempt<T>>,
        S: FnMut(Duration) -> SleepFut,
        SleepFut: Future<Output = ()>,
    {
        let mut backoff = self.backoff();
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
            let next_backoff = || backoff.next().unwrap_or(self.max_delay);
            let delay = match self.pause(retry_after, next_backoff, self.time_left(deadline)) {
                Ok(delay) => delay,
                Err(why) => {
                    tracing::warn!(
                        attempt,
                        retry_after_ms = retry_after.map(|d| d.as_millis() as u64),
                        error = %report(&cause),
                        "giving up: {why}"
                    );
                    return Err(TrackError::exhausted(attempt, cause));
                }
            };
            tracing::warn!(
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %report(&cause),
                "carrier call failed; retrying"
            );
            sleep(delay).await;
            last = cause;
        }
    }

    /// The pause before the next attempt, or why there is none. A server's `Retry-After` wins
    /// over our own schedule (and leaves that schedule where it was).
    fn pause(
        &self,
        retry_after: Option<Duration>,
        backoff: impl FnOnce() -> Duration,
        time_left: Duration,
    ) -> Result<Duration, &'static str> {
        let delay = match retry_after {
            // A server asking for more than this is not going to answer within one invocation.
            Some(wanted) if wanted > self.max_delay => {
                return Err("the carrier asks to wait longer than RETRY_MAX_MS");
            }
            Some(wanted) => wanted,
            None => backoff(),
        };
        // Sleeping into the margin would leave no time for the attempt after it.
        if delay >= time_left {
            return Err("no time left before the invocation deadline for another attempt");
        }
        Ok(delay)
    }

    /// Our own schedule: `base`, then doubling, each delay plus up to as much again of random
    /// jitter (so that many invocations throttled together do not retry together), and never more
    /// than `max_delay`. backon adds its jitter on top of its own cap, hence the clamp.
    pub fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        let max = self.max_delay;
        ExponentialBuilder::default()
            .with_min_delay(self.base)
            .with_max_delay(max)
            .without_max_times()
            .with_jitter()
            .build()
            .map(move |delay| delay.min(max))
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
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(1_000),
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

    fn rate_limited(retry_after: Duration) -> Attempt<()> {
        Attempt::Retry {
            cause: Transient::RateLimited { detail: None },
            retry_after: Some(retry_after),
        }
    }

    /// Runs `policy` with a sleep that only records what it was asked to wait.
    async fn run_recording<F, Fut>(
        policy: RetryPolicy,
        deadline: Instant,
        op: F,
    ) -> (Result<(), TrackError>, Vec<Duration>)
    where
        F: FnMut(u32, Duration) -> Fut,
        Fut: Future<Output = Attempt<()>>,
    {
        let slept = std::sync::Mutex::new(Vec::new());
        let result = policy
            .run_with_sleep(deadline, op, |d| {
                slept.lock().unwrap().push(d);
                std::future::ready(())
            })
            .await;
        (result, slept.into_inner().unwrap())
    }

    fn in_a_minute() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let p = policy(5);
        let ms = Duration::from_millis;
        // (lowest, highest) for each retry: base·2ⁿ plus up to as much again, capped.
        let bounds = [
            (ms(100), ms(200)),
            (ms(200), ms(400)),
            (ms(400), ms(800)),
            (ms(800), ms(1_000)),
            (ms(1_000), ms(1_000)),
        ];
        let mut firsts = Vec::new();
        for _ in 0..50 {
            let delays: Vec<Duration> = p.backoff().take(bounds.len()).collect();
            for (delay, (low, high)) in delays.iter().zip(bounds) {
                assert!(low <= *delay && *delay <= high, "{delays:?}");
            }
            firsts.push(delays[0]);
        }
        firsts.dedup();
        assert!(firsts.len() > 1, "no jitter: {firsts:?}");
    }

    #[test]
    fn retry_after_wins_over_the_schedule_within_limits() {
        let p = policy(3);
        let (s, ms) = (Duration::from_secs, Duration::from_millis);
        let never = || -> Duration { panic!("the schedule must not be consulted") };
        assert_eq!(p.pause(Some(ms(700)), never, s(10)), Ok(ms(700)));
        assert_eq!(
            p.pause(Some(Duration::ZERO), never, s(10)),
            Ok(Duration::ZERO)
        );
        assert!(
            p.pause(Some(s(2)), never, s(10)).is_err(),
            "above RETRY_MAX_MS"
        );
        assert_eq!(p.pause(None, || ms(150), s(10)), Ok(ms(150)));
        // Whatever asked for the delay, it must end before the deadline's margin.
        assert!(p.pause(Some(ms(700)), never, ms(700)).is_err());
        assert!(p.pause(None, || ms(150), ms(100)).is_err());
    }

    #[tokio::test]
    async fn attempts_are_bounded_and_backed_off() {
        let calls = AtomicU32::new(0);
        let (result, slept) = run_recording(policy(3), in_a_minute(), |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { unavailable() }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(matches!(
            result.unwrap_err(),
            TrackError::CarrierUnavailable { attempts: 3, .. }
        ));
        // Two pauses, between the three attempts, the second on the doubled step.
        assert_eq!(slept.len(), 2, "{slept:?}");
        assert!(slept[0] >= Duration::from_millis(100) && slept[0] <= Duration::from_millis(200));
        assert!(slept[1] >= Duration::from_millis(200) && slept[1] <= Duration::from_millis(400));
    }

    #[tokio::test]
    async fn the_servers_retry_after_is_what_we_wait() {
        let (result, slept) = run_recording(policy(3), in_a_minute(), |attempt, _| async move {
            if attempt == 1 {
                rate_limited(Duration::from_millis(900))
            } else {
                Attempt::Done(Ok(()))
            }
        })
        .await;
        result.unwrap();
        assert_eq!(slept, [Duration::from_millis(900)]);
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_deadline_gives_up_without_waiting() {
        let calls = AtomicU32::new(0);
        let mut p = policy(5);
        p.max_delay = Duration::from_secs(60);
        let deadline = Instant::now() + Duration::from_secs(5);
        let (result, slept) = run_recording(p, deadline, |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { rate_limited(Duration::from_secs(10)) }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(result.unwrap_err().kind(), "CarrierRateLimited");
        assert!(slept.is_empty(), "{slept:?}");
    }

    #[tokio::test]
    async fn a_past_deadline_makes_no_attempt() {
        let calls = AtomicU32::new(0);
        let (result, slept) = run_recording(policy(3), Instant::now(), |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { unavailable() }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(result.unwrap_err().kind(), "CarrierUnavailable");
        assert!(slept.is_empty());
    }

    #[tokio::test]
    async fn the_attempt_budget_never_reaches_past_the_margin() {
        // Time only moves forward, so the budget can only be smaller than deadline − margin.
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
