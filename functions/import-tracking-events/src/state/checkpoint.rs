//! Checkpoints: how far a file is delivered, kept in the state store while importing, so that a
//! run cut short — by the deadline, a crash, a lost connection or spent send retries — is resumed
//! by the next one where delivery stopped, not from the start.
//!
//! A [`Mark`] is a point in the file where everything before is settled: every record up to
//! `through_record` is either in a chunk confirmed delivered or rejected, and the next message
//! is chunk `next_chunk`. Packing is greedy and starts a new message at such a point, so a run
//! resumed from a mark cuts exactly the chunks an uninterrupted run would have: a consumer that
//! drops replays by (`import_id`, `chunk`) sees every event once.
//!
//! A [`super::OpenLease`] writes marks as delivery confirms them (at most every
//! `CHECKPOINT_INTERVAL_MS`) and renews the run's claim on the file each time, so a live run keeps
//! its file and a dead one's claim lapses after `CLAIM_TTL_SECS`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::Position;

use crate::decompress::Compression;

/// A settled point of a file: the resume point of a checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Every record up to and including this one (1-based; 0 = none) is delivered or rejected.
    pub through_record: u64,
    /// Where record `through_record` starts: reading resumes there, skipping that one record
    /// (a record's end is not known until the next is read).
    pub line: u64,
    pub byte: u64,
    /// The chunk number of the next message.
    pub next_chunk: u64,
    /// Events and rejected records up to `through_record`, over the whole file.
    pub events: u64,
    pub rejected: u64,
}

impl Mark {
    /// The start of a file.
    pub fn start() -> Mark {
        Mark {
            next_chunk: 1,
            ..Mark::default()
        }
    }

    /// A mark at record `position`.
    pub fn at(position: Position, next_chunk: u64, events: u64, rejected: u64) -> Mark {
        Mark {
            through_record: position.record,
            line: position.line,
            byte: position.byte,
            next_chunk,
            events,
            rejected,
        }
    }

    /// Messages delivered up to the mark.
    pub fn messages(&self) -> u64 {
        self.next_chunk.saturating_sub(1)
    }
}

/// What a checkpoint records besides its mark: fixed for one file version.
#[derive(Debug, Clone)]
pub struct FileVersion {
    pub version: String,
    pub import_id: String,
    pub compression: Compression,
    pub headers: Option<Vec<String>>,
    /// Invocations that worked on this version, this one included.
    pub segments: u64,
}

/// How far a file version is delivered. Written while importing (after chunks are confirmed)
/// and when a run stops early; removed once the file is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: String,
    pub import_id: String,
    /// `gzip` files cannot be entered mid-stream: they are read again from the start, skipping
    /// the records the checkpoint covers.
    pub compression: Compression,
    #[serde(flatten)]
    pub mark: Mark,
    /// The file's header fields (CSV), so reading can resume at `byte` without the header line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<String>>,
    /// Invocations that have worked on this file version so far.
    pub segments: u64,
    pub run_id: String,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_counts_what_was_delivered_up_to_a_record() {
        let start = Mark::start();
        assert_eq!(
            (start.through_record, start.next_chunk, start.messages()),
            (0, 1, 0)
        );
        let position = Position {
            record: 42,
            line: 43,
            byte: 4096,
        };
        let mark = Mark::at(position, 7, 40, 2);
        assert_eq!((mark.through_record, mark.line, mark.byte), (42, 43, 4096));
        assert_eq!((mark.next_chunk, mark.events, mark.rejected), (7, 40, 2));
        assert_eq!(mark.messages(), 6);
    }
}
