//! H.264 pieces the packager needs: the avcC decoder configuration record
//! (ISO/IEC 14496-15 5.3.3.1) built from encoder extradata, its RFC 6381
//! codec string, SPS parsing, and Annex B <-> length-prefixed conversion.

mod annexb;
mod sps;

use bytes::Bytes;

pub use annexb::{
    AnnexBNalUnits, LengthPrefixedNalUnits, annexb_nal_units, annexb_to_length_prefixed,
    length_prefixed_nal_units, nal_to_rbsp, starts_with_start_code,
};
pub use sps::Sps;

/// `nal_unit_type` of a coded slice of a non-IDR picture.
pub const NAL_SLICE: u8 = 1;
/// `nal_unit_type` of a coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// `nal_unit_type` of supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// `nal_unit_type` of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// `nal_unit_type` of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// `nal_unit_type` of an access unit delimiter.
pub const NAL_AUD: u8 = 9;
/// `nal_unit_type` of a sequence parameter set extension.
pub const NAL_SPS_EXT: u8 = 13;

/// The `nal_unit_type` (low 5 bits of the first byte) of a NAL unit, `None` if it is empty.
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|header| header & 0x1f)
}

/// Why H.264 configuration data was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum H264Error {
    /// The extradata was empty.
    #[error("H.264 extradata is empty (H.264 扩展数据为空)")]
    EmptyExtradata,
    /// No sequence parameter set was found.
    #[error("H.264 configuration has no SPS (H.264 配置缺少 SPS)")]
    MissingSps,
    /// No picture parameter set was found.
    #[error("H.264 configuration has no PPS (H.264 配置缺少 PPS)")]
    MissingPps,
    /// An avcC record could not be parsed.
    #[error("invalid avcC record: {0} (avcC 记录无效)")]
    InvalidAvcC(&'static str),
    /// A sequence parameter set could not be parsed.
    #[error("invalid H.264 SPS: {0} (H.264 SPS 无效)")]
    InvalidSps(&'static str),
    /// More parameter sets than an avcC record can carry (31 SPS, 255 PPS).
    #[error("too many H.264 parameter sets for an avcC record (H.264 参数集过多)")]
    TooManyParameterSets,
    /// A parameter set longer than 65535 bytes.
    #[error("H.264 parameter set of {0} bytes is too long for avcC (H.264 参数集过长)")]
    ParameterSetTooLong(usize),
}

/// Profiles whose avcC record carries the chroma format / bit depth extension
/// (ISO/IEC 14496-15 5.3.3.1.2).
fn avcc_has_extension(profile_indication: u8) -> bool {
    matches!(profile_indication, 100 | 110 | 122 | 144)
}

/// An AVC decoder configuration record (the payload of an `avcC` box).
///
/// Samples described by it are written with 4-byte NAL length prefixes
/// (`lengthSizeMinusOne = 3`), whatever the source record said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcDecoderConfig {
    profile_indication: u8,
    profile_compatibility: u8,
    level_indication: u8,
    sps: Vec<Bytes>,
    pps: Vec<Bytes>,
    sps_ext: Vec<Bytes>,
    first_sps: Sps,
}

impl AvcDecoderConfig {
    /// From encoder extradata: Annex B (start codes, as libx264 gives with
    /// `AV_CODEC_FLAG_GLOBAL_HEADER`) or an avcC record (first byte 1).
    pub fn from_extradata(extradata: &[u8]) -> Result<Self, H264Error> {
        match extradata.first() {
            None => Err(H264Error::EmptyExtradata),
            // An Annex B stream starts with a zero byte; avcC with configurationVersion 1.
            Some(1) => Self::from_avcc(extradata),
            Some(_) => Self::from_parameter_sets(annexb_nal_units(extradata)),
        }
    }

