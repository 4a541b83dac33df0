//! Lambda entry point: wiring only.

use std::sync::Arc;

use import_tracking_events::handler::App;
use import_tracking_events::sink::SqsSink;
use import_tracking_events::{Config, ImportError, aws};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    import_tracking_events::memory::tune_allocator();
    // Lambda's logging configuration (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT), as
    // lambda_runtime reads it, without the secrets a dependency logs at TRACE.
    shared::logging::init_lambda();

    let config = Config::from_env()?;
    let queue_url = config.queue_url.clone().ok_or(ImportError::Config {
        var: "QUEUE_URL",
        reason: "required: the SQS queue the events are sent to".into(),
    })?;
    let shared = aws::load().await;
    let app = Arc::new(App {
        source: Arc::new(aws::sources(&shared, &config)),
        sink: Arc::new(SqsSink::new(aws::sqs(&shared), queue_url)),
        state: aws::state(&shared, &config).map(|s| Arc::new(s) as _),
        config,
    });

    run(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move { app.handle(event.payload).await }
    }))
    .await
}
