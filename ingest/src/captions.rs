//! Caption files a producer attaches to a resource, pure: a WebVTT or SubRip
//! (`.srt`) text is read, checked (encoding, cue timing, size, against the
//! media's duration) and normalised to one WebVTT form that the packager
//! serves as an HLS subtitles rendition. Every refusal has a stable code, the
//! line it was found on and a zh-CN and an English message.
//!
//! Normalising means: UTF-8 without a byte order mark, `\n` line ends, the
//! `WEBVTT` header alone, cues sorted by start time with `HH:MM:SS.mmm`
//! timestamps, empty cues, `NOTE`, `STYLE` and `REGION` blocks dropped (the
//! player styles captions), cue identifiers and cue settings kept from
//! WebVTT, and SubRip's markup carried over where WebVTT has it (`<b>`,
//! `<i>`, `<u>`) and dropped where it has not (`<font>`, `{\an8}`), with the
//! text escaped as WebVTT requires. A cue running past the end of the media
//! is cut at the end; a cue starting after it is refused.

use crate::messages::Lang;

/// What a caption file may be: the bounds of one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptionLimits {
    /// Largest file accepted, in bytes.
    pub max_bytes: usize,
    /// Most cues in one file.
    pub max_cues: usize,
    /// Most characters of text in one cue.
    pub max_cue_chars: usize,
}

impl Default for CaptionLimits {
    /// 2 MiB, 20,000 cues (a three-hour lecture with a cue every 0.6 s),
    /// 1,000 characters per cue.
    fn default() -> Self {
        CaptionLimits {
            max_bytes: 2 * 1024 * 1024,
            max_cues: 20_000,
            max_cue_chars: 1_000,
        }
    }
}

/// The format a caption file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptionFormat {
    /// WebVTT (starts with `WEBVTT`).
    WebVtt,
    /// SubRip (`.srt`): numbered cues, `HH:MM:SS,mmm` timestamps.
    SubRip,
}

impl CaptionFormat {
    /// The format's short name, as reported to the uploader.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptionFormat::WebVtt => "webvtt",
            CaptionFormat::SubRip => "srt",
        }
    }
}

/// One caption cue, times in milliseconds from the start of the media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    /// The cue identifier (WebVTT only; SubRip's sequence numbers are not kept).
    pub id: Option<String>,
    /// Start, in ms.
    pub start_ms: u64,
    /// End, in ms (after the start).
    pub end_ms: u64,
    /// WebVTT cue settings (`line:0 align:start`…), as written.
    pub settings: Option<String>,
    /// The cue text in WebVTT markup, lines joined by `\n`.
    pub text: String,
}

/// A checked, normalised caption track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captions {
    /// The format the file was written in.
    pub source_format: CaptionFormat,
    /// The cues, sorted by start time.
    pub cues: Vec<Cue>,
}

/// Why a caption file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptionError {
    /// The file is larger than the limit.
    #[error("The caption file is {bytes} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The file is not UTF-8 text.
    #[error("The caption file is not UTF-8 (line {line}); save it as UTF-8 and upload it again")]
    NotUtf8 {
        /// The line of the first invalid byte.
        line: usize,
    },
    /// The file holds no cue with text.
    #[error("The caption file holds no caption")]
    Empty,
    /// A block is neither a cue nor a note, style or region block.
    #[error("Line {line}: not a caption (no timing line, or no blank line between captions)")]
    BadBlock {
        /// Where the block starts.
        line: usize,
    },
    /// A timing line that cannot be read.
    #[error("Line {line}: unreadable timing, expected 00:01:02.500 --> 00:01:04.000")]
    BadTiming {
        /// The timing line.
        line: usize,
    },
    /// A cue that does not end after it starts.
    #[error("Line {line}: the caption does not end after it starts")]
    EndBeforeStart {
        /// The timing line.
        line: usize,
    },
    /// A cue that starts after the media ends.
    #[error(
        "Line {line}: the caption starts at {}, after the media ends at {}",
        timestamp(*.start_ms),
        timestamp(*.duration_ms)
    )]
    AfterMediaEnd {
        /// The timing line.
        line: usize,
        /// The cue's start.
        start_ms: u64,
        /// The media's duration.
        duration_ms: u64,
    },
    /// More cues than the limit.
    #[error("More than {limit} captions")]
    TooManyCues {
        /// The limit.
        limit: usize,
    },
    /// A cue with more text than the limit.
    #[error("Line {line}: caption text longer than {limit} characters")]
    CueTooLong {
        /// The timing line of the cue.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// A language tag that is not a BCP 47 tag of the simple form.
    #[error("\"{tag}\" is not a language tag such as zh-CN or en")]
    BadLanguage {
        /// What was given.
        tag: String,
    },
}