    /// From NAL units (SPS, PPS, SPS extension; anything else is ignored).
    /// Repeated identical parameter sets are kept once.
    pub fn from_parameter_sets<'a>(
        nal_units: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, H264Error> {
        let (mut sps, mut pps, mut sps_ext) = (Vec::new(), Vec::new(), Vec::new());
        for nal in nal_units {
            let list = match nal_type(nal) {
                Some(NAL_SPS) => &mut sps,
                Some(NAL_PPS) => &mut pps,
                Some(NAL_SPS_EXT) => &mut sps_ext,
                _ => continue,
            };
            if !list.iter().any(|known: &Bytes| known.as_ref() == nal) {
                list.push(Bytes::copy_from_slice(nal));
            }
        }
        Self::from_lists(sps, pps, sps_ext)
    }

    /// From an avcC record (ISO/IEC 14496-15 5.3.3.1). The chroma/bit depth
    /// extension, if present, is recomputed from the SPS rather than trusted.
    pub fn from_avcc(record: &[u8]) -> Result<Self, H264Error> {
        let mut rest = record;
        let header = take(&mut rest, 6).ok_or(H264Error::InvalidAvcC("truncated header"))?;
        if header[0] != 1 {
            return Err(H264Error::InvalidAvcC("configurationVersion is not 1"));
        }
        let sps_count = header[5] & 0x1f;
        let mut sps = Vec::with_capacity(usize::from(sps_count));
        for _ in 0..sps_count {
            sps.push(take_parameter_set(&mut rest)?);
        }
        let pps_count = *take(&mut rest, 1)
            .ok_or(H264Error::InvalidAvcC("truncated PPS count"))?
            .first()
            .ok_or(H264Error::InvalidAvcC("truncated PPS count"))?;
        let mut pps = Vec::with_capacity(usize::from(pps_count));
        for _ in 0..pps_count {
            pps.push(take_parameter_set(&mut rest)?);
        }
        let mut sps_ext = Vec::new();
        if avcc_has_extension(header[1]) && rest.len() >= 4 {
            let count = rest[3];
            rest = &rest[4..];
            for _ in 0..count {
                sps_ext.push(take_parameter_set(&mut rest)?);
            }
        }
        let mut config = Self::from_lists(sps, pps, sps_ext)?;
        // The record's own profile fields win: some encoders signal a wider
        // compatibility byte in avcC than in the SPS.
        config.profile_indication = header[1];
        config.profile_compatibility = header[2];
        config.level_indication = header[3];
        Ok(config)
    }

    fn from_lists(
        sps: Vec<Bytes>,
        pps: Vec<Bytes>,
        sps_ext: Vec<Bytes>,
    ) -> Result<Self, H264Error> {
        let first = sps.first().ok_or(H264Error::MissingSps)?;
        if pps.is_empty() {
            return Err(H264Error::MissingPps);
        }
        if sps.len() > 31 || pps.len() > 255 || sps_ext.len() > 255 {
            return Err(H264Error::TooManyParameterSets);
        }
        if let Some(long) = sps
            .iter()
            .chain(&pps)
            .chain(&sps_ext)
            .find(|p| p.len() > 0xffff)
        {
            return Err(H264Error::ParameterSetTooLong(long.len()));
        }
        let first_sps = Sps::parse(first)?;
        Ok(Self {
            profile_indication: first_sps.profile_idc,
            profile_compatibility: first_sps.constraint_flags,
            level_indication: first_sps.level_idc,
            sps,
            pps,
            sps_ext,
            first_sps,
        })
    }

