//! Replays the fuzz corpus on stable Rust: every file in `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` (inputs that once crashed, kept after the fix) goes through the
//! function its fuzz target calls. Fuzzing itself needs nightly instrumentation and runs by hand
//! (fuzz/README.md); this keeps what it found fixed.

use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 2] = [
    ("parse_map", shared::fuzzing::parse_map),
    ("profile", shared::fuzzing::profile),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `dir` (none if it does not exist), sorted so failures name the same file.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        // Dotfiles (`.gitkeep`) keep empty directories in git; they are not inputs.
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_and_regression_input_runs_through_its_target() {
    for (name, target) in TARGETS {
        let corpus = inputs(&fuzz_dir().join("corpus").join(name));
        // An emptied or moved corpus would make this test pass vacuously.
        assert!(
            corpus.len() >= 5,
            "fuzz/corpus/{name} has {} inputs",
            corpus.len()
        );
        let regressions = inputs(&fuzz_dir().join("regressions").join(name));
        for file in corpus.iter().chain(&regressions) {
            let data = std::fs::read(file).unwrap();
            // A panic here names the input: run it under the fuzzer with that file to debug.
            eprintln!("{name}: {}", file.display());
            target(&data);
        }
    }
}