impl CaptionError {
    /// The stable code, e.g. `captions.bad_timing`.
    pub fn code(&self) -> &'static str {
        match self {
            CaptionError::TooLarge { .. } => "captions.too_large",
            CaptionError::NotUtf8 { .. } => "captions.not_utf8",
            CaptionError::Empty => "captions.empty",
            CaptionError::BadBlock { .. } => "captions.bad_block",
            CaptionError::BadTiming { .. } => "captions.bad_timing",
            CaptionError::EndBeforeStart { .. } => "captions.end_before_start",
            CaptionError::AfterMediaEnd { .. } => "captions.after_media_end",
            CaptionError::TooManyCues { .. } => "captions.too_many_cues",
            CaptionError::CueTooLong { .. } => "captions.cue_too_long",
            CaptionError::BadLanguage { .. } => "captions.bad_language",
        }
    }

    /// The line of the file the refusal points at, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            CaptionError::NotUtf8 { line }
            | CaptionError::BadBlock { line }
            | CaptionError::BadTiming { line }
            | CaptionError::EndBeforeStart { line }
            | CaptionError::AfterMediaEnd { line, .. }
            | CaptionError::CueTooLong { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// What is wrong, for the uploader, in `lang` (the English text is the
    /// error's `Display`).
    pub fn message(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        match self {
            CaptionError::TooLarge { bytes, limit } => {
                format!("字幕文件 {bytes} 字节，超过上限 {limit} 字节")
            }
            CaptionError::NotUtf8 { line } => {
                format!("字幕文件不是 UTF-8 编码（第 {line} 行），请另存为 UTF-8 后重新上传")
            }
            CaptionError::Empty => "字幕文件中没有任何字幕条目".to_owned(),
            CaptionError::BadBlock { line } => {
                format!("第 {line} 行：不是有效的字幕条目（缺少时间行，或条目之间缺少空行）")
            }
            CaptionError::BadTiming { line } => {
                format!("第 {line} 行：无法识别的时间，应为 00:01:02.500 --> 00:01:04.000")
            }
            CaptionError::EndBeforeStart { line } => {
                format!("第 {line} 行：字幕的结束时间不晚于开始时间")
            }
            CaptionError::AfterMediaEnd {
                line,
                start_ms,
                duration_ms,
            } => format!(
                "第 {line} 行：字幕开始于 {}，晚于视频结束时间 {}",
                timestamp(*start_ms),
                timestamp(*duration_ms)
            ),
            CaptionError::TooManyCues { limit } => format!("字幕条目超过上限 {limit} 条"),
            CaptionError::CueTooLong { line, limit } => {
                format!("第 {line} 行：字幕文字超过 {limit} 个字符")
            }
            CaptionError::BadLanguage { tag } => {
                format!("“{tag}”不是有效的语言代码，例如 zh-CN、en")
            }
        }
    }
}

