//! A state store in memory: for tests and for runs that need no once-only guarantee beyond one
//! process. Same compare-and-swap rules as the S3 store.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{State, StateStore, Versioned};
use crate::error::StateError;

#[derive(Debug, Default)]
pub struct MemoryStateStore {
    docs: Mutex<HashMap<String, (State, u64)>>,
    rejects: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryStateStore {
    /// Every rejects part stored, by its key ([`super::rejects_key`]), for tests to read.
    pub fn rejects(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let parts = self.rejects.lock().expect("rejects lock");
        parts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn load(&self, connection: &str, source: &str) -> Result<Versioned, StateError> {
        let docs = self.docs.lock().expect("state lock");
        Ok(match docs.get(connection) {
            Some((state, n)) => Versioned {
                state: state.clone(),
                tag: Some(n.to_string()),
            },
            None => Versioned {
                state: State::new(source),
                tag: None,
            },
        })
    }

    async fn store(
        &self,
        connection: &str,
        state: &State,
        tag: Option<&str>,
    ) -> Result<String, StateError> {
        let mut docs = self.docs.lock().expect("state lock");
        let current = docs.get(connection).map(|(_, n)| n.to_string());
        if current.as_deref() != tag {
            return Err(StateError::Conflict {
                connection: connection.to_owned(),
            });
        }
        let next = docs.get(connection).map_or(1, |(_, n)| n + 1);
        docs.insert(connection.to_owned(), (state.clone(), next));
        Ok(next.to_string())
    }

    async fn store_rejects(
        &self,
        connection: &str,
        import_id: &str,
        part: u64,
        body: Vec<u8>,
    ) -> Result<(), StateError> {
        let key = super::rejects_key(connection, import_id, part);
        self.rejects.lock().expect("rejects lock").insert(key, body);
        Ok(())
    }

    async fn load_rejects(
        &self,
        connection: &str,
        import_id: &str,
        part: u64,
    ) -> Result<Option<Vec<u8>>, StateError> {
        let key = super::rejects_key(connection, import_id, part);
        Ok(self
            .rejects
            .lock()
            .expect("rejects lock")
            .get(&key)
            .cloned())
    }
}
