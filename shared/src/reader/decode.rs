//! Field text in a legacy encoding, decoded to UTF-8 with encoding_rs.
//!
//! Only field text is decoded, record by record as the file streams: the supported encodings are
//! ASCII-compatible, so the readers find delimiters, quotes and line ends on the file's own bytes
//! and report positions as offsets in the file as it is, not in a decoded copy.

use encoding_rs::{CoderResult, Encoding};

/// Appends `bytes`, decoded from `encoding`, to `out`. `false` when some bytes have no meaning in
/// the encoding (they become U+FFFD).
pub(super) fn decode_into(encoding: &'static Encoding, bytes: &[u8], out: &mut String) -> bool {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut clean = true;
    let mut rest = bytes;
    loop {
        let room = decoder
            .max_utf8_buffer_length(rest.len())
            .unwrap_or(rest.len() * 3 + 16);
        out.reserve(room);
        let (result, read, had_errors) = decoder.decode_to_string(rest, out, true);
        clean &= !had_errors;
        rest = &rest[read..];
        if result == CoderResult::InputEmpty {
            return clean;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_bytes_become_utf8() {
        let mut out = String::from("x");
        // "Montréal", "São Paulo", "€" and a curly quote as single bytes.
        assert!(decode_into(
            encoding_rs::WINDOWS_1252,
            b"Montr\xe9al S\xe3o Paulo \x80 \x93q\x94",
            &mut out
        ));
        assert_eq!(out, "xMontréal São Paulo € \u{201c}q\u{201d}");
    }
}
