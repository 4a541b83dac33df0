//! How to reach one carrier's server: the credentials the Connect request carried and the
//! timeouts the function is configured with.
//!
//! Secrets live in [`SecretString`] and this type's `Debug` prints placeholders, so a `{:?}` of a
//! job can never put a password or a private key in a log. Any credential may instead be a
//! reference to a Secrets Manager secret or an SSM SecureString ([`shared::secrets`]), replaced
//! by its value through [`Connection::resolve_secrets`] before the connection is used.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared::secrets::{SecretRef, SecretResolver};

use super::AccessPolicy;
use crate::error::SourceError;

/// Credentials and timeouts for FTP, FTPS and SFTP sources (S3 and files ignore them).
#[derive(Clone)]
pub struct Connection {
    /// `ftp_username`; a user in the URI wins. FTP without either logs in as `anonymous`.
    pub username: Option<String>,
    /// `ftp_password`: FTP/FTPS login, or SFTP password authentication.
    pub password: Option<SecretString>,
    /// `ssh_private_key`: an OpenSSH or PEM private key for SFTP (tried before the password).
    pub private_key: Option<SecretString>,
    /// `host_key_fingerprint`: the SFTP server's host key must have this SHA-256 fingerprint.
    pub host_key_fingerprint: Option<Fingerprint>,
    /// `ca_certificate`: PEM certificate(s) trusted for FTPS in addition to the system roots.
    pub ca_certificate: Option<String>,
    /// Connecting, logging in and every command on the control connection.
    pub connect_timeout: Duration,
    /// The longest wait for the next bytes of a file (or the next reply) once connected.
    pub read_timeout: Duration,
    /// What this connection may read and reach (`ALLOWED_SOURCES` and the network guard).
    pub policy: Arc<AccessPolicy>,
}

impl Default for Connection {
    fn default() -> Self {
        Connection {
            username: None,
            password: None,
            private_key: None,
            host_key_fingerprint: None,
            ca_certificate: None,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            policy: Arc::new(AccessPolicy::allow_all()),
        }
    }
}

impl Connection {
    /// True when a credential is a secret reference (resolving it would ask AWS).
    pub fn has_references(&self) -> bool {
        let is_ref = |v: &str| matches!(SecretRef::parse(v), Ok(Some(_)) | Err(_));
        [&self.password, &self.private_key]
            .into_iter()
            .flatten()
            .any(|s| is_ref(s.expose_secret()))
            || self.ca_certificate.as_deref().is_some_and(is_ref)
    }

    /// This connection with every credential that is a secret reference (`ftp_password`,
    /// `ssh_private_key`, `ca_certificate`) replaced by the secret it names; plain values are
    /// kept as they are, and a connection without references makes no AWS call.
    pub async fn resolve_secrets(
        &self,
        resolver: &SecretResolver,
    ) -> Result<Connection, SourceError> {
        let ca_certificate = self.ca_certificate.as_deref().map(SecretString::from);
        let ca_certificate = resolve(resolver, "ca_certificate", ca_certificate.as_ref()).await?;
        Ok(Connection {
            password: resolve(resolver, "ftp_password", self.password.as_ref()).await?,
            private_key: resolve(resolver, "ssh_private_key", self.private_key.as_ref()).await?,
            ca_certificate: ca_certificate.map(|pem| pem.expose_secret().to_owned()),
            ..self.clone()
        })
    }
}

async fn resolve(
    resolver: &SecretResolver,
    key: &'static str,
    value: Option<&SecretString>,
) -> Result<Option<SecretString>, SourceError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match resolver.resolve(value).await {
        Ok(resolved) => Ok(Some(resolved)),
        Err(source) => Err(SourceError::SecretUnresolved {
            key,
            reference: source.reference().to_owned(),
            source,
        }),
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = |s: &Option<SecretString>| s.as_ref().map(|_| "[redacted]");
        f.debug_struct("Connection")
            .field("username", &self.username)
            .field("password", &secret(&self.password))
            .field("private_key", &secret(&self.private_key))
            .field("host_key_fingerprint", &self.host_key_fingerprint)
            .field(
                "ca_certificate",
                &self
                    .ca_certificate
                    .as_ref()
                    .map(|pem| format!("[{} bytes of PEM]", pem.len())),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("policy", &self.policy)
            .finish()
    }
}