    /// The avcC record (what goes inside the `avcC` box), with 4-byte NAL lengths.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + self
                .sps
                .iter()
                .chain(&self.pps)
                .chain(&self.sps_ext)
                .map(|p| p.len() + 2)
                .sum::<usize>(),
        );
        out.extend_from_slice(&[
            1,
            self.profile_indication,
            self.profile_compatibility,
            self.level_indication,
            0xfc | 3,
            // Counts are bounded by the constructor (31 / 255).
            0xe0 | (self.sps.len() as u8),
        ]);
        push_parameter_sets(&mut out, &self.sps);
        out.push(self.pps.len() as u8);
        push_parameter_sets(&mut out, &self.pps);
        if avcc_has_extension(self.profile_indication) {
            let sps = &self.first_sps;
            out.push(0xfc | (sps.chroma_format_idc as u8 & 0x03));
            out.push(0xf8 | ((sps.bit_depth_luma - 8) as u8 & 0x07));
            out.push(0xf8 | ((sps.bit_depth_chroma - 8) as u8 & 0x07));
            out.push(self.sps_ext.len() as u8);
            push_parameter_sets(&mut out, &self.sps_ext);
        }
        out
    }

    /// RFC 6381 codec string, e.g. `avc1.64001f` (High, level 3.1).
    pub fn codec_string(&self) -> String {
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            self.profile_indication, self.profile_compatibility, self.level_indication
        )
    }

    /// `AVCProfileIndication` (66 baseline, 77 main, 100 high).
    pub fn profile_indication(&self) -> u8 {
        self.profile_indication
    }

    /// `profile_compatibility` (the constraint flags byte).
    pub fn profile_compatibility(&self) -> u8 {
        self.profile_compatibility
    }

    /// `AVCLevelIndication` (31 = level 3.1).
    pub fn level_indication(&self) -> u8 {
        self.level_indication
    }

    /// The sequence parameter sets, NAL header included.
    pub fn sps(&self) -> &[Bytes] {
        &self.sps
    }

    /// The picture parameter sets, NAL header included.
    pub fn pps(&self) -> &[Bytes] {
        &self.pps
    }

    /// The parsed first SPS (picture size, chroma format, POC parameters).
    pub fn parsed_sps(&self) -> &Sps {
        &self.first_sps
    }
}

fn take<'a>(rest: &mut &'a [u8], count: usize) -> Option<&'a [u8]> {
    if rest.len() < count {
        return None;
    }
    let (head, tail) = rest.split_at(count);
    *rest = tail;
    Some(head)
}

fn take_parameter_set(rest: &mut &[u8]) -> Result<Bytes, H264Error> {
    let length = take(rest, 2).ok_or(H264Error::InvalidAvcC("truncated parameter set length"))?;
    let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
    let data = take(rest, length).ok_or(H264Error::InvalidAvcC("truncated parameter set"))?;
    Ok(Bytes::copy_from_slice(data))
}

fn push_parameter_sets(out: &mut Vec<u8>, sets: &[Bytes]) {
    for set in sets {
        // Lengths are bounded to 65535 by the constructor.
        out.extend_from_slice(&(set.len() as u16).to_be_bytes());
        out.extend_from_slice(set);
    }
}

#[cfg(test)]
pub(crate) mod test_fixtures {
    /// SPS written by libx264 (ffmpeg 5.1) for 320x240 High profile, level 1.3.
    pub(crate) const X264_HIGH_320X240_SPS: [u8; 25] = [
        0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
        0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60,
    ];
    /// The PPS written with it.
    pub(crate) const X264_HIGH_320X240_PPS: [u8; 6] = [0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

    /// Annex B extradata as libx264 gives it with a global header.
    pub(crate) fn x264_annexb_extradata() -> Vec<u8> {
        let mut extradata = vec![0, 0, 0, 1];
        extradata.extend_from_slice(&X264_HIGH_320X240_SPS);
        extradata.extend_from_slice(&[0, 0, 0, 1]);
        extradata.extend_from_slice(&X264_HIGH_320X240_PPS);
        extradata
    }
}

#[cfg(test)]
mod tests {
    use super::test_fixtures::*;
    use super::*;

    #[test]
    fn annexb_extradata_yields_sps_pps_and_the_high_profile_codec_string() {
        let config = AvcDecoderConfig::from_extradata(&x264_annexb_extradata()).unwrap();
        assert_eq!(config.sps(), &[Bytes::from_static(&X264_HIGH_320X240_SPS)]);
        assert_eq!(config.pps(), &[Bytes::from_static(&X264_HIGH_320X240_PPS)]);
        assert_eq!(config.profile_indication(), 100);
        assert_eq!(config.level_indication(), 13);
        assert_eq!(config.codec_string(), "avc1.64000d");
        assert_eq!(
            (config.parsed_sps().width, config.parsed_sps().height),
            (320, 240)
        );
    }

