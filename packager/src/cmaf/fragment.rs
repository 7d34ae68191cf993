//! CMAF media segments: `styp` + one `moof` (`mfhd`, a `traf` per track with
//! `tfhd`, `tfdt` v1 and `trun` v1) + one `mdat` holding the samples in order.

use super::{CmafError, box_writer::BoxWriter};
use crate::media::Sample;

/// `tfhd` flag: offsets are relative to the start of the enclosing `moof`.
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
const TRUN_DATA_OFFSET: u32 = 0x000001;
const TRUN_SAMPLE_DURATION: u32 = 0x000100;
const TRUN_SAMPLE_SIZE: u32 = 0x000200;
const TRUN_SAMPLE_FLAGS: u32 = 0x000400;
const TRUN_SAMPLE_COMPOSITION_TIME_OFFSET: u32 = 0x000800;

/// `sample_depends_on = 2` (does not depend on others): a sync sample.
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// `sample_depends_on = 1`, `sample_is_non_sync_sample = 1`.
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// The samples of one track inside a media segment.
#[derive(Debug, Clone, Copy)]
pub struct TrackFragment<'a> {
    /// `track_ID` as declared in the init segment.
    pub track_id: u32,
    /// The samples, in decode order; the first one's `dts` becomes `tfdt`.
    pub samples: &'a [Sample],
}

/// Writes one media segment: `styp` (major `cmfs`, compatible `cmfs`, `msdh`),
/// `moof` and `mdat`.
///
/// Each `trun` is version 1 with per-sample duration, size, flags (sync or
/// non-sync) and a signed composition offset (`pts - dts`; omitted when all
/// offsets are zero) and a data offset pointing into the `mdat`.
pub fn media_segment(
    sequence_number: u32,
    fragments: &[TrackFragment<'_>],
) -> Result<Vec<u8>, CmafError> {
    if fragments.is_empty() {
        return Err(CmafError::NoFragments);
    }
    let mut payload_size: u64 = 0;
    let mut sample_count: u64 = 0;
    for fragment in fragments {
        let first = fragment.samples.first().ok_or(CmafError::EmptyFragment {
            track_id: fragment.track_id,
        })?;
        if first.dts < 0 {
            return Err(CmafError::NegativeDecodeTime {
                track_id: fragment.track_id,
                dts: first.dts,
            });
        }
        for sample in fragment.samples {
            if i32::try_from(sample.composition_offset()).is_err() {
                return Err(CmafError::CompositionOffsetOutOfRange {
                    track_id: fragment.track_id,
                    offset: sample.composition_offset(),
                });
            }
            payload_size += sample.data.len() as u64;
        }
        sample_count += fragment.samples.len() as u64;
    }
    // The moof carries at most ~16 bytes per sample plus small headers; data
    // offsets are signed 32-bit, so everything before the last sample must fit.
    let moof_bound = 256 * fragments.len() as u64 + 16 * sample_count;
    if moof_bound + 16 + payload_size > i32::MAX as u64 {
        return Err(CmafError::SegmentTooLarge {
            bytes: moof_bound + payload_size,
        });
    }

    let mut w =
        BoxWriter::with_capacity(usize::try_from(moof_bound + payload_size + 64).unwrap_or(0));
    w.write_box(b"styp", |w| {
        w.bytes(b"cmfs");
        w.u32(0);
        w.bytes(b"cmfs");
        w.bytes(b"msdh");
    });

    let moof_start = w.position();
    let data_offset_positions: Vec<usize> = w.write_box(b"moof", |w| {
        w.write_full_box(b"mfhd", 0, 0, |w| w.u32(sequence_number));
        fragments
            .iter()
            .map(|fragment| write_traf(w, fragment))
            .collect()
    });
    let moof_size = w.position() - moof_start;

    // Sizes were bounded above, so the mdat fits a 32-bit size field.
    let mdat_header = 8u64;
    let mut data_offset = moof_size as u64 + mdat_header;
    for (position, fragment) in data_offset_positions.iter().zip(fragments) {
        w.patch_u32(*position, data_offset as u32);
        data_offset += fragment
            .samples
            .iter()
            .map(|s| s.data.len() as u64)
            .sum::<u64>();
    }
    w.write_box(b"mdat", |w| {
        for fragment in fragments {
            for sample in fragment.samples {
                w.bytes(&sample.data);
            }
        }
    });
    Ok(w.finish())
}

/// Writes a `traf`; returns the position of the `trun` data offset to patch.
fn write_traf(w: &mut BoxWriter, fragment: &TrackFragment<'_>) -> usize {
    let has_composition_offsets = fragment.samples.iter().any(|s| s.pts != s.dts);
    let base_decode_time = fragment.samples.first().map_or(0, |s| s.dts);
    w.write_box(b"traf", |w| {
        w.write_full_box(b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF, |w| {
            w.u32(fragment.track_id);
        });
        w.write_full_box(b"tfdt", 1, 0, |w| {
            // Validated non-negative by the caller.
            w.u64(base_decode_time.max(0) as u64);
        });
        let mut flags =
            TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_SIZE | TRUN_SAMPLE_FLAGS;
        if has_composition_offsets {
            flags |= TRUN_SAMPLE_COMPOSITION_TIME_OFFSET;
        }
        w.write_full_box(b"trun", 1, flags, |w| {
            // Bounded by the segment size check.
            w.u32(fragment.samples.len() as u32);
            let data_offset_position = w.position();
            w.i32(0);
            for sample in fragment.samples {
                w.u32(sample.duration);
                w.u32(sample.data.len() as u32);
                w.u32(if sample.is_sync {
                    SYNC_SAMPLE_FLAGS
                } else {
                    NON_SYNC_SAMPLE_FLAGS
                });
                if has_composition_offsets {
                    // Range-checked by the caller.
                    w.i32(sample.composition_offset() as i32);
                }
            }
            data_offset_position
        })
    })
}
