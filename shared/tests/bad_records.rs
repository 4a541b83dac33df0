//! The reader's and mapper's answers to broken carrier files, below the CLI the bad-input corpus
//! runs (functions/import-tracking-events/tests/bad-input): wrong delimiters however the header is
//! written, NUL bytes in either format, where a failed read says it failed, and a quote that is
//! never closed.

use std::pin::Pin;
use std::task::{Context, Poll};

use shared::{Mapper, Profile, ReadError, Record, RecordReader, RejectReason};
use tokio::io::{AsyncRead, ReadBuf};

const HEADER: &str = "TrackingNumber,EventCode,EventDescription,EventDate,EventTime,UtcOffset,City,StateProvince,PostalCode,CountryCode,SignedBy,Latitude,Longitude,EstimatedDelivery,ServiceCode,Weight";

async fn bind(file: &[u8], profile: &str) -> Result<Mapper, ReadError> {
    let profile = Profile::builtin(profile).unwrap();
    let mut reader = RecordReader::new(file, &profile);
    let headers = reader.headers().await?;
    Mapper::new(&profile, &headers)
}

#[tokio::test]
async fn a_header_in_another_common_delimiter_is_named_as_such() {
    for (delimiter, shown) in [(";", "';'"), ("\t", "'\\t'"), ("|", "'|'")] {
        let header = HEADER.replace(',', delimiter);
        let quoted = format!("\"{}\"", HEADER.replace(',', &format!("\"{delimiter}\"")));
        for header in [header, quoted] {
            let err = bind(format!("{header}\n").as_bytes(), "reference")
                .await
                .unwrap_err();
            assert!(matches!(err, ReadError::WrongDelimiter { .. }), "{err}");
            let text = err.to_string();
            assert!(
                text.contains(&format!("looks {shown}-delimited")),
                "{header}: {text}"
            );
        }
    }
    // One column that no other delimiter splits into the profile's names is a missing column.
    let err = bind(b"Tracking;Number\n", "reference").await.unwrap_err();
    assert!(matches!(err, ReadError::MissingColumn { .. }), "{err}");
}

#[tokio::test]
async fn a_nul_in_a_mapped_field_rejects_the_record_in_either_format() {
    let profile = Profile::builtin("reference-jsonl").unwrap();
    let file = b"{\"trackingNumber\":\"1Z\\u0000\",\"eventCode\":\"DL\",\"eventDate\":\"2026-11-08\",\"eventTime\":\"10:00:00\",\"utcOffset\":\"Z\"}\n";
    let mut reader = RecordReader::new(&file[..], &profile);
    let mapper = Mapper::new(&profile, &reader.headers().await.unwrap()).unwrap();
    let mut record = Record::default();
    assert!(reader.read(&mut record).await.unwrap());
    assert_eq!(
        mapper.map(&record).unwrap_err().reason,
        RejectReason::NulByte {
            column: "trackingNumber".into()
        }
    );
}

/// Yields `data`, then fails.
struct FailsAfter(Vec<u8>);

impl AsyncRead for FailsAfter {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.0.is_empty() {
            return Poll::Ready(Err(std::io::Error::other("connection reset")));
        }
        let n = self.0.len().min(buf.remaining()).min(100);
        buf.put_slice(&self.0[..n]);
        self.0.drain(..n);
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_failed_read_names_the_record_it_broke_in_not_an_earlier_one() {
    let row = "1Z,DL,x,2026-11-08,10:00:00,Z,,,,,,,,,,\n";
    let mut file = format!("{HEADER}\n{}", row.repeat(30));
    file.push_str("1Z,DL,half a rec");
    let profile = Profile::builtin("reference").unwrap();
    let mut reader = RecordReader::new(FailsAfter(file.into_bytes()), &profile);
    reader.headers().await.unwrap();
    // Reading into a recycled record, as the pipeline does: its old position must not leak.
    let mut record = Record::default();
    for _ in 0..30 {
        assert!(reader.read(&mut record).await.unwrap());
    }
    let mut recycled = record.clone();
    recycled.position.record = 1;
    let err = reader.read(&mut recycled).await.unwrap_err();
    let at = HEADER.len() as u64 + 1 + 30 * row.len() as u64;
    assert_eq!(
        err.to_string(),
        format!("reading the file failed at record 31 (line 32, byte {at})")
    );
}

#[tokio::test]
async fn a_quote_never_closed_marks_the_last_record_malformed_and_no_other() {
    let file = format!("{HEADER}\n1A,DL,\"x\ny\",2026-11-08,10:00:00,Z\n2B,DL,\"open,2026-11-08\n");
    let profile = Profile::builtin("reference").unwrap();
    let mut reader = RecordReader::new(file.as_bytes(), &profile);
    reader.headers().await.unwrap();
    let mut record = Record::default();
    assert!(reader.read(&mut record).await.unwrap());
    assert_eq!(record.malformed, None, "a closed multi-line field is fine");
    assert!(reader.read(&mut record).await.unwrap());
    let quote = file.rfind('"').unwrap();
    assert_eq!(
        record.malformed.as_deref(),
        Some(
            format!(
                "the quoted field opened at byte {quote} is never closed: the record runs to the end of the file"
            )
            .as_str()
        )
    );
    assert!(!reader.read(&mut record).await.unwrap());
}
