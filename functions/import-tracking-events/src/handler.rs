//! The Lambda handler: translate the invocation into a job, run the pipeline, answer the summary.

use std::sync::Arc;

use serde_json::Value;

use crate::config::Config;
use crate::error::ImportError;
use crate::pipeline::{self, Progress, Summary};
use crate::request;
use crate::sink::Sink;
use crate::source::Source;

/// Clients and configuration built once per execution environment.
pub struct App {
    pub config: Config,
    pub source: Arc<dyn Source>,
    pub sink: Arc<dyn Sink>,
}

impl App {
    /// Handles one invocation payload.
    pub async fn handle(&self, event: Value) -> Result<Summary, ImportError> {
        let job = request::resolve(event, &self.config)?;
        pipeline::run(
            &job,
            self.source.as_ref(),
            Arc::clone(&self.sink),
            &self.config,
            Arc::new(Progress::default()),
        )
        .await
    }
}
