//! Lambda entry point: wiring only. Configuration, profile and the HTTP client are built once
//! per execution environment; every invocation reuses them (and the client's connections).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use serde_json::Value;
use track::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs when the function's LoggingConfig asks for them (AWS_LAMBDA_LOG_FORMAT).
    tracing::init_default_subscriber();

    let config = Config::from_env()?;
    let app = Arc::new(track::build_app(&config)?);

    run(service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        async move { app.handle(event).await }
    }))
    .await
}
