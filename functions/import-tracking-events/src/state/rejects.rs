//! Rejected records, kept where an operator can fix and replay them: JSON Lines parts in the
//! state store, next to the state documents (`rejects/<connection>/<import_id>/<part>.jsonl`).
//!
//! Part `p` holds the file's rejections number `p·PART_RECORDS + 1` up to `(p+1)·PART_RECORDS`,
//! counted over the whole file. Which records those are depends only on the file version, so a
//! part written again after a crash or a continuation is the same part, and a resumed import
//! reloads the part it stopped in and goes on filling it. Memory holds one part at most.

use serde::{Deserialize, Serialize};

use super::StateStore;
use crate::error::StateError;

/// Rejections per part: with raw text capped at [`MAX_RAW_BYTES`], a part stays a few MB.
pub const PART_RECORDS: u64 = 1000;
/// The longest raw record text kept; longer ones are cut (at a character boundary) and flagged.
pub const MAX_RAW_BYTES: usize = 2048;

/// One line of a rejects part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectLine {
    pub import_id: String,
    pub source: String,
    pub version: String,
    pub record: u64,
    pub line: u64,
    pub byte: u64,
    pub reason: String,
    /// The record's fields as one CSV line, as read (for JSON Lines, the values of the
    /// profile's keys); at most [`MAX_RAW_BYTES`].
    pub raw: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub raw_truncated: bool,
}

/// Cuts `raw` to [`MAX_RAW_BYTES`] at a character boundary; `true` when it was cut.
pub(super) fn cap_raw(raw: &mut String) -> bool {
    if raw.len() <= MAX_RAW_BYTES {
        return false;
    }
    let mut end = MAX_RAW_BYTES;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    raw.truncate(end);
    true
}

/// The rejects of one import, written part by part.
pub(super) struct Rejects {
    store: std::sync::Arc<dyn StateStore>,
    connection: String,
    import_id: String,
    /// Rejections of the file so far (the ordinal of the last one added).
    count: u64,
    /// The current part's lines, JSON-encoded, each ending in a newline.
    part: Vec<u8>,
    /// Lines in `part`, and how many of them are already stored.
    lines: u64,
    stored_lines: u64,
}

impl Rejects {
    /// Rejects of an import that has `already` rejections behind it (0 at the start of a file):
    /// the part they end in is reloaded and cut back to them.
    pub(super) async fn resume(
        store: std::sync::Arc<dyn StateStore>,
        connection: String,
        import_id: String,
        already: u64,
    ) -> Result<Rejects, StateError> {
        let mut part = Vec::new();
        let keep = already % PART_RECORDS;
        if keep > 0 {
            let stored = store
                .load_rejects(&connection, &import_id, already / PART_RECORDS)
                .await?
                .unwrap_or_default();
            // Lines past the checkpoint are rejections this run will make again.
            let mut seen = 0;
            for line in stored.split_inclusive(|&b| b == b'\n') {
                if seen == keep {
                    break;
                }
                part.extend_from_slice(line);
                seen += 1;
            }
            if seen < keep {
                tracing::warn!(
                    %import_id,
                    missing = keep - seen,
                    "rejects part shorter than its checkpoint says; the missing lines are lost"
                );
            }
        }
        let lines = keep;
        Ok(Rejects {
            store,
            connection,
            import_id,
            count: already,
            part,
            lines,
            stored_lines: lines,
        })
    }

    /// Adds the next rejection; writes its part once the part is full.
    pub(super) async fn add(&mut self, line: &RejectLine) -> Result<(), StateError> {
        serde_json::to_writer(&mut self.part, line).expect("a reject line serializes");
        self.part.push(b'\n');
        self.count += 1;
        self.lines += 1;
        if self.lines == PART_RECORDS {
            self.flush().await?;
            self.part.clear();
            self.lines = 0;
            self.stored_lines = 0;
        }
        Ok(())
    }

