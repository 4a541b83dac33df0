//! Replays the fuzz corpus on stable Rust: every file in `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` (inputs that once crashed, kept after the fix) goes through the
//! function its fuzz target calls. Fuzzing itself needs nightly instrumentation and runs by hand
//! (fuzz/README.md); this keeps what it found fixed.

use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 3] = [
    ("parse_map", shared::fuzzing::parse_map),
    ("profile", shared::fuzzing::profile),
    ("edi", shared::fuzzing::edi),
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

/// Every example profile with its sample file, as the `profile` target's input (TOML, NUL, file):
/// the encodings, headerless and fixed-width layouts the corpus seeds lack. A profile that maps
/// `event_datetime` alone must pass the target's checks too.
#[test]
fn every_example_profile_and_its_sample_run_through_the_profile_target() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/examples");
    let profiles: Vec<PathBuf> = inputs(&dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert!(profiles.len() >= 7, "{} example profiles", profiles.len());
    for profile in profiles {
        let stem = profile.file_stem().unwrap().to_owned();
        let sample = inputs(&dir)
            .into_iter()
            .find(|p| p.file_stem() == Some(&stem) && p.extension().is_some_and(|e| e != "toml"))
            .unwrap_or_else(|| panic!("{} has no sample file", profile.display()));
        let mut data = std::fs::read(&profile).unwrap();
        data.push(0);
        data.extend(std::fs::read(&sample).unwrap());
        eprintln!("profile: {}", profile.display());
        shared::fuzzing::profile(&data);
    }
    // A valid datetime-only profile is not a crash.
    let datetime_only = concat!(
        "name = \"dt\"\ncarrier_name = \"DT\"\nformat = \"csv\"\n[columns]\ntracking_number = \"tn\"\n",
        "carrier_status_code = \"code\"\nevent_datetime = \"at\"\nutc_offset = \"tz\"\n",
        "[datetime]\ndatetime_format = \"%Y-%m-%dT%H:%M:%S\"\n",
        "[status_map]\nDL = [\"DE\", \"DELIVERED\"]\n"
    );
    let loaded = shared::Profile::from_toml(datetime_only, "dt.toml");
    assert!(
        loaded.is_ok(),
        "{:?}",
        loaded.err().map(|e| shared::report(&e))
    );
    shared::fuzzing::profile(datetime_only.as_bytes());
}
