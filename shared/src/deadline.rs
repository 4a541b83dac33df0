//! The invocation deadline Lambda hands a handler, on the monotonic clock both functions plan
//! their work by; local emulators send things that are not deadlines, and those must not be
//! read as one.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Lambda's longest timeout. A deadline further than this from now, either way, is not one Lambda
/// set: local emulators send 0, a duration (`cargo lambda watch` sends 600000), or a date decades
/// ahead.
const MAX_LAMBDA_TIMEOUT_MS: u64 = 15 * 60 * 1000;

/// The deadline `deadline_ms` (milliseconds since the epoch, as the runtime gives it) as an
/// `Instant`, or `None` when it cannot be a Lambda deadline. A deadline already past is now.
pub fn from_epoch_ms(deadline_ms: u64) -> Option<Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    at(deadline_ms, now_ms, Instant::now())
}

/// [`from_epoch_ms`] with the clocks given.
pub fn at(deadline_ms: u64, now_ms: u64, now: Instant) -> Option<Instant> {
    if deadline_ms.abs_diff(now_ms) > MAX_LAMBDA_TIMEOUT_MS {
        return None;
    }
    Some(now + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines() {
        let now = Instant::now();
        let now_ms = 1_764_000_000_000;
        assert_eq!(
            at(now_ms + 2_000, now_ms, now),
            Some(now + Duration::from_secs(2))
        );
        // A deadline just past leaves no time at all, never a fresh budget.
        assert_eq!(at(now_ms - 5_000, now_ms, now), Some(now));
        // What local emulators send instead of a deadline: none, a duration, a far future.
        for not_a_deadline in [0, 600_000, now_ms + 50 * 365 * 24 * 3_600_000] {
            assert_eq!(at(not_a_deadline, now_ms, now), None, "{not_a_deadline}");
        }
    }
}
