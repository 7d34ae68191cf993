//! Fuzz smoke test, run by every `cargo test`: the committed seeds reach
//! what they were captured for, every target takes every seed of every
//! corpus, a deterministic mutation loop finds no panic, and each libFuzzer
//! bin (uninstrumented on stable) runs its corpus and exits 0.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use yanxiu_fuzz::known_bugs::KNOWN_PANICS;
use yanxiu_fuzz::mutate::{XorShift, mutate};
use yanxiu_fuzz::rtmp::{drive_server_session, drive_server_session_after_handshake};
use yanxiu_fuzz::{TARGETS, Target};

/// Mutated inputs per target. The RTMP targets cost the most per input;
/// the whole test stays well under 20 s in a debug build.
/// Largest mutated input (libFuzzer's default limit for small corpora).
const MAX_LEN: usize = 16 * 1024;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

/// The seeds of a target's corpus, sorted by name; fails if there are none.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("seed reads");
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, bytes)
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "corpus {} is empty", dir.display());
    seeds
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    seeds(target)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("seed {target}/{name} is missing"))
        .1
}

#[test]
fn captured_publish_streams_reach_publish_metadata_and_both_sequence_headers() {
    for publisher in ["ffmpeg", "gstreamer"] {
        let name = format!("{publisher}-publish");
        for report in [
            drive_server_session(&seed("rtmp_server_session", &name)),
            drive_server_session_after_handshake(&seed(
                "rtmp_server_session_after_handshake",
                &name,
            )),
        ] {
            assert!(report.session_started, "{publisher}: {report:?}");
            assert_eq!(report.connects, 1, "{publisher}: {report:?}");
            assert!(report.published, "{publisher}: {report:?}");
            assert!(report.metadata >= 1, "{publisher}: {report:?}");
            assert_eq!(report.video_configs, 1, "{publisher}: {report:?}");
            assert_eq!(report.audio_configs, 1, "{publisher}: {report:?}");
            assert!(report.video_frames >= 3, "{publisher}: {report:?}");
            assert!(report.audio_frames >= 3, "{publisher}: {report:?}");
            if publisher == "ffmpeg" {
                // ffmpeg ends with deleteStream on the publishing stream: the publish is over.
                assert!(report.ended, "{publisher}: {report:?}");
            }
        }
    }
}

#[test]
fn every_target_takes_every_seed_of_every_corpus() {
    for source in TARGETS {
        for (_, bytes) in seeds(source.name) {
            for target in TARGETS {
                (target.run)(&bytes);
            }
        }
    }
}

#[test]
fn mutated_seeds_never_panic_a_target() {
    let started = Instant::now();
    for (index, target) in TARGETS.into_iter().enumerate() {
        let Target {
            name,
            run,
            smoke_mutations,
        } = target;
        let seeds = seeds(name);
        let mut rng = XorShift::new(0x5EED_0000 + index as u64);
        let mut input = Vec::new();
        for round in 0..smoke_mutations {
            // Mostly fresh mutations of a seed, sometimes stacked on the last input.
            if round % 4 != 3 || input.is_empty() {
                input = seeds[rng.below(seeds.len())].1.clone();
            }
            let other = &seeds[rng.below(seeds.len())].1;
            input = mutate(&mut rng, &input, other, MAX_LEN);
            if std::panic::catch_unwind(|| run(&input)).is_err() {
                let path = std::env::temp_dir().join(format!("yanxiu-fuzz-crash-{name}-{round}"));
                std::fs::write(&path, &input).expect("crash input written");
                panic!(
                    "{name} panicked on mutation {round}; input saved to {}",
                    path.display()
                );
            }
        }
    }
    eprintln!("mutations of every target in {:?}", started.elapsed());
}

#[test]
fn known_rml_rtmp_panics_still_happen_and_end_only_the_connection() {
    // When this fails, rml_rtmp no longer panics on the input: remove the
    // entry from `known_bugs::KNOWN_PANICS` and keep the input as a seed.
    for known in KNOWN_PANICS {
        let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
        let with_handshake = regressions.join("rtmp_server_session").join(known.name);
        let after_handshake = regressions
            .join("rtmp_server_session_after_handshake")
            .join(known.name);
        let report = if with_handshake.exists() {
            drive_server_session(&std::fs::read(&with_handshake).expect("regression reads"))
        } else {
            let input = std::fs::read(&after_handshake).unwrap_or_else(|e| {
                panic!("regression {} is missing: {e}", after_handshake.display())
            });
            drive_server_session_after_handshake(&input)
        };
        assert_eq!(report.known_panic, Some(known), "{report:?}");
        assert!(report.ended, "{report:?}");
    }
}

/// Path of a libFuzzer bin of this package, built by cargo for this test.
fn bin(target: &str) -> &'static str {
    match target {
        "flv_video_tag" => env!("CARGO_BIN_EXE_flv_video_tag"),
        "flv_audio_tag" => env!("CARGO_BIN_EXE_flv_audio_tag"),
        "amf0" => env!("CARGO_BIN_EXE_amf0"),
        "rtmp_server_session" => env!("CARGO_BIN_EXE_rtmp_server_session"),
        "rtmp_server_session_after_handshake" => {
            env!("CARGO_BIN_EXE_rtmp_server_session_after_handshake")
        }
        "whip_offer" => env!("CARGO_BIN_EXE_whip_offer"),
        "webrtc_video_frame" => env!("CARGO_BIN_EXE_webrtc_video_frame"),
        "whep_offer" => env!("CARGO_BIN_EXE_whep_offer"),
        other => panic!("no libFuzzer bin for {other}"),
    }
}

#[test]
fn libfuzzer_bins_run_their_corpus_and_exit_cleanly() {
    for target in TARGETS {
        // libFuzzer writes new inputs into the corpus directory: use a copy.
        let work = tempfile::tempdir().expect("temp dir");
        let corpus = work.path().join("corpus");
        std::fs::create_dir(&corpus).expect("corpus copy");
        for (name, bytes) in seeds(target.name) {
            std::fs::write(corpus.join(name), bytes).expect("seed copy");
        }
        let output = Command::new(bin(target.name))
            .arg("-runs=2000")
            .arg("-seed=1")
            .arg(format!("-artifact_prefix={}/", work.path().display()))
            .arg(&corpus)
            .output()
            .expect("the libFuzzer bin starts");
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{} exited with {}:\n{log}",
            target.name,
            output.status
        );
        assert!(
            log.contains("Done 2000 runs"),
            "{}: libFuzzer did not finish its runs:\n{log}",
            target.name
        );
    }
}
