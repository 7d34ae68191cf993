//! HEVC pieces the packager needs to pass a source through: the hvcC decoder
//! configuration record (ISO/IEC 14496-15 8.3.3.1) as a publisher sends it
//! (Enhanced RTMP's sequence start, or one made from an MPEG-TS stream's
//! parameter sets), checked with `scuffle-h265`, and its codec string
//! (ISO/IEC 14496-15 Annex E, the form RFC 6381 and HLS `CODECS` use).
//!
//! The samples it describes keep the record's NAL unit length size: a
//! passed-through source is written as it came, so the record is kept
//! byte for byte.

use std::fmt::Write as _;

use bytes::Bytes;
use scuffle_h265::{HEVCDecoderConfigurationRecord, NALUnitType};

/// Why an HEVC configuration was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HevcError {
    /// The hvcC record could not be read.
    #[error("invalid hvcC record: {0} (hvcC 记录无效)")]
    InvalidHvcC(String),
    /// The record lacks a parameter set an `hvc1` sample entry must carry.
    #[error("hvcC record has no {0} (hvcC 记录缺少 {0})")]
    MissingParameterSet(&'static str),
}

/// An HEVC decoder configuration record (the payload of an `hvcC` box),
/// with the fields its codec string is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcDecoderConfig {
    record: Bytes,
    profile_space: u8,
    high_tier: bool,
    profile_idc: u8,
    compatibility_flags: u32,
    /// The 48 constraint indicator bits, in the low 48 bits.
    constraint_flags: u64,
    level_idc: u8,
    length_size: u8,
}

impl HevcDecoderConfig {
    /// Reads an hvcC record. It must carry a VPS, an SPS and a PPS: an
    /// `hvc1` sample entry takes its parameter sets from the record alone.
    pub fn from_hvcc(record: &[u8]) -> Result<Self, HevcError> {
        let parsed = HEVCDecoderConfigurationRecord::demux(std::io::Cursor::new(record))
            .map_err(|e| HevcError::InvalidHvcC(e.to_string()))?;
        for (kind, name) in [
            (NALUnitType::VpsNut, "VPS"),
            (NALUnitType::SpsNut, "SPS"),
            (NALUnitType::PpsNut, "PPS"),
        ] {
            let present = parsed
                .arrays
                .iter()
                .any(|array| array.nal_unit_type == kind && !array.nalus.is_empty());
            if !present {
                return Err(HevcError::MissingParameterSet(name));
            }
        }
        Ok(Self {
            record: Bytes::copy_from_slice(record),
            profile_space: parsed.general_profile_space,
            high_tier: parsed.general_tier_flag,
            profile_idc: parsed.general_profile_idc,
            compatibility_flags: parsed.general_profile_compatibility_flags.bits(),
            constraint_flags: parsed.general_constraint_indicator_flags & 0xffff_ffff_ffff,
            level_idc: parsed.general_level_idc,
            length_size: parsed.length_size_minus_one + 1,
        })
    }

    /// The record, as received (the `hvcC` box payload).
    pub fn as_bytes(&self) -> &[u8] {
        &self.record
    }

    /// Bytes of each NAL unit's length prefix in the samples (1, 2 or 4).
    pub fn length_size(&self) -> u8 {
        self.length_size
    }

    /// The codec string: `hvc1.` profile space and profile, the
    /// compatibility flags in reverse bit order (hex), tier and level, then
    /// the constraint bytes (hex) with trailing zero bytes left out, e.g.
    /// `hvc1.1.6.L93.B0` for Main at level 3.1.
    pub fn codec_string(&self) -> String {
        let space = match self.profile_space {
            1 => "A",
            2 => "B",
            3 => "C",
            _ => "",
        };
        let tier = if self.high_tier { 'H' } else { 'L' };
        let mut out = format!(
            "hvc1.{space}{}.{:X}.{tier}{}",
            self.profile_idc,
            self.compatibility_flags.reverse_bits(),
            self.level_idc
        );
        let constraints = &self.constraint_flags.to_be_bytes()[2..];
        let kept = constraints
            .iter()
            .rposition(|byte| *byte != 0)
            .map_or(0, |last| last + 1);
        for byte in &constraints[..kept] {
            // Writing into a String cannot fail.
            let _ = write!(out, ".{byte:X}");
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod test_fixtures {
    /// The hvcC x265 writes for a 640x360 Main picture at level 2.1 (VPS,
    /// SPS, PPS): profile space 0, Main, compatibility flags 0x60000000,
    /// constraint bytes 0x90 then zeros, 4-byte lengths.
    pub fn x265_hvcc_640x360() -> Vec<u8> {
        let hex = concat!(
            "0101600000009000000000003ff000fcfdf8f800000f03a00001001840010c01ffff016000000300",
            "90000003000003003f959809a10001002a42010101600000030090000003000003003fa005020169",
            "65959a4932bc05a02000000300200000030321a2000100074401c172b46240",
        );
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_fixtures::x265_hvcc_640x360;
    use super::*;

    #[test]
    fn the_codec_string_names_profile_compatibility_tier_level_and_constraints() {
        let config = HevcDecoderConfig::from_hvcc(&x265_hvcc_640x360()).expect("parses");
        assert_eq!(config.codec_string(), "hvc1.1.6.L63.90");
        assert_eq!(config.length_size(), 4);
        assert_eq!(config.as_bytes(), x265_hvcc_640x360().as_slice());
    }

    #[test]
    fn a_main_10_high_tier_record_with_a_profile_space_is_spelled_out() {
        let mut record = x265_hvcc_640x360();
        // profile_space 2, high tier, Main 10 (profile 2, compatible with 2).
        record[1] = (2 << 6) | (1 << 5) | 2;
        record[2..6].copy_from_slice(&0x2000_0000u32.to_be_bytes());
        record[6..12].copy_from_slice(&[0xb0, 0, 0, 0, 0, 0x01]);
        record[12] = 153;
        let config = HevcDecoderConfig::from_hvcc(&record).expect("parses");
        assert_eq!(config.codec_string(), "hvc1.B2.4.H153.B0.0.0.0.0.1");
    }

    #[test]
    fn no_constraint_bytes_leave_the_string_at_the_level() {
        let mut record = x265_hvcc_640x360();
        record[6..12].fill(0);
        record[12] = 93;
        let config = HevcDecoderConfig::from_hvcc(&record).expect("parses");
        assert_eq!(config.codec_string(), "hvc1.1.6.L93");
    }

    #[test]
    fn a_record_cut_short_or_without_its_parameter_sets_is_refused() {
        let record = x265_hvcc_640x360();
        assert!(matches!(
            HevcDecoderConfig::from_hvcc(&record[..20]),
            Err(HevcError::InvalidHvcC(_))
        ));
        // The 23-byte header with no arrays: no VPS.
        let mut header = record[..23].to_vec();
        header[22] = 0;
        assert_eq!(
            HevcDecoderConfig::from_hvcc(&header),
            Err(HevcError::MissingParameterSet("VPS"))
        );
        let mut wrong_version = record.clone();
        wrong_version[0] = 2;
        assert!(HevcDecoderConfig::from_hvcc(&wrong_version).is_err());
    }
}
