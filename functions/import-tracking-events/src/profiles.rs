//! Which profile a job names: a built-in one by name, or a TOML profile loaded from a URI
//! (`s3://…`, `file://…`, `ftp://…`, a plain path) through the same source adapters, and
//! credentials, that the import reads its files with. A new carrier then needs a profile file,
//! not a rebuild.
//!
//! A run resolves its profile once, before it lists or opens a carrier file, so a profile that
//! cannot be read or does not validate fails the run before anything is sent.

use std::sync::Arc;

use shared::Profile;
use tokio::io::AsyncReadExt;

use crate::error::ImportError;
use crate::request::ImportJob;
use crate::source::{Source, without_userinfo};

/// The largest profile read. Real profiles are a few KiB; the cap keeps a wrong URI (a carrier
/// file given as the profile, say) from being read whole into memory.
pub const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

/// Whether `profile` names a file rather than a built-in profile: a URI, a path with a
/// directory, or a `.toml` file name. A bare name is always a built-in's.
pub fn is_uri(profile: &str) -> bool {
    profile.contains("://") || profile.contains('/') || profile.ends_with(".toml")
}

/// How many profiles a chain of `extends` by URI may load.
const MAX_BASES: usize = 4;

/// Loads and validates the profile `profile` names, with the profiles its `extends` names by
/// URI (each read like it, through the connection's policy). For a job whose credentials are
/// references, use [`for_job`] or [`resolve`]: they also hold each base to the servers the
/// operator vouches for.
pub async fn load(profile: &str, source: &dyn Source) -> Result<Profile, ImportError> {
    load_vouched(profile, source, &|_| Ok(())).await
}

/// [`load`], asking `vouch` before reading each base a profile's `extends` names: a base URI
/// comes from a file's content, and the connection's credentials go wherever it is read from.
async fn load_vouched(
    profile: &str,
    source: &dyn Source,
    vouch: &(dyn Fn(&str) -> Result<(), ImportError> + Sync),
) -> Result<Profile, ImportError> {
    if !is_uri(profile) {
        return Ok(Profile::builtin(profile)?);
    }
    let text = read(profile, source).await?;
    let mut bases = shared::profile::Bases::new();
    let mut next = Profile::extends(&text, profile)?;
    while let Some(base) = next.take().filter(|base| is_uri(base)) {
        // A cycle or a chain too long is left for the profile to report.
        if bases.len() == MAX_BASES || base == profile || bases.contains_key(&base) {
            break;
        }
        vouch(&base)?;
        let base_text = read(&base, source).await?;
        next = Profile::extends(&base_text, &base)?;
        bases.insert(base, base_text);
    }
    Ok(Profile::from_toml_over(&text, profile, &bases)?)
}

