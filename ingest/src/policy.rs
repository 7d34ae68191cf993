//! The platform's technical rules for uploaded media (the centre's
//! technical review: codec, resolution, file size, duration ...), as data.
//!
//! A [`Policy`] is read from TOML. Unknown keys are an error (a typo must
//! not silently disable a rule); keys a file leaves out keep the value of
//! [`Policy::lecture_default`], so a site policy only states what it
//! changes. The default is shipped as `ingest/policies/lecture-default.toml`.
//!
//! Resolution limits apply to the *displayed* picture (after the sample
//! aspect ratio and rotation) normalised to landscape: the long edge and
//! the short edge. A portrait phone clip (720x1280 on screen) is judged
//! exactly like its landscape twin (1280x720).

use std::path::Path;

use serde::{Deserialize, Serialize};
pub use yanxiu_transcode::qc::QcThresholds;

/// The shipped default policy file, embedded.
pub const LECTURE_DEFAULT_TOML: &str = include_str!("../policies/lecture-default.toml");

/// Why a policy cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("cannot read policy file {path}: {source}")]
    Read {
        /// The policy file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The text is not valid policy TOML (syntax, unknown key, wrong type).
    #[error("{origin} is not a valid policy: {source}")]
    Parse {
        /// The policy file, or `"policy text"`.
        origin: String,
        /// What the TOML reader found wrong.
        source: toml::de::Error,
    },
    /// The values contradict each other (e.g. a minimum above its maximum).
    #[error("{origin} is inconsistent: {reason}")]
    Inconsistent {
        /// The policy file, or `"policy text"`.
        origin: String,
        /// Which values contradict each other.
        reason: String,
    },
}

/// Validation rules for uploaded media.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Name of the policy, shown in reports (e.g. `"lecture-default"`).
    pub name: String,
    /// Which containers are accepted.
    pub container: ContainerRules,
    /// Limits on the file as a whole.
    pub file: FileRules,
    /// Limits on the running time.
    pub duration: DurationRules,
    /// Rules for the primary video stream.
    pub video: VideoRules,
    /// Rules for the primary audio stream.
    pub audio: AudioRules,
    /// Thresholds of the technical QC (black, freeze, silence, loudness,
    /// clipping, sync, picture quality), lecture-aware.
    pub qc: QcThresholds,
}

/// Which containers are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainerRules {
    /// Accepted container families (see [`crate::classify::container_family`]):
    /// `mp4` (also MOV/M4A/3GP), `webm`, `matroska`, `mpegts`, `flv`, `avi`,
    /// the sound files `mp3`, `flac`, `wav`, `ogg`, `aac` (ADTS), or
    /// `other:<libav demuxer name>`. Empty accepts none.
    pub allowed_families: Vec<String>,
}

/// Limits on the file as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileRules {
    /// Largest accepted file, in bytes.
    pub max_size_bytes: u64,
    /// Highest accepted overall bit rate, in bits per second (the
    /// container's figure, else size × 8 / duration).
    pub max_bit_rate: u64,
}

/// Limits on the running time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DurationRules {
    /// Shortest accepted duration, in seconds.
    pub min_seconds: f64,
    /// Longest accepted duration, in seconds.
    pub max_seconds: f64,
}

