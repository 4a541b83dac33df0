//! The Lambda handler: translate the invocation into a job, run it, answer the run's summary.

use std::sync::Arc;

use serde_json::Value;

use crate::config::Config;
use crate::discovery::{self, Once, RunSummary};
use crate::error::ImportError;
use crate::pipeline::Progress;
use crate::request;
use crate::sink::Sink;
use crate::source::Sources;
use crate::state::StateStore;

/// Clients and configuration built once per execution environment.
pub struct App {
    pub config: Config,
    /// Every source adapter; each invocation binds it to its request's credentials.
    pub source: Arc<Sources>,
    pub sink: Arc<dyn Sink>,
    /// Where imported file versions are recorded (`STATE_BUCKET`); without it, no once-only.
    pub state: Option<Arc<dyn StateStore>>,
}

impl App {
    /// Handles one invocation payload.
    pub async fn handle(&self, event: Value) -> Result<RunSummary, ImportError> {
        let job = request::resolve(event, &self.config)?;
        let source = self.source.bind(&job.connection);
        let once = self.state.as_deref().map(|store| Once {
            store,
            claim_ttl: self.config.claim_ttl,
        });
        discovery::run(
            &job,
            &source,
            once,
            Arc::clone(&self.sink),
            &self.config,
            Arc::new(Progress::default()),
        )
        .await
    }
}
