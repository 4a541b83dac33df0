//! What has been imported, kept where it outlives the function: the once-only guarantee.
//!
//! One small JSON document per connection (per source URI or pattern) records each file version
//! imported and each file a run is importing right now (a claim). Every change is a
//! compare-and-swap on the whole document (S3 conditional writes), so two overlapping runs cannot
//! both claim one file: the slower writer sees a conflict, reloads, and finds the claim.
//!
//! A run changes the document only through its [`Ledger`] and the [`FileLease`] of each file it
//! claims (`lease.rs`); checkpoints and the rejects object are parts of that lease.

mod checkpoint;
mod lease;
mod memory;
mod rejects;
mod s3;

pub use checkpoint::{Checkpoint, FileVersion, Mark};
pub use lease::{FileLease, Ledger, Once, OpenLease};
pub use memory::MemoryStateStore;
pub use rejects::{MAX_RAW_BYTES, PART_RECORDS, RejectLine};
pub use s3::S3StateStore;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StateError;

/// The document's format, so a future change can be recognised.
pub const STATE_SCHEMA: &str = "tracking-import-state.v1";

/// Everything recorded for one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub schema: String,
    /// The source URI or pattern this document belongs to (for people reading it).
    pub source: String,
    /// Imported file versions, by file URI.
    #[serde(default)]
    pub done: BTreeMap<String, Done>,
    /// Files a run is importing now, by file URI.
    #[serde(default)]
    pub claims: BTreeMap<String, Claim>,
    /// How far each partly imported file got, by file URI: where the next run resumes.
    #[serde(default)]
    pub checkpoints: BTreeMap<String, Checkpoint>,
    /// File versions that can never import (set aside), by file URI: skipped until the file
    /// changes, or a run says `retry_failed`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed: BTreeMap<String, Failed>,
}

/// A file version that was delivered whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub version: String,
    pub import_id: String,
    pub imported_at: DateTime<Utc>,
    pub records_read: u64,
    pub events_emitted: u64,
    pub records_rejected: u64,
}

/// A file version set aside: its import failed for a reason retrying cannot fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    pub version: String,
    /// The failure's `errorType` (`InvalidFile`).
    pub error_type: String,
    pub error: String,
    pub failed_at: DateTime<Utc>,
}

/// A run's claim on a file version it is importing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub version: String,
    /// The claiming run.
    pub run_id: String,
    /// After this, the claim is void: its run died or ran out of time without releasing it.
    pub expires_at: DateTime<Utc>,
}

impl State {
    pub fn new(source: &str) -> State {
        State {
            schema: STATE_SCHEMA.to_owned(),
            source: source.to_owned(),
            done: BTreeMap::new(),
            claims: BTreeMap::new(),
            checkpoints: BTreeMap::new(),
            failed: BTreeMap::new(),
        }
    }

    /// True when this exact version of `uri` was set aside as failed.
    pub fn is_failed(&self, uri: &str, version: &str) -> bool {
        self.failed.get(uri).is_some_and(|f| f.version == version)
    }

    /// Drops `run_id`'s claim on `uri`; true when there was one to drop.
    pub fn release(&mut self, uri: &str, run_id: &str) -> bool {
        let ours = self.claims.get(uri).is_some_and(|c| c.run_id == run_id);
        if ours {
            self.claims.remove(uri);
        }
        ours
    }

    /// The checkpoint of `uri` at `version`, if a run left one.
    pub fn checkpoint(&self, uri: &str, version: &str) -> Option<&Checkpoint> {
        self.checkpoints.get(uri).filter(|c| c.version == version)
    }

    /// True when this exact version of `uri` was imported.
    pub fn is_done(&self, uri: &str, version: &str) -> bool {
        self.done.get(uri).is_some_and(|d| d.version == version)
    }

    /// The live claim another run holds on `uri`, if any.
    pub fn claimed_by_other(&self, uri: &str, run_id: &str, now: DateTime<Utc>) -> Option<&Claim> {
        self.claims
            .get(uri)
            .filter(|c| c.run_id != run_id && c.expires_at > now)
    }
}

/// A stored document and the tag a conditional write must name to replace it.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub state: State,
    /// `None` when nothing is stored yet (the write must then create it).
    pub tag: Option<String>,
}

/// Where state documents live. Writes are conditional: `store` fails with
/// [`StateError::Conflict`] when the document is no longer at `tag`.
#[async_trait]
pub trait StateStore: Send + Sync {
    async fn load(&self, connection: &str, source: &str) -> Result<Versioned, StateError>;
    async fn store(
        &self,
        connection: &str,
        state: &State,
        tag: Option<&str>,
    ) -> Result<String, StateError>;

    /// Writes one part of an import's rejects (JSON Lines), replacing any earlier copy: a part's
    /// content depends only on the file version, so a replayed part is the same part.
    async fn store_rejects(
        &self,
        connection: &str,
        import_id: &str,
        part: u64,
        body: Vec<u8>,
    ) -> Result<(), StateError>;

    /// Reads a part written by [`StateStore::store_rejects`]; `None` when there is none.
    async fn load_rejects(
        &self,
        connection: &str,
        import_id: &str,
        part: u64,
    ) -> Result<Option<Vec<u8>>, StateError>;
}

/// The name of a rejects part, relative to the state prefix: sorted by part number.
pub fn rejects_key(connection: &str, import_id: &str, part: u64) -> String {
    format!("rejects/{connection}/{import_id}/{part:06}.jsonl")
}

/// How many times a change is retried against concurrent writers before giving up.
const UPDATE_ATTEMPTS: usize = 10;

