//! The Lambda handler: translate the invocation into a job, run it, answer the run's summary.
//!
//! A run that reaches its deadline mid-file stops reading, lets its sends finish, checkpoints,
//! and hands the rest to a fresh invocation through the [`Continuation`] port (an asynchronous
//! invoke of this same function, with the original event wrapped in a `continuation`). The new
//! invocation claims the file again and resumes from the checkpoint; if the hand-over fails,
//! the error makes Lambda retry the original event, which resumes the same way.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::Config;
use crate::discovery::{self, RunSummary};
use crate::error::{ContinueError, ImportError};
use crate::pipeline::{Progress, Status};
use crate::request::{self, ImportJob};
use crate::sink::Sink;
use crate::source::Connection;
use crate::source::Sources;
use crate::state::{Once, StateStore};
use shared::secrets::SecretResolver;

/// The key a continuation payload wraps the original event in.
pub const CONTINUATION_KEY: &str = "continuation";

/// Starts a new invocation of this function with `payload`, not waiting for it to run.
#[async_trait]
pub trait Continuation: Send + Sync {
    async fn start(&self, function: &str, payload: &Value) -> Result<(), ContinueError>;
}

/// Clients and configuration built once per execution environment.
pub struct App {
    pub config: Config,
    /// Every source adapter; each invocation binds it to its request's credentials.
    pub source: Arc<Sources>,
    pub sink: Arc<dyn Sink>,
    /// Where imported file versions are recorded (`STATE_BUCKET`); without it, no once-only.
    pub state: Option<Arc<dyn StateStore>>,
    /// How a run past its deadline goes on; without it, a stopped run waits for the next one.
    pub continuation: Option<Arc<dyn Continuation>>,
    /// Resolves credentials given by reference (`secretsmanager:…`, `ssm:…`), with its cache.
    pub secrets: Arc<SecretResolver>,
}

/// What the runtime says about one invocation.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// When Lambda stops the invocation (`None` when the runtime gave no real deadline).
    pub deadline: Option<Instant>,
    /// This function's ARN as invoked, which a continuation invokes again.
    pub function_arn: Option<String>,
}

impl App {
    /// Handles one invocation payload with no deadline.
    pub async fn handle(&self, event: Value) -> Result<RunSummary, ImportError> {
        self.handle_invocation(event, Invocation::default()).await
    }

    /// Handles one invocation payload, stopping `DEADLINE_MARGIN_MS` before its deadline.
    pub async fn handle_invocation(
        &self,
        event: Value,
        invocation: Invocation,
    ) -> Result<RunSummary, ImportError> {
        let (event, segment) = unwrap_continuation(event);
        if segment > 1 {
            tracing::info!(segment, "continuing an import past an earlier deadline");
        }
        let job = request::resolve(event.clone(), &self.config)?;
        let stop_at = invocation
            .deadline
            .map(|d| stop_before(d, self.config.deadline_margin));
        let summary = self
            .run_job(job, stop_at, Arc::new(Progress::default()))
            .await?;
        if summary.status == Status::Continued {
            self.hand_over(&invocation, &event, segment, &summary)
                .await?;
        }
        Ok(summary)
    }

    /// Runs a resolved job: checks what it names, resolves its credential references, and imports
    /// every new file of its source. The Lambda handler and the CLI both come through here.
    pub async fn run_job(
        &self,
        mut job: ImportJob,
        stop_at: discovery::StopAt,
        progress: Arc<Progress>,
    ) -> Result<RunSummary, ImportError> {
        // What the request names is checked before any secret is fetched or anything read.
        discovery::admit(&job, &self.source.bind(&job.connection))?;
        job.connection = resolve_secrets(&job, &self.secrets).await?;
        let source = self.source.bind(&job.connection);
        let once = self.state.as_ref().map(|store| Once {
            store: Arc::clone(store),
            claim_ttl: self.config.claim_ttl,
        });
        let sink = Arc::clone(&self.sink);
        discovery::run(&job, &source, once, sink, &self.config, progress, stop_at).await
    }

