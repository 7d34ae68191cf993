//! The CMAF header (init segment): `ftyp` + `moov` with one `trak` per track
//! and `mvex`/`trex` announcing that samples come in movie fragments.

use super::box_writer::BoxWriter;
use crate::media::{AudioCodecConfig, TrackConfig, TrackKind, VideoCodecConfig};

/// Unity transformation matrix used by `mvhd` and `tkhd`.
const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];
/// ISO-639-2/T "und" packed as three 5-bit letters.
const LANGUAGE_UNDETERMINED: u16 = 0x55c4;

/// Bitrate figures written to `btrt` (video) and the `esds` DecoderConfigDescriptor (audio).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackBitrate {
    /// Decoding buffer size in bytes (`bufferSizeDB`); the largest sample is a good value.
    pub buffer_size: u32,
    /// Peak bitrate in bit/s over any one-second window.
    pub max_bitrate: u32,
    /// Average bitrate in bit/s.
    pub average_bitrate: u32,
}

/// One track of an init segment.
#[derive(Debug, Clone, Copy)]
pub struct InitTrack<'a> {
    /// `track_ID` (1-based, unique in the file); fragments refer to it.
    pub track_id: u32,
    /// The track's configuration.
    pub config: &'a TrackConfig,
    /// Measured bitrates, if known (a VOD packager knows them once the track ended).
    pub bitrate: Option<TrackBitrate>,
}

/// `ftyp` (major `cmfc`, compatible `cmfc`, `iso6`) + `moov` (`mvhd`, one `trak`
/// per track, `mvex` with one `trex` per track). Durations are 0: the media
/// lives in fragments.
pub fn init_segment(tracks: &[(u32, &TrackConfig)]) -> Vec<u8> {
    let tracks: Vec<InitTrack<'_>> = tracks
        .iter()
        .map(|&(track_id, config)| InitTrack {
            track_id,
            config,
            bitrate: None,
        })
        .collect();
    init_segment_with_bitrates(&tracks)
}

