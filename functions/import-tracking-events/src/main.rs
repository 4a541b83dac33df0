//! Lambda entry point: wiring only.

use std::sync::Arc;

use import_tracking_events::handler::Invocation;
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
    let aws_config = aws::load().await;
    let sink = Arc::new(SqsSink::new(aws::sqs(&aws_config), queue_url));
    let app = Arc::new(aws::app(config, Some(&aws_config), sink, true));

    run(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        let invocation = Invocation {
            deadline: shared::deadline::from_epoch_ms(event.context.deadline)
                .map(tokio::time::Instant::from_std),
            function_arn: Some(event.context.invoked_function_arn),
        };
        async move { app.handle_invocation(event.payload, invocation).await }
    }))
    .await
}