/// Rules for the primary video stream (the first video stream that is not
/// cover art).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoRules {
    /// Whether a file without video is rejected (`video.missing`). The
    /// workers of `serve` decide it per resource instead, by the control
    /// plane's `[control.audio_only]` rule (type 音频, allowed categories).
    pub required: bool,
    /// Accepted libav codec names (`h264`, `hevc`, `vp9` ...). A name ending
    /// in `*` is a prefix pattern. Empty accepts none.
    pub allowed_codecs: Vec<String>,
    /// Smallest accepted long edge of the displayed picture, in pixels.
    pub min_long_edge: u32,
    /// Smallest accepted short edge of the displayed picture, in pixels.
    pub min_short_edge: u32,
    /// Largest accepted long edge of the displayed picture, in pixels.
    pub max_long_edge: u32,
    /// Largest accepted short edge of the displayed picture, in pixels.
    pub max_short_edge: u32,
    /// Lowest accepted frame rate (average, else real base rate), frames/s.
    /// Not checked when the stream states no frame rate.
    pub min_frame_rate: f64,
    /// Highest accepted frame rate, frames/s.
    pub max_frame_rate: f64,
    /// Whether HDR (PQ or HLG) pictures are accepted (`video.hdr_not_allowed`);
    /// accepted ones are tone-mapped to SDR BT.709 by the transcoder.
    pub hdr_allowed: bool,
    /// Whether interlaced pictures (flagged, or combed in the first
    /// pictures) are accepted (`video.interlaced_not_allowed`); accepted
    /// ones are deinterlaced by the transcoder.
    pub interlaced_allowed: bool,
}

/// Rules for the primary audio stream (the first audio stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioRules {
    /// Whether a file without audio is rejected (`audio.missing`).
    pub required: bool,
    /// Accepted libav codec names (`aac`, `mp3`, `opus` ...). A name ending
    /// in `*` is a prefix pattern (`pcm_*`). Empty accepts none.
    pub allowed_codecs: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Policy {
    /// The default policy for lecture video: everything a lecture producer
    /// reasonably uploads. MP4/MOV, Matroska/WebM, MPEG-TS, FLV, AVI, and
    /// MP3/FLAC/WAV/Ogg/AAC sound files;
    /// H.264, HEVC, VP9, VP8, AV1, MPEG-2, MPEG-4 Part 2 video; AAC, MP3,
    /// Opus, Vorbis, AC-3, MP2, FLAC, PCM audio; 320x180 up to 4096x2304
    /// (long x short edge); at most 4 GiB; 1 s to 4 h; 10 to 60 frames/s;
    /// audio and video required; at most 60 Mbit/s overall; HDR and
    /// interlaced pictures accepted (tone-mapped and deinterlaced).
    pub fn lecture_default() -> Policy {
        Policy {
            name: "lecture-default".to_owned(),
            container: ContainerRules::default(),
            file: FileRules::default(),
            duration: DurationRules::default(),
            video: VideoRules::default(),
            audio: AudioRules::default(),
            qc: QcThresholds::default(),
        }
    }

    /// Reads a policy from TOML text; omitted keys keep the default's value.
    pub fn from_toml_str(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, "policy text")
    }

    fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(text).map_err(|source| PolicyError::Parse {
            origin: origin.to_owned(),
            source,
        })?;
        policy.check().map_err(|reason| PolicyError::Inconsistent {
            origin: origin.to_owned(),
            reason,
        })?;
        Ok(policy)
    }

    /// Reads a policy from a TOML file; omitted keys keep the default's value.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::parse(&text, &format!("policy file {}", path.display()))
    }

    /// Checks that the values make sense together: every minimum at most
    /// its maximum, durations and frame rates finite and not negative, and
    /// the QC thresholds consistent.
    /// The error says which values contradict each other.
    pub fn check(&self) -> Result<(), String> {
        let bad = |what: String| Err(what);
        let d = &self.duration;
        let v = &self.video;
        for (name, value) in [
            ("duration.min_seconds", d.min_seconds),
            ("duration.max_seconds", d.max_seconds),
            ("video.min_frame_rate", v.min_frame_rate),
            ("video.max_frame_rate", v.max_frame_rate),
        ] {
            if !value.is_finite() || value < 0.0 {
                return bad(format!("{name} must be a finite number >= 0, not {value}"));
            }
        }
        if d.min_seconds > d.max_seconds {
            return bad(format!(
                "duration.min_seconds ({}) is above duration.max_seconds ({})",
                d.min_seconds, d.max_seconds
            ));
        }
        if v.min_frame_rate > v.max_frame_rate {
            return bad(format!(
                "video.min_frame_rate ({}) is above video.max_frame_rate ({})",
                v.min_frame_rate, v.max_frame_rate
            ));
        }
        if v.min_long_edge > v.max_long_edge || v.min_short_edge > v.max_short_edge {
            return bad(format!(
                "video minimum size {}x{} is above the maximum {}x{}",
                v.min_long_edge, v.min_short_edge, v.max_long_edge, v.max_short_edge
            ));
        }
        if v.min_short_edge > v.min_long_edge || v.max_short_edge > v.max_long_edge {
            return bad("a short edge limit is above its long edge limit".to_owned());
        }
        self.qc.check()
    }

    /// The policy as TOML text (round-trips through [`Policy::from_toml_str`]).
    pub fn to_toml_string(&self) -> String {
        // Serialising plain strings, numbers, booleans and arrays cannot fail.
        toml::to_string(self).unwrap_or_default()
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::lecture_default()
    }
}