/// Like [`init_segment`], with `btrt` / `esds` bitrates filled from measured figures.
pub fn init_segment_with_bitrates(tracks: &[InitTrack<'_>]) -> Vec<u8> {
    let mut w = BoxWriter::with_capacity(1024);
    w.write_box(b"ftyp", |w| {
        w.bytes(b"cmfc");
        w.u32(0);
        w.bytes(b"cmfc");
        w.bytes(b"iso6");
    });
    w.write_box(b"moov", |w| {
        let next_track_id = tracks
            .iter()
            .map(|t| t.track_id)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        write_mvhd(w, next_track_id);
        for track in tracks {
            write_trak(w, track);
        }
        w.write_box(b"mvex", |w| {
            for track in tracks {
                w.write_full_box(b"trex", 0, 0, |w| {
                    w.u32(track.track_id);
                    w.u32(1); // default_sample_description_index
                    w.u32(0); // default_sample_duration
                    w.u32(0); // default_sample_size
                    w.u32(0); // default_sample_flags
                });
            }
        });
    });
    w.finish()
}

fn write_matrix(w: &mut BoxWriter) {
    for value in UNITY_MATRIX {
        w.u32(value);
    }
}

fn write_mvhd(w: &mut BoxWriter, next_track_id: u32) {
    w.write_full_box(b"mvhd", 0, 0, |w| {
        w.u32(0); // creation_time
        w.u32(0); // modification_time
        w.u32(1000); // timescale
        w.u32(0); // duration: fragmented
        w.u32(0x0001_0000); // rate 1.0
        w.u16(0x0100); // volume 1.0
        w.zeros(2 + 8); // reserved
        write_matrix(w);
        w.zeros(24); // pre_defined
        w.u32(next_track_id);
    });
}

fn write_trak(w: &mut BoxWriter, track: &InitTrack<'_>) {
    let config = track.config;
    w.write_box(b"trak", |w| {
        // flags: track_enabled | track_in_movie
        w.write_full_box(b"tkhd", 0, 0x3, |w| {
            w.u32(0); // creation_time
            w.u32(0); // modification_time
            w.u32(track.track_id);
            w.u32(0); // reserved
            w.u32(0); // duration
            w.zeros(8); // reserved
            w.u16(0); // layer
            w.u16(0); // alternate_group
            w.u16(if config.is_audio() { 0x0100 } else { 0 }); // volume
            w.u16(0); // reserved
            write_matrix(w);
            let (width, height) = match &config.kind {
                TrackKind::Video { width, height, .. } => (*width, *height),
                TrackKind::Audio { .. } => (0, 0),
            };
            w.u32(width.min(0xffff) << 16); // 16.16 fixed point
            w.u32(height.min(0xffff) << 16);
        });
        w.write_box(b"mdia", |w| {
            w.write_full_box(b"mdhd", 0, 0, |w| {
                w.u32(0); // creation_time
                w.u32(0); // modification_time
                w.u32(config.timescale);
                w.u32(0); // duration
                w.u16(LANGUAGE_UNDETERMINED);
                w.u16(0); // pre_defined
            });
            let (handler, name): (&[u8; 4], &[u8]) = if config.is_video() {
                (b"vide", b"VideoHandler\0")
            } else {
                (b"soun", b"SoundHandler\0")
            };
            w.write_full_box(b"hdlr", 0, 0, |w| {
                w.u32(0); // pre_defined
                w.bytes(handler);
                w.zeros(12); // reserved
                w.bytes(name);
            });
            w.write_box(b"minf", |w| write_minf(w, track));
        });
    });
}

fn write_minf(w: &mut BoxWriter, track: &InitTrack<'_>) {
    if track.config.is_video() {
        w.write_full_box(b"vmhd", 0, 1, |w| {
            w.u16(0); // graphicsmode
            w.zeros(6); // opcolor
        });
    } else {
        w.write_full_box(b"smhd", 0, 0, |w| {
            w.i16(0); // balance
            w.u16(0); // reserved
        });
    }
    w.write_box(b"dinf", |w| {
        w.write_full_box(b"dref", 0, 0, |w| {
            w.u32(1);
            // flags 1: the media data is in the same file
            w.write_full_box(b"url ", 0, 1, |_| {});
        });
    });
    w.write_box(b"stbl", |w| {
        w.write_full_box(b"stsd", 0, 0, |w| {
            w.u32(1);
            write_sample_entry(w, track);
        });
        w.write_full_box(b"stts", 0, 0, |w| w.u32(0));
        w.write_full_box(b"stsc", 0, 0, |w| w.u32(0));
        w.write_full_box(b"stsz", 0, 0, |w| {
            w.u32(0); // sample_size
            w.u32(0); // sample_count
        });
        w.write_full_box(b"stco", 0, 0, |w| w.u32(0));
    });
}

fn write_sample_entry(w: &mut BoxWriter, track: &InitTrack<'_>) {
    match &track.config.kind {
        TrackKind::Video {
            width,
            height,
            codec,
        } => {
            let (entry, config_box, record) = match codec {
                VideoCodecConfig::H264(avc) => (b"avc1", b"avcC", avc.to_bytes()),
                VideoCodecConfig::Hevc(hevc) => (b"hvc1", b"hvcC", hevc.as_bytes().to_vec()),
            };
            w.write_box(entry, |w| {
                write_visual_sample_fields(w, *width, *height);
                w.write_box(config_box, |w| w.bytes(&record));
                if let Some(bitrate) = track.bitrate {
                    w.write_box(b"btrt", |w| {
                        w.u32(bitrate.buffer_size);
                        w.u32(bitrate.max_bitrate);
                        w.u32(bitrate.average_bitrate);
                    });
                }
            });
        }
        TrackKind::Audio {
            sample_rate,
            channels,
            codec: AudioCodecConfig::Aac(asc),
        } => {
            w.write_box(b"mp4a", |w| {
                w.zeros(6); // reserved
                w.u16(1); // data_reference_index
                w.zeros(8); // reserved
                w.u16(*channels);
                w.u16(16); // samplesize
                w.u16(0); // pre_defined
                w.u16(0); // reserved
                // 16.16 fixed point; rates above 65535 Hz do not fit and are left to the esds.
                w.u32(if *sample_rate <= 0xffff {
                    sample_rate << 16
                } else {
                    0
                });
                let bitrate = track.bitrate.unwrap_or_default();
                w.write_full_box(b"esds", 0, 0, |w| {
                    w.write_descriptor(0x03, |w| {
                        w.u16(0); // ES_ID: 0 as stored in a file
                        w.u8(0); // no dependency, URL or OCR stream
                        w.write_descriptor(0x04, |w| {
                            w.u8(0x40); // objectTypeIndication: MPEG-4 Audio
                            w.u8((0x05 << 2) | 0x01); // streamType audio, upStream 0, reserved 1
                            w.u24(bitrate.buffer_size.min(0x00ff_ffff));
                            w.u32(bitrate.max_bitrate);
                            w.u32(bitrate.average_bitrate);
                            w.write_descriptor(0x05, |w| w.bytes(asc.as_bytes()));
                        });
                        w.write_descriptor(0x06, |w| w.u8(0x02)); // SLConfig: predefined MP4
                    });
                });
            });
        }
    }
}

/// The VisualSampleEntry fields every video sample entry (`avc1`, `hvc1`)
/// starts with, before its configuration box.
fn write_visual_sample_fields(w: &mut BoxWriter, width: u32, height: u32) {
    w.zeros(6); // reserved
    w.u16(1); // data_reference_index
    w.u16(0); // pre_defined
    w.u16(0); // reserved
    w.zeros(12); // pre_defined
    w.u16(u16::try_from(width).unwrap_or(u16::MAX));
    w.u16(u16::try_from(height).unwrap_or(u16::MAX));
    w.u32(0x0048_0000); // horizresolution 72 dpi
    w.u32(0x0048_0000); // vertresolution 72 dpi
    w.u32(0); // reserved
    w.u16(1); // frame_count
    w.zeros(32); // compressorname (empty Pascal string)
    w.u16(0x0018); // depth
    w.i16(-1); // pre_defined
}