/// Applies `change` to the connection's state with compare-and-swap, reloading and reapplying on
/// conflict. `change` returns `Some(value)` to write the state, or `None` to leave it unchanged.
pub async fn update<T>(
    store: &dyn StateStore,
    connection: &str,
    source: &str,
    mut change: impl FnMut(&mut State) -> Option<T> + Send,
) -> Result<Option<T>, StateError> {
    for attempt in 1..=UPDATE_ATTEMPTS {
        let Versioned { mut state, tag } = store.load(connection, source).await?;
        let Some(value) = change(&mut state) else {
            return Ok(None);
        };
        match store.store(connection, &state, tag.as_deref()).await {
            Ok(_) => return Ok(Some(value)),
            Err(StateError::Conflict { .. }) if attempt < UPDATE_ATTEMPTS => {
                tracing::debug!(connection, attempt, "state changed under us; reloading");
            }
            Err(err) => return Err(err),
        }
    }
    unreachable!("the last attempt returns")
}

/// The document name of a source: readable, and unique per URI (a short hash of the whole URI
/// follows a sanitised prefix of it).
pub fn connection_key(source: &str) -> String {
    let readable: String = source
        .split_once("://")
        .map_or(source, |(_, rest)| rest)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let hash = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, source.as_bytes());
    format!(
        "{}-{}",
        readable.trim_matches('_'),
        &hash.simple().to_string()[..12]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_keys_are_readable_and_distinct() {
        let a = connection_key("ftp://carrier.example:2121/outbound/TRACK_*.csv");
        // Pinned: a change would orphan every connection's state document. The hash part is
        // the first 12 hex digits of uuid5(NAMESPACE_URL, source), computed outside this code
        // (Python's uuid module).
        assert_eq!(a, "carrier.example_2121_outbound_TRACK__.csv-c0dfd517d853");
        assert_ne!(
            a,
            connection_key("ftp://carrier.example:2121/outbound/TRACK_?.csv")
        );
        assert_eq!(
            a,
            connection_key("ftp://carrier.example:2121/outbound/TRACK_*.csv")
        );
        assert!(
            connection_key(&format!("s3://b/{}", "x".repeat(500))).len() < 100,
            "keys stay short"
        );
    }

    /// A claim is live until the instant it expires, not at it; the claiming run's own is
    /// never "another's".
    #[test]
    fn a_claim_is_anothers_until_the_instant_it_expires() {
        let now = Utc::now();
        let mut state = State::new("s3://b/*.csv");
        let claim = |expires_at| Claim {
            version: "1".into(),
            run_id: "other".into(),
            expires_at,
        };
        state.claims.insert("u".into(), claim(now));
        assert!(state.claimed_by_other("u", "me", now).is_none());
        state
            .claims
            .insert("u".into(), claim(now + chrono::Duration::milliseconds(1)));
        assert!(state.claimed_by_other("u", "me", now).is_some());
        assert!(state.claimed_by_other("u", "other", now).is_none());
        assert!(state.claimed_by_other("v", "me", now).is_none());
    }

    /// An update retries a lost race up to UPDATE_ATTEMPTS writes in all, then gives up with
    /// the conflict. Each race is real: another writer stores the document between the
    /// update's load and its write, so the memory store's compare-and-swap refuses it.
    #[tokio::test]
    async fn an_update_retries_lost_races_up_to_its_attempts() {
        use futures::executor::block_on;
        for (conflicts, lands) in [(UPDATE_ATTEMPTS - 1, true), (UPDATE_ATTEMPTS, false)] {
            let store = MemoryStateStore::default();
            let mut calls = 0;
            let result = update(&store, "c", "s3://b/*.csv", |s| {
                calls += 1;
                if calls <= conflicts {
                    let other = block_on(store.load("c", "s3://b/*.csv")).unwrap();
                    block_on(store.store("c", &other.state, other.tag.as_deref())).unwrap();
                }
                s.done.clear();
                Some(calls)
            })
            .await;
            match (lands, result) {
                (true, Ok(Some(n))) => assert_eq!(n, UPDATE_ATTEMPTS),
                (false, Err(StateError::Conflict { .. })) => assert_eq!(calls, UPDATE_ATTEMPTS),
                (_, other) => panic!("{conflicts} conflicts: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn concurrent_updates_both_land() {
        let store = MemoryStateStore::default();
        // Two writers load the same version; the second store conflicts, reloads, reapplies.
        let first = store.load("c", "s3://b/*.csv").await.unwrap();
        let mut a = first.state.clone();
        a.claims.insert(
            "s3://b/a.csv".into(),
            Claim {
                version: "1".into(),
                run_id: "ra".into(),
                expires_at: Utc::now(),
            },
        );
        store.store("c", &a, first.tag.as_deref()).await.unwrap();
        let err = store
            .store("c", &first.state, first.tag.as_deref())
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::Conflict { .. }), "{err}");

        let claimed = update(&store, "c", "s3://b/*.csv", |s| {
            s.claims.insert(
                "s3://b/b.csv".into(),
                Claim {
                    version: "2".into(),
                    run_id: "rb".into(),
                    expires_at: Utc::now(),
                },
            );
            Some(())
        })
        .await
        .unwrap();
        assert_eq!(claimed, Some(()));
        let now = store.load("c", "s3://b/*.csv").await.unwrap().state;
        assert_eq!(
            now.claims.keys().collect::<Vec<_>>(),
            ["s3://b/a.csv", "s3://b/b.csv"]
        );
    }
}
