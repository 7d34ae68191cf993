//! The one typed writer of live (and LL-HLS) media playlist lines.
//!
//! m3u8-rs 6 writes neither playlist-level tags it does not model (its
//! `unknown_tags` of a media playlist are parsed but never written) nor tags
//! after the last segment URI, so `EXT-X-SERVER-CONTROL`, `EXT-X-PART-INF`,
//! the parts of the open segment and `EXT-X-PRELOAD-HINT` cannot go through
//! it. Every live playlist line is therefore a [`LiveLine`] written here;
//! nothing else in the crate formats live playlist text.

use std::fmt::Write as _;

use time::OffsetDateTime;
use time::macros::format_description;

/// Decimals of every duration written (`EXTINF`, `EXT-X-PART`, hold backs).
const DURATION_DECIMALS: usize = 3;

/// One line of a live media playlist.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LiveLine<'a> {
    /// `#EXTM3U`
    Header,
    /// `#EXT-X-VERSION:n`
    Version(usize),
    /// `#EXT-X-INDEPENDENT-SEGMENTS`
    IndependentSegments,
    /// `#EXT-X-TARGETDURATION:s`
    TargetDuration(u64),
    /// `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=x,HOLD-BACK=y`
    ServerControl {
        /// Seconds from the live edge a non-LL player starts at.
        hold_back: f64,
        /// Seconds from the live edge an LL player starts at.
        part_hold_back: f64,
    },
    /// `#EXT-X-PART-INF:PART-TARGET=x`
    PartInf {
        /// The part target duration in seconds.
        part_target: f64,
    },
    /// `#EXT-X-MEDIA-SEQUENCE:n`
    MediaSequence(u64),
    /// `#EXT-X-DISCONTINUITY-SEQUENCE:n`
    DiscontinuitySequence(u64),
    /// `#EXT-X-DISCONTINUITY`
    Discontinuity,
    /// `#EXT-X-MAP:URI="..."`
    Map {
        /// The init section.
        uri: &'a str,
    },
    /// `#EXT-X-PROGRAM-DATE-TIME:` in UTC with milliseconds.
    ProgramDateTime(OffsetDateTime),
    /// `#EXT-X-PART:DURATION=x,URI="..."[,INDEPENDENT=YES]`
    Part {
        /// Seconds.
        duration: f64,
        /// The part.
        uri: &'a str,
        /// The part starts with a sync sample.
        independent: bool,
    },
    /// `#EXTINF:x,` followed by the segment URI on its own line.
    Segment {
        /// Seconds.
        duration: f64,
        /// The segment.
        uri: &'a str,
    },
    /// `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="..."`
    PreloadHintPart {
        /// The next part, not yet available.
        uri: &'a str,
    },
    /// `#EXT-X-RENDITION-REPORT:URI="...",LAST-MSN=n[,LAST-PART=p]`
    RenditionReport {
        /// Another rendition's media playlist, relative to this one.
        uri: &'a str,
        /// Its last media sequence number (of its last segment or open part).
        last_msn: u64,
        /// Its last part index in that segment, if it has parts.
        last_part: Option<u64>,
    },
    /// `#EXT-X-ENDLIST`
    EndList,
}

/// Accumulates playlist lines into text.
#[derive(Debug, Default)]
pub(crate) struct LivePlaylistWriter {
    text: String,
}

impl LivePlaylistWriter {
    /// An empty writer.
    pub(crate) fn new() -> Self {
        Self {
            text: String::with_capacity(2048),
        }
    }