/// An SSH host key's SHA-256 fingerprint, as OpenSSH prints it: `SHA256:` and unpadded base64.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Accepts `SHA256:<base64>` (what `ssh-keygen -lf` prints), with or without the prefix and
    /// the base64 padding.
    pub fn parse(value: &str) -> Result<Fingerprint, SourceError> {
        let bad = |reason: &str| SourceError::InvalidSetting {
            key: "host_key_fingerprint",
            reason: format!("{value:?}: {reason}"),
            source: None,
        };
        let v = value.trim();
        let b64 = match v.split_once(':') {
            Some((alg, b64)) if alg.eq_ignore_ascii_case("sha256") => b64,
            Some((alg, _)) => {
                return Err(bad(&format!(
                    "{alg} fingerprints are not accepted; give the SHA256: one (ssh-keygen -lf)"
                )));
            }
            None => v,
        };
        let b64 = b64.trim_end_matches('=');
        // 32 bytes of SHA-256 are 43 base64 characters without padding.
        if b64.len() != 43
            || !b64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        {
            return Err(bad("expected SHA256: followed by 43 base64 characters"));
        }
        Ok(Fingerprint(format!("SHA256:{b64}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "SHA256:42rYDk56joAfUf8y+mbZrJ2Neky1dNFHSpc2feqirk4";

    #[test]
    fn fingerprints_in_openssh_form() {
        assert_eq!(Fingerprint::parse(FP).unwrap().as_str(), FP);
        assert_eq!(
            Fingerprint::parse(&format!(" sha256:{}= ", &FP[7..]))
                .unwrap()
                .as_str(),
            FP
        );
        assert_eq!(Fingerprint::parse(&FP[7..]).unwrap().as_str(), FP);
        let err = Fingerprint::parse("MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48")
            .unwrap_err()
            .to_string();
        assert!(err.contains("SHA256"), "{err}");
        assert!(Fingerprint::parse("SHA256:short").is_err());
    }

    #[tokio::test]
    async fn plain_credentials_are_kept_as_they_are() {
        let c = Connection {
            username: Some("acme".into()),
            password: Some("hunter2".into()),
            ca_certificate: Some("-----BEGIN CERTIFICATE-----abc".into()),
            ..Connection::default()
        };
        // No AWS configuration is loaded for plain values.
        let resolver = SecretResolver::from_env(Duration::from_secs(300));
        let r = c.resolve_secrets(&resolver).await.unwrap();
        assert_eq!(r.password.unwrap().expose_secret(), "hunter2");
        assert!(r.private_key.is_none());
        assert_eq!(r.ca_certificate, c.ca_certificate);
        assert_eq!(r.username, c.username);
    }

    #[tokio::test]
    async fn a_bad_reference_names_the_credential() {
        let c = Connection {
            private_key: Some("ssm:".into()),
            ..Connection::default()
        };
        let resolver = SecretResolver::from_env(Duration::from_secs(300));
        let err = c.resolve_secrets(&resolver).await.unwrap_err();
        assert!(
            matches!(&err, SourceError::SecretUnresolved { key: "ssh_private_key", reference, .. } if reference == "ssm:"),
            "{err:?}"
        );
        let err = crate::error::ImportError::Source(err);
        assert_eq!(err.kind(), "SourceUnauthorized");
        assert!(shared::report(&err).starts_with("ssh_private_key: ssm:"));
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Connection {
            username: Some("acme".into()),
            password: Some("hunter2".into()),
            private_key: Some("-----BEGIN OPENSSH PRIVATE KEY-----xyz".into()),
            ca_certificate: Some("-----BEGIN CERTIFICATE-----abc".into()),
            ..Connection::default()
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("acme"), "{shown}");
        for secret in ["hunter2", "PRIVATE KEY", "xyz", "abc"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
