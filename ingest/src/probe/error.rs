//! Why a file could not be probed. Every variant means "exit 2": the file
//! is not something the platform can read at all, as opposed to a readable
//! file that breaks the policy (see [`crate::validate`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::messages::{self, Lang};

/// Why probing a file failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No file at that path.
    #[error("file not found: {}", path.display())]
    NotFound {
        /// The path that was asked for.
        path: PathBuf,
    },
    /// The file is zero bytes long.
    #[error("the file is empty (0 bytes)")]
    Empty,
    /// libav recognises no audio/video container in the content (the file
    /// name is never trusted), or the content is a still image.
    #[error("not a recognisable audio or video file{}", detected_suffix(.detected_as))]
    NotMedia {
        /// What libav took the content for, when it is a non-media format
        /// such as a still image (`"png_pipe"`).
        detected_as: Option<String>,
    },
    /// The container was recognised but the file is damaged, truncated,
    /// empty of streams or declares a picture too large to decode safely.
    #[error("the file is damaged or unreadable: {reason}")]
    Unreadable {
        /// What exactly is wrong.
        reason: UnreadableReason,
    },
    /// Probing did not finish within [`super::ProbeLimits::deadline`].
    #[error("probing did not finish within {:.1} s", after.as_secs_f64())]
    Timeout {
        /// The deadline that passed.
        after: Duration,
    },
    /// The operating system refused to read the file.
    #[error("I/O error while reading the file: {source}")]
    Io {
        /// The underlying error.
        #[from]
        source: std::io::Error,
    },
}

fn detected_suffix(detected_as: &Option<String>) -> String {
    detected_as
        .as_ref()
        .map(|d| format!(" (content is {d})"))
        .unwrap_or_default()
}

impl ProbeError {
    /// Stable machine-readable code, e.g. `"probe.not_media"`.
    pub fn code(&self) -> &'static str {
        match self {
            ProbeError::NotFound { .. } => "probe.not_found",
            ProbeError::Empty => "probe.empty",
            ProbeError::NotMedia { .. } => "probe.not_media",
            ProbeError::Unreadable { .. } => "probe.unreadable",
            ProbeError::Timeout { .. } => "probe.timeout",
            ProbeError::Io { .. } => "probe.io",
        }
    }

    /// The message for people, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        messages::probe_error_message(self, lang)
    }
}

/// What is wrong with a file whose container libav recognised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnreadableReason {
    /// The path names a directory, device or pipe.
    #[error("not a regular file")]
    NotARegularFile,
    /// The demuxer failed while reading the container headers.
    #[error("the {format} demuxer could not read the headers ({libav})")]
    HeadersUnreadable {
        /// libav demuxer name.
        format: String,
        /// libav's error text.
        libav: String,
    },
    /// Reading the first packets to learn the stream parameters failed.
    #[error("the stream parameters could not be read ({libav})")]
    StreamInfoUnreadable {
        /// libav's error text.
        libav: String,
    },
    /// The container holds no streams at all.
    #[error("the container holds no streams")]
    NoStreams,
    /// A stream declares a picture larger than the prober will decode.
    #[error(
        "stream {stream} declares a {width}x{height} picture, beyond the safety limit \
         ({max_edge} pixels per edge, {max_pixels} pixels per picture)"
    )]
    PictureTooLarge {
        /// Stream index.
        stream: usize,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The edge limit.
        max_edge: u32,
        /// The area limit.
        max_pixels: u64,
    },
    /// The container's index points past the end of the file: the upload
    /// was cut short.
    #[error("the file is truncated: it has {size_bytes} bytes but its index needs {needed_bytes}")]
    Truncated {
        /// Actual file size.
        size_bytes: u64,
        /// Bytes the index refers to.
        needed_bytes: u64,
    },
}
