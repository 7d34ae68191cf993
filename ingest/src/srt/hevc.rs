//! HEVC in an MPEG-TS publish: which Annex B NAL units are parameter sets and
//! random access points, and the `HEVCDecoderConfigurationRecord` (hvcC) made
//! from the stream's VPS, SPS and PPS, the record an Enhanced RTMP publisher
//! sends as its sequence start. Pure; the record is written by `scuffle-h265`.

use bytes::Bytes;
use scuffle_h265::{
    ConstantFrameRate, HEVCDecoderConfigurationRecord, NALUnitType, NaluArray, NumTemporalLayers,
    ParallelismType, SpsNALUnit,
};

/// NAL unit type of a video parameter set.
pub const NAL_VPS: u8 = 32;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 33;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 34;

/// The type of an HEVC NAL unit (from its two-byte header).
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|b| (b >> 1) & 0x3F)
}

/// Whether a NAL unit type is an intra random access point (BLA, IDR, CRA):
/// decoding may start there.
pub fn is_random_access(nal_type: u8) -> bool {
    (16..=23).contains(&nal_type)
}

/// The hvcC of the parameter sets among `nals` (Annex B units without start
/// codes): the first SPS gives the profile, tier, level, chroma format and
/// bit depths; NAL unit lengths are 4 bytes, as the frames are written.
/// `None` without a VPS, an SPS and a PPS, or when the SPS does not parse.
pub fn hvcc_from_parameter_sets<'a>(nals: impl Iterator<Item = &'a [u8]>) -> Option<Bytes> {
    let (mut vps, mut sps, mut pps) = (Vec::new(), Vec::new(), Vec::new());
    for nal in nals {
        let list = match nal_type(nal) {
            Some(NAL_VPS) => &mut vps,
            Some(NAL_SPS) => &mut sps,
            Some(NAL_PPS) => &mut pps,
            _ => continue,
        };
        let nal = Bytes::copy_from_slice(nal);
        if !list.contains(&nal) {
            list.push(nal);
        }
    }
    let first = sps.first()?;
    let parsed = SpsNALUnit::parse(std::io::Cursor::new(first.as_ref())).ok()?;
    if vps.is_empty() || pps.is_empty() {
        return None;
    }
    let rbsp = &parsed.rbsp;
    let general = &rbsp.profile_tier_level.general_profile;
    // general_progressive_source_flag … general_frame_only_constraint_flag: the top four
    // of the 48 constraint bits.
    let constraints = [
        general.progressive_source_flag,
        general.interlaced_source_flag,
        general.non_packed_constraint_flag,
        general.frame_only_constraint_flag,
    ]
    .iter()
    .enumerate()
    .fold(0u64, |bits, (i, set)| bits | (u64::from(*set) << (47 - i)));
    let array = |nal_unit_type, nalus| NaluArray {
        array_completeness: true,
        nal_unit_type,
        nalus,
    };
    let record = HEVCDecoderConfigurationRecord {
        general_profile_space: general.profile_space,
        general_tier_flag: general.tier_flag,
        general_profile_idc: general.profile_idc,
        general_profile_compatibility_flags: general.profile_compatibility_flag,
        general_constraint_indicator_flags: constraints,
        general_level_idc: general.level_idc.unwrap_or(0),
        min_spatial_segmentation_idc: 0,
        parallelism_type: ParallelismType::MixedOrUnknown,
        chroma_format_idc: rbsp.chroma_format_idc,
        bit_depth_luma_minus8: rbsp.bit_depth_luma_minus8,
        bit_depth_chroma_minus8: rbsp.bit_depth_chroma_minus8,
        avg_frame_rate: 0,
        constant_frame_rate: ConstantFrameRate::Unknown,
        num_temporal_layers: NumTemporalLayers(rbsp.sps_max_sub_layers_minus1 + 1),
        temporal_id_nested: rbsp.sps_temporal_id_nesting_flag,
        length_size_minus_one: 3,
        arrays: vec![
            array(NALUnitType::VpsNut, vps),
            array(NALUnitType::SpsNut, sps),
            array(NALUnitType::PpsNut, pps),
        ],
    };
    let mut out = Vec::with_capacity(256);
    record.mux(&mut out).ok()?;
    Some(Bytes::from(out))
}