impl Default for ContainerRules {
    fn default() -> ContainerRules {
        ContainerRules {
            allowed_families: strings(&[
                "mp4", "matroska", "webm", "mpegts", "flv", "avi", "mp3", "flac", "wav", "ogg",
                "aac",
            ]),
        }
    }
}

impl Default for FileRules {
    fn default() -> FileRules {
        FileRules {
            max_size_bytes: 4 * 1024 * 1024 * 1024,
            max_bit_rate: 60_000_000,
        }
    }
}

impl Default for DurationRules {
    fn default() -> DurationRules {
        DurationRules {
            min_seconds: 1.0,
            max_seconds: 4.0 * 3600.0,
        }
    }
}

impl Default for VideoRules {
    fn default() -> VideoRules {
        VideoRules {
            required: true,
            allowed_codecs: strings(&["h264", "hevc", "vp9", "vp8", "av1", "mpeg2video", "mpeg4"]),
            min_long_edge: 320,
            min_short_edge: 180,
            max_long_edge: 4096,
            max_short_edge: 2304,
            min_frame_rate: 10.0,
            max_frame_rate: 60.0,
            hdr_allowed: true,
            interlaced_allowed: true,
        }
    }
}

impl Default for AudioRules {
    fn default() -> AudioRules {
        AudioRules {
            required: true,
            allowed_codecs: strings(&[
                "aac", "mp3", "opus", "vorbis", "ac3", "mp2", "flac", "pcm_*",
            ]),
        }
    }
}

