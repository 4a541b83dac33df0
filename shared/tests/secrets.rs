//! `shared::secrets` against moto's Secrets Manager and SSM (started by scripts/local-stack.sh):
//! whole and JSON-key secrets, SecureStrings, references that do not resolve, the cache and its
//! TTL, and that no resolved value reaches an error or a log line.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared::secrets::{SecretError, SecretResolver};

/// A name unique to this test process and call, under the prefix the template grants.
fn unique(prefix: &str) -> String {
    format!("carrier-tracking/{}", test_support::moto::unique(prefix))
}

async fn aws() -> aws_config::SdkConfig {
    test_support::moto::sdk_config().await
}

/// A new Secrets Manager secret holding `value`; returns its ARN.
async fn create_secret(sdk: &aws_config::SdkConfig, name: &str, value: &str) -> String {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
    out.arn.unwrap()
}

async fn put_secret(sdk: &aws_config::SdkConfig, name: &str, value: &str) {
    aws_sdk_secretsmanager::Client::new(sdk)
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

async fn put_parameter(sdk: &aws_config::SdkConfig, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

async fn resolve(resolver: &SecretResolver, value: &str) -> Result<String, SecretError> {
    let value = resolver.resolve(&SecretString::from(value)).await?;
    Ok(value.expose_secret().to_owned())
}

#[tokio::test]
async fn a_secret_by_name_or_arn() {
    let sdk = aws().await;
    let name = unique("ftp-password");
    let arn = create_secret(&sdk, &name, "s3cr3t-pw").await;
    assert!(arn.contains(':'), "{arn}");
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(300));
    for reference in [
        format!("secretsmanager:{name}"),
        format!("secretsmanager:{arn}"),
    ] {
        assert_eq!(resolve(&resolver, &reference).await.unwrap(), "s3cr3t-pw");
    }
    // Plain values are the secret itself.
    assert_eq!(resolve(&resolver, "plain-pw").await.unwrap(), "plain-pw");
}

#[tokio::test]
async fn one_key_of_a_json_secret() {
    let sdk = aws().await;
    let name = unique("dhl");
    let arn = create_secret(&sdk, &name, r#"{"api_key":"k-json-1","n":1}"#).await;
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(300));
    for reference in [
        format!("secretsmanager:{name}#api_key"),
        format!("secretsmanager:{arn}#api_key"),
    ] {
        assert_eq!(resolve(&resolver, &reference).await.unwrap(), "k-json-1");
    }
    for missing in ["missing", "n"] {
        let reference = format!("secretsmanager:{name}#{missing}");
        let err = resolve(&resolver, &reference).await.unwrap_err();
        assert!(matches!(err, SecretError::NoSuchKey { .. }), "{err:?}");
        assert_safe(&err, &reference, &["k-json-1"]);
    }
    let plain = unique("not-json");
    create_secret(&sdk, &plain, "not json at all").await;
    let reference = format!("secretsmanager:{plain}#api_key");
    let err = resolve(&resolver, &reference).await.unwrap_err();
    assert!(matches!(err, SecretError::NotJson { .. }), "{err:?}");
    assert_safe(&err, &reference, &["not json at all"]);
}

#[tokio::test]
async fn an_ssm_secure_string_is_decrypted() {
    let sdk = aws().await;
    let name = format!("/{}", unique("ssh-key"));
    put_parameter(&sdk, &name, "-----BEGIN OPENSSH PRIVATE KEY-----x").await;
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(300));
    let value = resolve(&resolver, &format!("ssm:{name}")).await.unwrap();
    assert_eq!(value, "-----BEGIN OPENSSH PRIVATE KEY-----x");
}

#[tokio::test]
async fn a_reference_that_does_not_exist_is_named_in_the_error() {
    let sdk = aws().await;
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(300));
    let reference = "secretsmanager:carrier-tracking/nowhere#api_key";
    let err = resolve(&resolver, reference).await.unwrap_err();
    assert!(matches!(err, SecretError::SecretsManager { .. }), "{err:?}");
    assert_safe(&err, reference, &[]);
    assert!(std::error::Error::source(&err).is_some());

    let reference = "ssm:/carrier-tracking/nowhere";
    let err = resolve(&resolver, reference).await.unwrap_err();
    assert!(matches!(err, SecretError::Ssm { .. }), "{err:?}");
    assert_safe(&err, reference, &[]);
}

#[tokio::test]
async fn values_are_cached_for_the_ttl() {
    let sdk = aws().await;
    let name = unique("rotated");
    create_secret(&sdk, &name, "before").await;
    let parameter = format!("/{}", unique("rotated"));
    put_parameter(&sdk, &parameter, "p-before").await;
    let cached = SecretResolver::new(&sdk, Duration::from_secs(300));
    let uncached = SecretResolver::new(&sdk, Duration::ZERO);
    let (secret, param) = (format!("secretsmanager:{name}"), format!("ssm:{parameter}"));
    for resolver in [&cached, &uncached] {
        assert_eq!(resolve(resolver, &secret).await.unwrap(), "before");
        assert_eq!(resolve(resolver, &param).await.unwrap(), "p-before");
    }
    put_secret(&sdk, &name, "after").await;
    put_parameter(&sdk, &parameter, "p-after").await;
    assert_eq!(resolve(&cached, &secret).await.unwrap(), "before");
    assert_eq!(resolve(&cached, &param).await.unwrap(), "p-before");
    assert_eq!(resolve(&uncached, &secret).await.unwrap(), "after");
    assert_eq!(resolve(&uncached, &param).await.unwrap(), "p-after");
    // An expired entry is fetched again.
    let short = SecretResolver::new(&sdk, Duration::from_millis(200));
    assert_eq!(resolve(&short, &secret).await.unwrap(), "after");
    put_secret(&sdk, &name, "later").await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(resolve(&short, &secret).await.unwrap(), "later");
}

#[tokio::test]
async fn resolved_values_are_never_logged() {
    let sdk = aws().await;
    let name = unique("logged");
    create_secret(&sdk, &name, r#"{"password":"pw-in-json-77"}"#).await;
    let parameter = format!("/{}", unique("logged"));
    put_parameter(&sdk, &parameter, "pw-in-ssm-88").await;

    let logs = test_support::capture_logs();
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(300));
    let a = resolve(&resolver, &format!("secretsmanager:{name}#password")).await;
    let b = resolve(&resolver, &format!("ssm:{parameter}")).await;
    assert_eq!(a.unwrap(), "pw-in-json-77");
    assert_eq!(b.unwrap(), "pw-in-ssm-88");
    let text = logs.text();
    assert!(
        text.contains("GetSecretValue"),
        "TRACE logs were not captured"
    );
    for secret in ["pw-in-json-77", "pw-in-ssm-88"] {
        assert!(!text.contains(secret), "{secret} logged");
    }
    assert!(!format!("{resolver:?}").contains("pw-in"));
}

/// The error and its whole chain name `reference` and hold none of `values`.
fn assert_safe(err: &SecretError, reference: &str, values: &[&str]) {
    let text = format!("{} / {err:?}", shared::report(err));
    assert_eq!(err.reference(), reference);
    assert!(text.contains(reference), "{text}");
    for value in values {
        assert!(!text.contains(value), "{text}");
    }
}