    /// Appends one line (two for [`LiveLine::Segment`]).
    pub(crate) fn line(&mut self, line: LiveLine<'_>) {
        let out = &mut self.text;
        // Writing to a String cannot fail.
        let _ = match line {
            LiveLine::Header => writeln!(out, "#EXTM3U"),
            LiveLine::Version(version) => writeln!(out, "#EXT-X-VERSION:{version}"),
            LiveLine::IndependentSegments => writeln!(out, "#EXT-X-INDEPENDENT-SEGMENTS"),
            LiveLine::TargetDuration(seconds) => writeln!(out, "#EXT-X-TARGETDURATION:{seconds}"),
            LiveLine::ServerControl {
                hold_back,
                part_hold_back,
            } => writeln!(
                out,
                "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={part_hold_back:.DURATION_DECIMALS$},HOLD-BACK={hold_back:.DURATION_DECIMALS$}"
            ),
            LiveLine::PartInf { part_target } => writeln!(
                out,
                "#EXT-X-PART-INF:PART-TARGET={part_target:.DURATION_DECIMALS$}"
            ),
            LiveLine::MediaSequence(sequence) => writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{sequence}"),
            LiveLine::DiscontinuitySequence(sequence) => {
                writeln!(out, "#EXT-X-DISCONTINUITY-SEQUENCE:{sequence}")
            }
            LiveLine::Discontinuity => writeln!(out, "#EXT-X-DISCONTINUITY"),
            LiveLine::Map { uri } => writeln!(out, "#EXT-X-MAP:URI=\"{uri}\""),
            LiveLine::ProgramDateTime(at) => writeln!(
                out,
                "#EXT-X-PROGRAM-DATE-TIME:{}",
                format_program_date_time(at)
            ),
            LiveLine::Part {
                duration,
                uri,
                independent,
            } => writeln!(
                out,
                "#EXT-X-PART:DURATION={duration:.DURATION_DECIMALS$},URI=\"{uri}\"{}",
                if independent { ",INDEPENDENT=YES" } else { "" }
            ),
            LiveLine::Segment { duration, uri } => {
                writeln!(out, "#EXTINF:{duration:.DURATION_DECIMALS$},\n{uri}")
            }
            LiveLine::PreloadHintPart { uri } => {
                writeln!(out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{uri}\"")
            }
            LiveLine::RenditionReport {
                uri,
                last_msn,
                last_part,
            } => match last_part {
                Some(part) => writeln!(
                    out,
                    "#EXT-X-RENDITION-REPORT:URI=\"{uri}\",LAST-MSN={last_msn},LAST-PART={part}"
                ),
                None => writeln!(
                    out,
                    "#EXT-X-RENDITION-REPORT:URI=\"{uri}\",LAST-MSN={last_msn}"
                ),
            },
            LiveLine::EndList => writeln!(out, "#EXT-X-ENDLIST"),
        };
    }

    /// The playlist text.
    pub(crate) fn finish(self) -> String {
        self.text
    }
}

/// `YYYY-MM-DDThh:mm:ss.sssZ` (ISO 8601 / RFC 3339 in UTC, milliseconds).
fn format_program_date_time(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_else(|error| unreachable!("a fixed UTC format cannot fail: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_written_in_the_rfc_8216bis_syntax() {
        let mut writer = LivePlaylistWriter::new();
        writer.line(LiveLine::ServerControl {
            hold_back: 12.0,
            part_hold_back: 1.5,
        });
        writer.line(LiveLine::PartInf { part_target: 0.5 });
        writer.line(LiveLine::Part {
            duration: 0.5,
            uri: "a.m4s",
            independent: true,
        });
        writer.line(LiveLine::Part {
            duration: 0.46713,
            uri: "b.m4s",
            independent: false,
        });
        writer.line(LiveLine::Segment {
            duration: 4.0,
            uri: "s.m4s",
        });
        writer.line(LiveLine::ProgramDateTime(
            OffsetDateTime::from_unix_timestamp_nanos(1_763_711_381_123_456_789).expect("in range"),
        ));
        writer.line(LiveLine::PreloadHintPart { uri: "c.m4s" });
        writer.line(LiveLine::RenditionReport {
            uri: "../audio/live.m3u8",
            last_msn: 7,
            last_part: Some(2),
        });
        assert_eq!(
            writer.finish(),
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=12.000\n\
             #EXT-X-PART-INF:PART-TARGET=0.500\n\
             #EXT-X-PART:DURATION=0.500,URI=\"a.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PART:DURATION=0.467,URI=\"b.m4s\"\n\
             #EXTINF:4.000,\ns.m4s\n\
             #EXT-X-PROGRAM-DATE-TIME:2025-11-21T07:49:41.123Z\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"c.m4s\"\n\
             #EXT-X-RENDITION-REPORT:URI=\"../audio/live.m3u8\",LAST-MSN=7,LAST-PART=2\n"
        );
    }
}
