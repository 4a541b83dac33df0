//! AWS clients, built once per execution environment from the standard configuration chain
//! (which honours `AWS_ENDPOINT_URL`, so local stand-ins need no code).

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde_json::Value;
use shared::secrets::SecretResolver;

use crate::config::Config;
use crate::error::ContinueError;
use crate::handler::{App, Continuation};
use crate::sink::Sink;
use crate::source::{FileSource, S3Source, Sources};
use crate::state::S3StateStore;

/// Attempts the SDK makes for a throttled or failed (5xx) request, the first included.
pub const SDK_ATTEMPTS: u32 = 8;

/// How every client retries: throttling and 5xx with exponential backoff, more room than the
/// default three attempts, since an import must not fail on a passing throttle.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS)
}

/// Loads the shared AWS configuration.
pub async fn load() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retry_config())
        .load()
        .await
}

/// The S3 client, path-style when pointed at a local endpoint.
pub fn s3(shared: &aws_config::SdkConfig, config: &Config) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(shared)
        .force_path_style(config.s3_force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub fn sqs(shared: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(shared)
}

/// Every source this build can read.
pub fn sources(shared: &aws_config::SdkConfig, config: &Config) -> Sources {
    Sources {
        s3: Some(S3Source::new(s3(shared, config))),
        file: FileSource,
    }
}

/// The app for this environment, built the same way for the Lambda and the CLI: local files
/// always; with `shared` (AWS in use), S3 sources, the state bucket when `STATE_BUCKET` is set, and
/// (with `continue_in_lambda`) continuations as asynchronous invokes of the function itself.
/// Credential references resolve through `shared`, else through AWS config loaded when the first
/// reference is met.
pub fn app(
    config: Config,
    shared: Option<&aws_config::SdkConfig>,
    sink: Arc<dyn Sink>,
    continue_in_lambda: bool,
) -> App {
    let source = match shared {
        Some(shared) => sources(shared, &config),
        None => Sources {
            s3: None,
            file: FileSource,
        },
    };
    let secrets = match shared {
        Some(shared) => SecretResolver::new(shared, config.secret_cache),
        None => SecretResolver::from_env(config.secret_cache),
    };
    App {
        source: Arc::new(source),
        sink,
        state: shared
            .and_then(|shared| state(shared, &config))
            .map(|s| Arc::new(s) as _),
        continuation: shared
            .filter(|_| continue_in_lambda)
            .map(|shared| Arc::new(LambdaContinuation::new(shared)) as _),
        secrets: Arc::new(secrets),
        config,
    }
}

/// The state store, when `STATE_BUCKET` is configured.
pub fn state(shared: &aws_config::SdkConfig, config: &Config) -> Option<S3StateStore> {
    let bucket = config.state_bucket.clone()?;
    Some(S3StateStore::new(
        s3(shared, config),
        bucket,
        config.state_prefix.clone(),
    ))
}

/// Continues an import in a new invocation: an asynchronous (`Event`) invoke of the function.
#[derive(Debug, Clone)]
pub struct LambdaContinuation {
    client: aws_sdk_lambda::Client,
}

impl LambdaContinuation {
    pub fn new(shared: &aws_config::SdkConfig) -> Self {
        LambdaContinuation {
            client: aws_sdk_lambda::Client::new(shared),
        }
    }
}

#[async_trait]
impl Continuation for LambdaContinuation {
    async fn start(&self, function: &str, payload: &Value) -> Result<(), ContinueError> {
        let body = serde_json::to_vec(payload).expect("a JSON value serializes");
        self.client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(body))
            .send()
            .await
            .map_err(|source| ContinueError::Invoke {
                function: function.to_owned(),
                source: Box::new(source),
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_client_retries_eight_times_with_backoff() {
        let shared = load().await;
        let retry = shared.retry_config().expect("a retry config");
        assert_eq!(retry.max_attempts(), 8);
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
        assert!(retry.initial_backoff() > std::time::Duration::ZERO);
        let sqs = sqs(&shared);
        assert_eq!(sqs.config().retry_config().unwrap().max_attempts(), 8);
    }
}