    #[test]
    fn avcc_record_layout_has_4_byte_lengths_and_the_high_profile_extension() {
        let config = AvcDecoderConfig::from_extradata(&x264_annexb_extradata()).unwrap();
        let record = config.to_bytes();
        let mut expected = vec![1, 0x64, 0x00, 0x0d, 0xff, 0xe1, 0x00, 25];
        expected.extend_from_slice(&X264_HIGH_320X240_SPS);
        expected.extend_from_slice(&[1, 0x00, 6]);
        expected.extend_from_slice(&X264_HIGH_320X240_PPS);
        // chroma_format_idc 1, bit depths 8/8, no SPS extensions.
        expected.extend_from_slice(&[0xfd, 0xf8, 0xf8, 0x00]);
        assert_eq!(record, expected);
    }

    #[test]
    fn avcc_extradata_round_trips() {
        let config = AvcDecoderConfig::from_extradata(&x264_annexb_extradata()).unwrap();
        let again = AvcDecoderConfig::from_extradata(&config.to_bytes()).unwrap();
        assert_eq!(again, config);
        assert_eq!(again.to_bytes(), config.to_bytes());
    }

    #[test]
    fn avcc_profile_fields_are_taken_from_the_record() {
        let mut record = AvcDecoderConfig::from_extradata(&x264_annexb_extradata())
            .unwrap()
            .to_bytes();
        record[3] = 0x1f; // level 3.1 in the record
        let config = AvcDecoderConfig::from_avcc(&record).unwrap();
        assert_eq!(config.codec_string(), "avc1.64001f");
    }

    #[test]
    fn codec_string_formats_profile_constraints_and_level_as_lowercase_hex() {
        let baseline_sps = [
            0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44, 0x00, 0x00,
            0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20,
        ];
        let pps = [0x68, 0xcb, 0x83, 0xcb, 0x20];
        let config = AvcDecoderConfig::from_parameter_sets([&baseline_sps[..], &pps[..]]).unwrap();
        assert_eq!(config.codec_string(), "avc1.42c028");
        // No extension bytes for baseline.
        assert_eq!(config.to_bytes().len(), 6 + 2 + 26 + 1 + 2 + 5);
    }

    #[test]
    fn repeated_parameter_sets_are_kept_once_and_other_nal_units_ignored() {
        let mut stream = x264_annexb_extradata();
        stream.extend_from_slice(&[0, 0, 1, 0x09, 0xf0]);
        stream.extend(x264_annexb_extradata());
        let config = AvcDecoderConfig::from_extradata(&stream).unwrap();
        assert_eq!(config.sps().len(), 1);
        assert_eq!(config.pps().len(), 1);
    }

    #[test]
    fn missing_or_broken_parameter_sets_are_errors() {
        assert_eq!(
            AvcDecoderConfig::from_extradata(&[]),
            Err(H264Error::EmptyExtradata)
        );
        let mut only_pps = vec![0, 0, 0, 1];
        only_pps.extend_from_slice(&X264_HIGH_320X240_PPS);
        assert_eq!(
            AvcDecoderConfig::from_extradata(&only_pps),
            Err(H264Error::MissingSps)
        );
        let mut only_sps = vec![0, 0, 0, 1];
        only_sps.extend_from_slice(&X264_HIGH_320X240_SPS);
        assert_eq!(
            AvcDecoderConfig::from_extradata(&only_sps),
            Err(H264Error::MissingPps)
        );
        let record = AvcDecoderConfig::from_extradata(&x264_annexb_extradata())
            .unwrap()
            .to_bytes();
        assert!(matches!(
            AvcDecoderConfig::from_extradata(&record[..20]),
            Err(H264Error::InvalidAvcC(_))
        ));
    }

    #[test]
    fn nal_type_reads_the_low_five_bits() {
        assert_eq!(nal_type(&[0x65, 0x88]), Some(NAL_IDR));
        assert_eq!(nal_type(&[0x41]), Some(NAL_SLICE));
        assert_eq!(nal_type(&[]), None);
    }
}