/// Whether `codec` matches one of `patterns` (exact name, or prefix when
/// the pattern ends in `*`), ignoring ASCII case.
pub fn codec_allowed(codec: &str, patterns: &[String]) -> bool {
    let codec = codec.to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        match p.strip_suffix('*') {
            Some(prefix) => codec.starts_with(prefix),
            None => codec == p,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_policy_file_equals_the_built_in_default() {
        let shipped = Policy::from_toml_str(LECTURE_DEFAULT_TOML).expect("shipped policy parses");
        assert_eq!(shipped, Policy::lecture_default());
    }

    #[test]
    fn shipped_default_policy_file_states_every_key_explicitly() {
        // Omitted keys would fall back to the default and still compare equal,
        // so check the keys themselves: the file documents every rule.
        let shipped: toml::Value = toml::from_str(LECTURE_DEFAULT_TOML).expect("toml");
        let built_in: toml::Value =
            toml::from_str(&Policy::lecture_default().to_toml_string()).expect("toml");
        fn keys(v: &toml::Value, prefix: &str, out: &mut Vec<String>) {
            if let toml::Value::Table(t) = v {
                for (k, child) in t {
                    let path = format!("{prefix}{k}");
                    keys(child, &format!("{path}."), out);
                    out.push(path);
                }
            }
        }
        let (mut a, mut b) = (vec![], vec![]);
        keys(&shipped, "", &mut a);
        keys(&built_in, "", &mut b);
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn default_policy_round_trips_through_toml() {
        let text = Policy::lecture_default().to_toml_string();
        assert_eq!(
            Policy::from_toml_str(&text).expect("parse"),
            Policy::lecture_default()
        );
    }

    #[test]
    fn omitted_keys_keep_the_default_values() {
        let policy = Policy::from_toml_str(
            "name = \"720p\"\n[video]\nmax_long_edge = 1280\nmax_short_edge = 720\n",
        )
        .expect("parse");
        assert_eq!(policy.name, "720p");
        assert_eq!(policy.video.max_long_edge, 1280);
        assert_eq!(policy.video.max_short_edge, 720);
        assert_eq!(
            policy.video.allowed_codecs,
            VideoRules::default().allowed_codecs
        );
        assert_eq!(policy.audio, AudioRules::default());
        assert_eq!(policy.file, FileRules::default());
    }

    #[test]
    fn unknown_keys_are_rejected_so_typos_do_not_disable_rules() {
        let err = Policy::from_toml_str("[video]\nmax_long_egde = 1280\n").expect_err("typo");
        assert!(matches!(err, PolicyError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("max_long_egde"), "{err}");
        let err = Policy::from_toml_str("[colour]\nx = 1\n").expect_err("unknown table");
        assert!(matches!(err, PolicyError::Parse { .. }));
    }

    #[test]
    fn wrong_types_are_rejected() {
        let err = Policy::from_toml_str("[video]\nrequired = \"yes\"\n").expect_err("type");
        assert!(matches!(err, PolicyError::Parse { .. }));
    }

    #[test]
    fn contradictory_limits_are_rejected() {
        for text in [
            "[duration]\nmin_seconds = 10.0\nmax_seconds = 5.0\n",
            "[video]\nmin_frame_rate = 30.0\nmax_frame_rate = 25.0\n",
            "[video]\nmin_long_edge = 5000\n",
            "[video]\nmax_short_edge = 5000\n",
            "[duration]\nmin_seconds = -1.0\n",
            "[video]\nmax_frame_rate = nan\n",
        ] {
            let err = Policy::from_toml_str(text).expect_err(text);
            assert!(
                matches!(err, PolicyError::Inconsistent { .. }),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn the_qc_table_takes_its_own_keys_and_refuses_nonsense() {
        let policy = Policy::from_toml_str("[qc]\nsilence_min_seconds = 3.0\n").expect("parse");
        assert_eq!(policy.qc.silence_min_seconds, 3.0);
        assert_eq!(
            policy.qc.freeze_min_seconds,
            QcThresholds::default().freeze_min_seconds
        );
        let err = Policy::from_toml_str("[qc]\nsilence_warning_seconds = 99.0\n")
            .expect_err("inconsistent");
        assert!(matches!(err, PolicyError::Inconsistent { .. }), "{err}");
        assert!(
            err.to_string().contains("qc.silence_warning_seconds"),
            "{err}"
        );
        assert!(Policy::from_toml_str("[qc]\nsilense_min_seconds = 3.0\n").is_err());
    }

    #[test]
    fn missing_policy_file_is_a_read_error_naming_the_path() {
        let err = Policy::from_file(Path::new("/nonexistent/policy.toml")).expect_err("missing");
        assert!(matches!(err, PolicyError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/policy.toml"));
    }

    #[test]
    fn codec_patterns_match_exact_names_and_star_prefixes() {
        let patterns = strings(&["h264", "pcm_*"]);
        assert!(codec_allowed("h264", &patterns));
        assert!(codec_allowed("H264", &patterns));
        assert!(codec_allowed("pcm_s16le", &patterns));
        assert!(!codec_allowed("h2644", &patterns));
        assert!(!codec_allowed("hevc", &patterns));
        assert!(!codec_allowed("pcm", &patterns));
        assert!(!codec_allowed("h264", &[]));
    }
}