    /// Stores the current part as it is, when it has lines not yet stored.
    pub(super) async fn flush(&mut self) -> Result<(), StateError> {
        if self.lines == self.stored_lines {
            return Ok(());
        }
        // The part being filled is numbered by its first rejection's ordinal.
        let part = (self.count - 1) / PART_RECORDS;
        self.store
            .store_rejects(&self.connection, &self.import_id, part, self.part.clone())
            .await?;
        self.stored_lines = self.lines;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::MemoryStateStore;

    fn line(record: u64) -> RejectLine {
        RejectLine {
            import_id: "i".into(),
            source: "s3://b/f.csv".into(),
            version: "v".into(),
            record,
            line: record + 1,
            byte: record * 10,
            reason: "bad".into(),
            raw: format!("r{record}"),
            raw_truncated: false,
        }
    }

    fn records(body: &[u8]) -> Vec<u64> {
        body.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice::<RejectLine>(l).unwrap().record)
            .collect()
    }

    /// A part shorter than its checkpoint says (lost lines) is kept as it is, with a warning
    /// naming how many are missing; a part that holds them all is cut back without one.
    #[tokio::test]
    async fn a_short_part_on_resume_is_kept_and_its_missing_lines_are_named() {
        let store = Arc::new(MemoryStateStore::default());
        let mut rejects = Rejects::resume(store.clone(), "c".into(), "i".into(), 0)
            .await
            .unwrap();
        rejects.add(&line(1)).await.unwrap();
        rejects.flush().await.unwrap();
        for (already, missing) in [(3, Some(2)), (1, None)] {
            let logs = test_support::capture_logs();
            let resumed = Rejects::resume(store.clone(), "c".into(), "i".into(), already)
                .await
                .unwrap();
            assert_eq!(records(&resumed.part), [1]);
            let text = logs.text();
            match missing {
                Some(n) => assert!(
                    text.contains("rejects part shorter than its checkpoint says")
                        && text.contains(&format!("missing={n}")),
                    "{text}"
                ),
                None => assert!(!text.contains("shorter"), "{text}"),
            }
        }
    }

    /// Raw text is cut at the last character boundary at or before the limit.
    #[test]
    fn raw_text_is_capped_at_a_character_boundary() {
        let mut short = "é".repeat(10);
        assert!(!cap_raw(&mut short));
        assert_eq!(short, "é".repeat(10));
        // "é" is two bytes: with one ASCII byte in front, the limit falls inside a character.
        let mut long = format!("x{}", "é".repeat(MAX_RAW_BYTES));
        assert!(cap_raw(&mut long));
        assert_eq!(long.len(), MAX_RAW_BYTES - 1);
        assert_eq!(long, format!("x{}", "é".repeat(MAX_RAW_BYTES / 2 - 1)));
    }

    #[tokio::test]
    async fn parts_fill_by_ordinal_and_a_resumed_import_refills_the_same_part() {
        let store = Arc::new(MemoryStateStore::default());
        let mut rejects = Rejects::resume(store.clone(), "c".into(), "i".into(), 0)
            .await
            .unwrap();
        for r in 1..=PART_RECORDS + 5 {
            rejects.add(&line(r)).await.unwrap();
        }
        rejects.flush().await.unwrap();
        // Then two more past a checkpoint at 1003, which a crash loses.
        rejects.add(&line(9_001)).await.unwrap();
        rejects.flush().await.unwrap();
        let parts = store.rejects();
        assert_eq!(parts.len(), 2);
        assert_eq!(records(&parts["rejects/c/i/000000.jsonl"]).len(), 1000);

        // Resumed after rejection 1003: part 1 is cut back to 1001..=1003 and goes on from there.
        let mut resumed = Rejects::resume(store.clone(), "c".into(), "i".into(), 1003)
            .await
            .unwrap();
        resumed.add(&line(5_000)).await.unwrap();
        resumed.flush().await.unwrap();
        assert_eq!(
            records(&store.rejects()["rejects/c/i/000001.jsonl"]),
            [1001, 1002, 1003, 5000]
        );
    }
}
