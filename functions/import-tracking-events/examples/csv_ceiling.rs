//! Why this exists: it is the throughput ceiling for the import. No parser built on the `csv`
//! crate can beat "read every record and touch every field" on the same file and machine, so
//! `scripts/bench.sh` compares the real pipeline against this number.
//!
//! ```text
//! cargo run --release --example csv_ceiling -- FILE
//! ```
//!
//! Prints one JSON object to stdout: {"bytes":…,"records":…,"elapsed_ms":…,"mb_per_s":…}
//! (MB = 1,000,000 bytes; records exclude the header). A checksum goes to stderr so the work
//! cannot be optimised away.

use std::fs::File;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::args_os().nth(1) {
        Some(p) => p,
        None => {
            eprintln!("usage: csv_ceiling FILE");
            std::process::exit(2);
        }
    };

    let started = Instant::now();
    let file = File::open(&path)?;
    let bytes = file.metadata()?.len();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let mut record = csv::ByteRecord::new();
    let mut records = 0u64;
    let mut field_bytes = 0u64;
    let mut first_byte_xor = 0u8;
    while reader.read_byte_record(&mut record)? {
        records += 1;
        for field in record.iter() {
            field_bytes += field.len() as u64;
            first_byte_xor ^= field.first().copied().unwrap_or(0);
        }
    }
    let elapsed = started.elapsed();

    let secs = elapsed.as_secs_f64();
    let mb_per_s = if secs > 0.0 {
        bytes as f64 / 1e6 / secs
    } else {
        0.0
    };
    eprintln!("csv_ceiling: checksum field_bytes={field_bytes} first_byte_xor={first_byte_xor}");
    println!(
        "{{\"bytes\":{bytes},\"records\":{records},\"elapsed_ms\":{:.3},\"mb_per_s\":{mb_per_s:.1}}}",
        secs * 1e3
    );
    Ok(())
}