/// Reads, checks and normalises a caption file. `media_duration_ms`, when
/// known, refuses cues that start after the media and cuts those that run
/// past it.
pub fn parse_captions(
    bytes: &[u8],
    media_duration_ms: Option<u64>,
    limits: &CaptionLimits,
) -> Result<Captions, CaptionError> {
    if bytes.len() > limits.max_bytes {
        return Err(CaptionError::TooLarge {
            bytes: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| CaptionError::NotUtf8 {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let format = if is_webvtt_header(text.lines().next().unwrap_or("")) {
        CaptionFormat::WebVtt
    } else {
        CaptionFormat::SubRip
    };

    let mut cues = Vec::new();
    for (index, block) in blocks(&text).into_iter().enumerate() {
        if format == CaptionFormat::WebVtt && index == 0 {
            continue; // the header block
        }
        let Some(cue) = read_block(format, &block, limits)? else {
            continue;
        };
        let (line, mut cue) = cue;
        if let Some(duration_ms) = media_duration_ms {
            if cue.start_ms >= duration_ms {
                return Err(CaptionError::AfterMediaEnd {
                    line,
                    start_ms: cue.start_ms,
                    duration_ms,
                });
            }
            cue.end_ms = cue.end_ms.min(duration_ms);
        }
        if cues.len() == limits.max_cues {
            return Err(CaptionError::TooManyCues {
                limit: limits.max_cues,
            });
        }
        cues.push(cue);
    }
    if cues.is_empty() {
        return Err(CaptionError::Empty);
    }
    cues.sort_by_key(|c| c.start_ms);
    Ok(Captions {
        source_format: format,
        cues,
    })
}

impl Captions {
    /// The track as a WebVTT file.
    pub fn to_webvtt(&self) -> String {
        let mut out = String::from("WEBVTT\n");
        for cue in &self.cues {
            out.push('\n');
            if let Some(id) = &cue.id {
                out.push_str(id);
                out.push('\n');
            }
            out.push_str(&timestamp(cue.start_ms));
            out.push_str(" --> ");
            out.push_str(&timestamp(cue.end_ms));
            if let Some(settings) = &cue.settings {
                out.push(' ');
                out.push_str(settings);
            }
            out.push('\n');
            out.push_str(&cue.text);
            out.push('\n');
        }
        out
    }

    /// The end of the last cue, in ms.
    pub fn last_end_ms(&self) -> u64 {
        self.cues.iter().map(|c| c.end_ms).max().unwrap_or(0)
    }
}

/// Checks a language tag of the simple BCP 47 form (`zh`, `zh-CN`,
/// `zh-Hans`, `zh-Hans-CN`, `en-US`, `yue`) and writes it in its usual case.
pub fn language_tag(tag: &str) -> Result<String, CaptionError> {
    let bad = || CaptionError::BadLanguage {
        tag: tag.chars().take(40).collect(),
    };
    if tag.is_empty() || tag.len() > 35 {
        return Err(bad());
    }
    let mut parts = tag.split(['-', '_']);
    let primary = parts.next().ok_or_else(bad)?;
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let mut out = primary.to_ascii_lowercase();
    for part in parts {
        let ok = (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(bad());
        }
        out.push('-');
        match part.len() {
            2 if part.bytes().all(|b| b.is_ascii_alphabetic()) => {
                out.push_str(&part.to_ascii_uppercase())
            }
            4 if part.bytes().all(|b| b.is_ascii_alphabetic()) => {
                out.push_str(&part[..1].to_ascii_uppercase());
                out.push_str(&part[1..].to_ascii_lowercase());
            }
            _ => out.push_str(&part.to_ascii_lowercase()),
        }
    }
    Ok(out)
}

/// `HH:MM:SS.mmm`, as WebVTT writes it.
fn timestamp(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn is_webvtt_header(first: &str) -> bool {
    first == "WEBVTT" || first.starts_with("WEBVTT ") || first.starts_with("WEBVTT\t")
}

/// A run of non-blank lines, with the (1-based) number of its first line.
struct Block<'a> {
    first_line: usize,
    lines: Vec<&'a str>,
}

fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            out.extend(current.take());
        } else {
            current
                .get_or_insert_with(|| Block {
                    first_line: i + 1,
                    lines: Vec::new(),
                })
                .lines
                .push(line);
        }
    }
    out.extend(current);
    out
}

/// One block as a cue with the number of its timing line; `None` for blocks
/// that are dropped (notes, styles, regions, cues without text).
fn read_block(
    format: CaptionFormat,
    block: &Block,
    limits: &CaptionLimits,
) -> Result<Option<(usize, Cue)>, CaptionError> {
    let first = block.lines[0];
    if format == CaptionFormat::WebVtt {
        let word = first.split([' ', '\t']).next().unwrap_or("");
        if matches!(word, "NOTE" | "STYLE" | "REGION") {
            return Ok(None);
        }
    }
    let Some(timing_at) = block.lines.iter().position(|l| l.contains("-->")) else {
        return Err(CaptionError::BadBlock {
            line: block.first_line,
        });
    };
    // Before the timing line: WebVTT's identifier, SubRip's sequence number.
    if timing_at > 1 {
        return Err(CaptionError::BadBlock {
            line: block.first_line,
        });
    }
    let line = block.first_line + timing_at;
    let id = match (format, timing_at) {
        (CaptionFormat::WebVtt, 1) => Some(first.trim().to_owned()),
        (CaptionFormat::SubRip, 1) if !first.trim().bytes().all(|b| b.is_ascii_digit()) => {
            return Err(CaptionError::BadBlock {
                line: block.first_line,
            });
        }
        _ => None,
    };
    let (start_ms, end_ms, settings) = read_timing(format, block.lines[timing_at], line)?;
    let text_lines = &block.lines[timing_at + 1..];
    if let Some(k) = text_lines.iter().position(|l| l.contains("-->")) {
        // A second timing line: the blank line between two cues is missing.
        return Err(CaptionError::BadBlock { line: line + 1 + k });
    }
    let text = match format {
        CaptionFormat::WebVtt => text_lines.join("\n"),
        CaptionFormat::SubRip => text_lines
            .iter()
            .map(|l| subrip_text_to_webvtt(l))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    if text.chars().count() > limits.max_cue_chars {
        return Err(CaptionError::CueTooLong {
            line,
            limit: limits.max_cue_chars,
        });
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    Ok(Some((
        line,
        Cue {
            id,
            start_ms,
            end_ms,
            settings,
            text,
        },
    )))
}

/// `start --> end [settings]`.
fn read_timing(
    format: CaptionFormat,
    timing: &str,
    line: usize,
) -> Result<(u64, u64, Option<String>), CaptionError> {
    let bad = || CaptionError::BadTiming { line };
    let (start, rest) = timing.split_once("-->").ok_or_else(bad)?;
    let rest = rest.trim_start();
    let (end, settings) = match rest.find([' ', '\t']) {
        Some(at) => (&rest[..at], rest[at..].trim()),
        None => (rest, ""),
    };
    let start_ms = read_time(start.trim()).ok_or_else(bad)?;
    let end_ms = read_time(end.trim()).ok_or_else(bad)?;
    if end_ms <= start_ms {
        return Err(CaptionError::EndBeforeStart { line });
    }
    // SubRip's coordinates after the end time (`X1:… Y2:…`) are not kept.
    let settings = (format == CaptionFormat::WebVtt && !settings.is_empty())
        .then(|| settings.split_whitespace().collect::<Vec<_>>().join(" "));
    Ok((start_ms, end_ms, settings))
}

/// `[HH:]MM:SS.mmm` or `HH:MM:SS,mmm` in ms.
fn read_time(s: &str) -> Option<u64> {
    let (clock, millis) = s.split_once(['.', ','])?;
    if millis.len() != 3 || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fields: Vec<&str> = clock.split(':').collect();
    let number = |f: &str| -> Option<u64> {
        (!f.is_empty() && f.len() <= 3 && f.bytes().all(|b| b.is_ascii_digit()))
            .then(|| f.parse().ok())
            .flatten()
    };
    let (h, m, sec) = match fields.as_slice() {
        [h, m, sec] => (number(h)?, number(m)?, number(sec)?),
        [m, sec] => (0, number(m)?, number(sec)?),
        _ => return None,
    };
    if m >= 60 || sec >= 60 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000 + millis.parse::<u64>().ok()?)
}

/// One line of SubRip text in WebVTT markup: `<b>`, `<i>`, `<u>` kept,
/// other tags (`<font …>`) and ASS overrides (`{\an8}`) dropped, `&`, `<`
/// and `>` of the text escaped.
fn subrip_text_to_webvtt(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && starts_tag(&rest[1..])
            && let Some(close) = rest.find('>')
        {
            let tag = rest[1..close].trim().to_ascii_lowercase();
            if matches!(tag.as_str(), "b" | "i" | "u" | "/b" | "/i" | "/u") {
                out.push('<');
                out.push_str(&tag);
                out.push('>');
            }
            rest = &rest[close + 1..];
            continue;
        }
        if c == '{'
            && rest[1..].starts_with('\\')
            && let Some(close) = rest.find('}')
        {
            rest = &rest[close + 1..];
            continue;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether the text after a `<` is a tag: a letter, or `/` and a letter.
fn starts_tag(after: &str) -> bool {
    let mut chars = after.chars();
    match chars.next() {
        Some('/') => chars.next().is_some_and(|c| c.is_ascii_alphabetic()),
        Some(c) => c.is_ascii_alphabetic(),
        None => false,
    }
}

#[cfg(test)]
#[path = "captions_tests.rs"]
mod tests;
