//! The bulk record splitter (`document::records::Splitter`) on any bytes, as a CIN census return
//! (`Message/Children/Child`): pieces and at most one refusal (after which it
//! gives nothing more), never a panic.
//!
//! How the input arrives must not matter: read whole, and read a few bytes at a time, the same pieces come
//! out with the same refusal (with the default limits and with tight ones). Each piece is the bytes of the
//! file at its offset, and its line and column are those of that offset; records are numbered from 0.
#![no_main]

use std::io::{BufRead, BufReader};

use caregate_engine::document::records::{Piece, PieceKind, Splitter, TextPosition};
use caregate_engine::document::Limits;
use caregate_engine::finding::Finding;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Chunks of 1 to 16 bytes, chosen by the input so that every size is tried.
    let chunk = 1 + data.iter().fold(0usize, |a, &b| a.wrapping_add(usize::from(b))) % 16;
    for limits in [Limits::default(), Limits { max_bytes: 700, max_depth: 6 }] {
        let whole = split(data, limits);
        let chunked = split(BufReader::with_capacity(chunk, data), limits);
        assert_eq!(
            format!("{whole:?}"),
            format!("{chunked:?}"),
            "read in chunks of {chunk} bytes, the return splits otherwise"
        );
        let (pieces, _) = whole;
        let mut records = 0;
        for piece in &pieces {
            let start = usize::try_from(piece.offset).expect("an offset within the input");
            assert_eq!(
                data.get(start..start + piece.bytes.len()),
                Some(&piece.bytes[..]),
                "a piece is not the file's bytes at its offset"
            );
            let mut position = TextPosition::default();
            position.advance(&data[..start]);
            assert_eq!(position.at(), (piece.line, piece.column), "a piece's line and column are not its offset's");
            if let PieceKind::Record(n) = piece.kind {
                assert_eq!(n, records, "records are numbered in order");
                records += 1;
            }
        }
    }
});

/// Every piece, and the refusal that ended the reading if one did.
fn split(input: impl BufRead, limits: Limits) -> (Vec<Piece>, Option<Finding>) {
    let path = ["Message", "Children", "Child"].map(String::from).to_vec();
    let mut splitter = Splitter::new(input, path, limits);
    let mut pieces = Vec::new();
    loop {
        match splitter.next_piece() {
            Ok(Some(piece)) => pieces.push(piece),
            Ok(None) => break (pieces, None),
            Err(refusal) => {
                assert!(matches!(splitter.next_piece(), Ok(None)), "the reading goes on after a refusal");
                break (pieces, Some(refusal));
            }
        }
    }
}
