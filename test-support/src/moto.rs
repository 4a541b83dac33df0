//! The local AWS stand-in (moto) that `scripts/test.sh` starts on 127.0.0.1: its endpoint and an
//! SDK configuration with dummy credentials pointed at it. Tests that need it fail, never skip,
//! without it.

use std::sync::atomic::{AtomicU32, Ordering};

/// The moto endpoint.
pub fn endpoint() -> String {
    std::env::var("MOTO_ENDPOINT").expect(
        "MOTO_ENDPOINT is not set: run the tests with scripts/test.sh, which starts moto on 127.0.0.1",
    )
}

/// An SDK configuration for moto: its endpoint, us-east-1, dummy credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .load()
        .await
}

/// A name unique to this test process and call (buckets, queues, secrets). A process id alone
/// is not: one moto outlives many test processes (`scripts/local-stack.sh run` loops), and ids
/// are reused, so a random tag per process goes with it.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let tag = TAG.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned());
    format!(
        "{prefix}-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Keeps `value` in moto: a Secrets Manager secret for a `name` without a leading `/`, an SSM
/// SecureString for `/name`. Returns the credential reference that names it.
pub async fn keep_secret(sdk: &aws_config::SdkConfig, name: &str, value: &str) -> String {
    if name.starts_with('/') {
        aws_sdk_ssm::Client::new(sdk)
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("moto keeps the parameter");
        return format!("ssm:{name}");
    }
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("moto keeps the secret");
    format!("secretsmanager:{name}")
}