/// A profile's text, read from its URI.
async fn read(uri: &str, source: &dyn Source) -> Result<String, ImportError> {
    // Errors name the URI without any password written into it.
    let profile = &without_userinfo(uri);
    // Opening goes through the connection's policy: a profile URI obeys ALLOWED_SOURCES.
    let opened = source
        .open(uri, 0)
        .await
        .map_err(ImportError::profile_unreadable(profile))?;
    let mut bytes = Vec::new();
    opened
        .body
        .take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|source| ImportError::ProfileRead {
            uri: profile.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(ImportError::ProfileTooLarge {
            uri: profile.to_owned(),
            limit: MAX_PROFILE_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|source| ImportError::ProfileNotText {
        uri: profile.to_owned(),
        source,
    })
}

/// `job` with its profile loaded, for every file of the run to share.
pub async fn resolve(job: &ImportJob, source: &dyn Source) -> Result<ImportJob, ImportError> {
    let profile = load_vouched(&job.profile, source, &vouch(job)).await?;
    tracing::info!(profile = %job.profile, name = %profile.name, "profile loaded");
    Ok(ImportJob {
        loaded_profile: Some(Arc::new(profile)),
        ..job.clone()
    })
}

/// The job's profile: the one its run resolved, else loaded now (a file imported on its own).
pub async fn for_job(job: &ImportJob, source: &dyn Source) -> Result<Profile, ImportError> {
    match &job.loaded_profile {
        Some(profile) => Ok(Profile::clone(profile)),
        None => load_vouched(&job.profile, source, &vouch(job)).await,
    }
}

/// What a base profile's URI must meet for `job`: with credentials given by reference, a
/// server the operator vouches for, as the job's own profile and source must
/// (`handler::resolve_secrets`).
fn vouch(job: &ImportJob) -> impl Fn(&str) -> Result<(), ImportError> + Sync + '_ {
    move |base| {
        if !job.connection.has_references() {
            return Ok(());
        }
        // A URI with a password is refused before any policy, in words without it.
        job.connection
            .policy
            .vouches(base)
            .map_err(ImportError::profile_unreadable(&without_userinfo(base)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SourceError;
    use crate::source::{FileSource, Sources};

    fn sources() -> Sources {
        Sources {
            s3: None,
            file: FileSource,
        }
    }

    #[test]
    fn names_and_uris() {
        for name in ["reference", "reference-jsonl", "acme"] {
            assert!(!is_uri(name), "{name}");
        }
        for uri in [
            "s3://b/p/acme.toml",
            "file:///etc/acme.toml",
            "profiles/acme.toml",
            "acme.toml",
            "sftp://h/p",
        ] {
            assert!(is_uri(uri), "{uri}");
        }
    }

    #[tokio::test]
    async fn a_path_a_file_uri_and_a_built_in_load_alike() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        let builtin = Profile::builtin("reference").unwrap();
        std::fs::write(
            &path,
            include_str!("../../../profiles/reference.toml")
                .replace("name = \"reference\"", "name = \"mine\""),
        )
        .unwrap();
        let path = path.to_str().unwrap().to_owned();
        for spec in [path.clone(), format!("file://{path}")] {
            let loaded = load(&spec, &sources()).await.unwrap();
            assert_eq!(loaded.name, "mine");
            assert_eq!(loaded.columns, builtin.columns);
            assert_eq!(loaded.status_map, builtin.status_map);
        }
        let loaded = load("reference", &sources()).await.unwrap();
        assert_eq!(loaded, builtin);
    }

    #[tokio::test]
    async fn a_profile_extends_profiles_loaded_from_uris() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        // east extends base by path, base extends the built-in x12-214.
        std::fs::write(
            path("base.toml"),
            "extends = \"x12-214\"\nname = \"acme-base\"\ncarrier_name = \"Acme\"\n\
             [status_map]\nZZ = [\"EX\", \"UNSPECIFIED_EXCEPTION\"]\n",
        )
        .unwrap();
        std::fs::write(
            path("east.toml"),
            format!(
                "extends = \"file://{}\"\nname = \"acme-east\"\n\
                 [status_map]\nZY = [\"EX\", \"CARRIER_DELAYS\"]\n",
                path("base.toml")
            ),
        )
        .unwrap();
        let builtin = Profile::builtin("x12-214").unwrap();
        let east = load(&path("east.toml"), &sources()).await.unwrap();
        assert_eq!(
            (east.name.as_str(), east.carrier_name.as_str()),
            ("acme-east", "Acme")
        );
        assert_eq!(east.status_map.len(), builtin.status_map.len() + 2);
        assert_eq!(east.record, builtin.record);

        // A base that cannot be read is named; a cycle is refused, not followed forever.
        std::fs::write(
            path("lost.toml"),
            "extends = \"/nonexistent/base.toml\"\nname = \"l\"\n",
        )
        .unwrap();
        let err = load(&path("lost.toml"), &sources()).await.unwrap_err();
        assert!(
            shared::report(&err).starts_with("cannot read profile /nonexistent/base.toml"),
            "{err}"
        );
        std::fs::write(
            path("a.toml"),
            format!("extends = \"{}\"\nname = \"a\"\n", path("b.toml")),
        )
        .unwrap();
        std::fs::write(
            path("b.toml"),
            format!("extends = \"{}\"\nname = \"b\"\n", path("a.toml")),
        )
        .unwrap();
        let err = load(&path("a.toml"), &sources()).await.unwrap_err();
        assert_eq!(err.kind(), "InvalidProfile");
        assert!(
            shared::report(&err).contains("extends more than 4 deep"),
            "{err}"
        );
    }

    /// A base named by a profile's content is held to what the job's own profile is: with
    /// credentials given by reference, only a vouched server is read; and errors never repeat a
    /// password written into a base's URI.
    #[tokio::test]
    async fn a_base_is_read_only_where_the_connection_credentials_may_go() {
        use crate::source::{AccessPolicy, Connection};
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, extends: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("extends = \"{extends}\"\nname = \"east\"\n")).unwrap();
            path.to_str().unwrap().to_owned()
        };
        // Inside Lambda, the profile's folder listed: the profile is readable, the FTP server
        // its base names is not vouched for.
        let listed = format!("{}/, ftp://", dir.path().display());
        let job = ImportJob {
            profile: write("east.toml", "ftp://carrier@evil.example/base.toml"),
            connection: Connection {
                password: Some("secretsmanager:carrier/ftp".into()),
                policy: std::sync::Arc::new(AccessPolicy::new(Some(&listed), true).unwrap()),
                ..Connection::default()
            },
            ..ImportJob::default()
        };
        assert!(job.connection.has_references());
        let err = for_job(&job, &sources()).await.unwrap_err();
        let text = shared::report(&err);
        assert!(
            matches!(
                &err,
                ImportError::ProfileUnreadable {
                    source: SourceError::NotAllowed { .. },
                    ..
                }
            ) && text.contains("credential reference"),
            "{text}"
        );
        assert!(text.contains("evil.example/base.toml"), "{text}");

        let job = ImportJob {
            profile: write("west.toml", "ftp://carrier:hunter2@evil.example/base.toml"),
            ..job
        };
        let text = shared::report(&for_job(&job, &sources()).await.unwrap_err());
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[tokio::test]
    async fn unreadable_oversized_and_invalid_profiles_are_clear_errors() {
        let err = load("/nonexistent/acme.toml", &sources())
            .await
            .unwrap_err();
        assert!(matches!(
            &err,
            ImportError::ProfileUnreadable {
                source: SourceError::NotFound { .. },
                ..
            }
        ));
        assert_eq!(err.kind(), "InvalidProfile");
        let text = shared::report(&err);
        assert!(
            text.starts_with("cannot read profile /nonexistent/acme.toml"),
            "{text}"
        );

        let err = load("s3://bucket/acme.toml", &sources()).await.unwrap_err();
        assert_eq!(err.kind(), "InvalidProfile", "{err}");

        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_PROFILE_BYTES as usize + 1]).unwrap();
        let err = load(big.to_str().unwrap(), &sources()).await.unwrap_err();
        assert!(matches!(err, ImportError::ProfileTooLarge { .. }), "{err}");

        let binary = dir.path().join("binary.toml");
        std::fs::write(&binary, b"name = \"\xff\"").unwrap();
        let err = load(binary.to_str().unwrap(), &sources())
            .await
            .unwrap_err();
        assert!(matches!(err, ImportError::ProfileNotText { .. }), "{err}");

        let bad = dir.path().join("bad.toml");
        std::fs::write(
            &bad,
            include_str!("../../../profiles/reference.toml").replace("city = ", "town = "),
        )
        .unwrap();
        let err = load(bad.to_str().unwrap(), &sources()).await.unwrap_err();
        let text = shared::report(&err);
        assert!(
            text.contains(bad.to_str().unwrap()) && text.contains("`town`"),
            "{text}"
        );
        assert_eq!(err.kind(), "InvalidProfile");

        let err = load("acme", &sources()).await.unwrap_err();
        assert!(err.to_string().contains("unknown profile `acme`"), "{err}");
    }
}
