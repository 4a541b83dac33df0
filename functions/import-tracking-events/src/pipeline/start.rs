//! Where an import starts reading: at the beginning, or after a checkpoint at the byte of its
//! last settled record (with the header a reader needs put back in front), or from the start
//! again skipping what was settled when the file cannot be entered mid-way (gzip, a header that
//! cannot be rebuilt). Positions the reader reports are shifted back onto the file.

use shared::reader::Reentry;
use shared::{Position, Profile};

use crate::decompress::Compression;
use crate::state::Checkpoint;

/// Where reading starts and how the positions it reports map back onto the file.
pub(super) struct Start {
    /// Byte offset to open the source at.
    pub offset: u64,
    /// Records up to this one were settled by an earlier run: read, but not sent again.
    pub skip_through: u64,
    /// The header line to put back in front of a CSV opened mid-file.
    pub header: Option<Vec<u8>>,
    /// Added to the positions the reader reports (it counts from the bytes it is given).
    pub shift: Shift,
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Shift {
    record: u64,
    line: i64,
    byte: i64,
}

impl Shift {
    pub fn apply(&self, p: &mut Position) {
        p.record += self.record;
        p.line = p.line.saturating_add_signed(self.line);
        p.byte = p.byte.saturating_add_signed(self.byte);
    }
}

impl Start {
    pub fn beginning() -> Start {
        Start {
            offset: 0,
            skip_through: 0,
            header: None,
            shift: Shift::default(),
        }
    }

    /// Resuming after `checkpoint`: at the byte of its last settled record (skipping that one
    /// record) when the file can be entered there, else from the start skipping every settled
    /// record (a gzip stream has no way in but its beginning; the reader says when its format
    /// cannot be reentered).
    pub fn after(checkpoint: &Checkpoint, profile: &Profile) -> Start {
        let mark = checkpoint.mark;
        if mark.through_record == 0 {
            return Start::beginning();
        }
        let from_start = Start {
            skip_through: mark.through_record,
            ..Start::beginning()
        };
        let reentry = Reentry::for_profile(profile, checkpoint.headers.as_deref());
        let Reentry::AtByte { prefix } = reentry else {
            return from_start;
        };
        if checkpoint.compression != Compression::None {
            return from_start;
        }
        let header_lines = prefix.iter().filter(|&&b| b == b'\n').count() as i64;
        Start {
            offset: mark.byte,
            skip_through: mark.through_record,
            shift: Shift {
                record: mark.through_record - 1,
                line: mark.line as i64 - 1 - header_lines,
                byte: mark.byte as i64 - prefix.len() as i64,
            },
            header: Some(prefix).filter(|p| !p.is_empty()),
        }
    }
}