    async fn hand_over(
        &self,
        invocation: &Invocation,
        event: &Value,
        segment: u64,
        summary: &RunSummary,
    ) -> Result<(), ImportError> {
        let through = summary
            .files
            .last()
            .map_or(0, |f| f.delivered_through_record);
        let (Some(continuation), Some(function)) =
            (&self.continuation, invocation.function_arn.as_deref())
        else {
            tracing::warn!(
                through_record = through,
                "stopped before the deadline with no way to continue; the next run resumes from the checkpoint"
            );
            return Ok(());
        };
        // A retry of set-aside files happens once: the continuation skips what this chain
        // already failed again, so a chain of continuations cannot loop on them.
        let mut event = event.clone();
        for path in ["/metadata", "/detail/metadata"] {
            if let Some(metadata) = event.pointer_mut(path).and_then(Value::as_object_mut) {
                metadata.remove("retry_failed");
            }
        }
        let payload = json!({ CONTINUATION_KEY: { "segment": segment + 1, "event": event } });
        continuation
            .start(function, &payload)
            .await
            .map_err(|source| ImportError::Continue {
                through_record: through,
                source,
            })?;
        tracing::info!(
            segment = segment + 1,
            through_record = through,
            "continued in a new invocation"
        );
        Ok(())
    }
}

/// The job's connection with its credential references resolved. A reference is resolved only
/// when every server the job may send credentials to (its source's, and its profile's) is one
/// the operator vouches for: `metadata` is what a shipper typed, and must not be able to send
/// another connection's secret to a server of its choosing.
pub async fn resolve_secrets(
    job: &ImportJob,
    secrets: &SecretResolver,
) -> Result<Connection, ImportError> {
    if job.connection.has_references() {
        let policy = &job.connection.policy;
        policy.vouches(&job.source)?;
        if crate::profiles::is_uri(&job.profile) {
            policy
                .vouches(&job.profile)
                .map_err(ImportError::profile_unreadable(&job.profile))?;
        }
    }
    Ok(job.connection.resolve_secrets(secrets).await?)
}

/// When to stop reading: `margin` before `deadline`, or now when less than that is left.
fn stop_before(deadline: Instant, margin: Duration) -> Instant {
    deadline
        .checked_sub(margin)
        .unwrap_or_else(Instant::now)
        .max(Instant::now().min(deadline))
}

/// The original event and its segment number (1 for an event that is not a continuation).
fn unwrap_continuation(event: Value) -> (Value, u64) {
    match event {
        Value::Object(mut map)
            if map.len() == 1
                && map
                    .get(CONTINUATION_KEY)
                    .is_some_and(|c| c.get("event").is_some()) =>
        {
            let mut continuation = map.remove(CONTINUATION_KEY).expect("checked");
            let segment = continuation
                .get("segment")
                .and_then(Value::as_u64)
                .unwrap_or(2);
            (continuation["event"].take(), segment)
        }
        event => (event, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_unwrap_to_their_event_and_segment() {
        let event = json!({"transaction_id": "t", "metadata": {"source": "s3://b/k"}});
        assert_eq!(unwrap_continuation(event.clone()), (event.clone(), 1));
        let wrapped = json!({ CONTINUATION_KEY: { "segment": 3, "event": event } });
        assert_eq!(unwrap_continuation(wrapped), (event, 3));
        // A request that merely has such a key among others is a request.
        let other = json!({ CONTINUATION_KEY: {"event": 1}, "metadata": {} });
        assert_eq!(unwrap_continuation(other.clone()).1, 1);
    }

    #[test]
    fn stopping_leaves_the_margin_or_stops_now() {
        let now = Instant::now();
        let far = now + Duration::from_secs(600);
        assert_eq!(
            stop_before(far, Duration::from_secs(30)),
            far - Duration::from_secs(30)
        );
        // Less than the margin left: stop now (not at the deadline, 5 s away).
        let near = now + Duration::from_secs(5);
        let stop = stop_before(near, Duration::from_secs(30));
        assert!(stop >= now && stop <= Instant::now(), "{:?}", stop - now);
    }
}
