//! H.264 sequence parameter set parsing (ITU-T H.264 7.3.2.1.1), up to the
//! frame cropping fields: enough for profile/level, the avcC high-profile
//! fields, picture order count parameters and the displayed picture size.

use crate::bits::{BitReader, OutOfBits};

use super::{H264Error, NAL_SPS, annexb::nal_to_rbsp, nal_type};

/// The fields of a sequence parameter set this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    /// `profile_idc` (66 baseline, 77 main, 100 high, ...).
    pub profile_idc: u8,
    /// The byte holding `constraint_set0_flag`..`constraint_set5_flag` and the reserved bits.
    pub constraint_flags: u8,
    /// `level_idc` (31 = level 3.1).
    pub level_idc: u8,
    /// `seq_parameter_set_id`.
    pub seq_parameter_set_id: u32,
    /// `chroma_format_idc` (1 = 4:2:0, the default when absent).
    pub chroma_format_idc: u32,
    /// `separate_colour_plane_flag`.
    pub separate_colour_plane: bool,
    /// Luma bit depth (8 when absent).
    pub bit_depth_luma: u32,
    /// Chroma bit depth (8 when absent).
    pub bit_depth_chroma: u32,
    /// `log2_max_frame_num_minus4 + 4`.
    pub log2_max_frame_num: u32,
    /// `pic_order_cnt_type` (0, 1 or 2).
    pub pic_order_cnt_type: u32,
    /// `log2_max_pic_order_cnt_lsb_minus4 + 4` (only meaningful for type 0; 0 otherwise).
    pub log2_max_pic_order_cnt_lsb: u32,
    /// `frame_mbs_only_flag` (false for interlaced-capable streams).
    pub frame_mbs_only: bool,
    /// Displayed width in pixels (after cropping).
    pub width: u32,
    /// Displayed height in pixels (after cropping).
    pub height: u32,
}

/// Profiles whose SPS carries `chroma_format_idc` and bit depths (7.3.2.1.1).
fn has_chroma_fields(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

impl Sps {
    /// Parses an SPS NAL unit (with its one-byte NAL header, emulation prevention bytes included).
    pub fn parse(nal: &[u8]) -> Result<Self, H264Error> {
        if nal_type(nal) != Some(NAL_SPS) {
            return Err(H264Error::InvalidSps("not an SPS NAL unit"));
        }
        let rbsp = nal_to_rbsp(&nal[1..]);
        Self::parse_rbsp(&rbsp).map_err(|OutOfBits| H264Error::InvalidSps("truncated"))?
    }

    fn parse_rbsp(rbsp: &[u8]) -> Result<Result<Self, H264Error>, OutOfBits> {
        let mut r = BitReader::new(rbsp);
        let profile_idc = r.read_bits(8)? as u8;
        let constraint_flags = r.read_bits(8)? as u8;
        let level_idc = r.read_bits(8)? as u8;
        let seq_parameter_set_id = r.read_ue()?;
        if seq_parameter_set_id > 31 {
            return Ok(Err(H264Error::InvalidSps("seq_parameter_set_id above 31")));
        }

        let mut chroma_format_idc = 1;
        let mut separate_colour_plane = false;
        let mut bit_depth_luma = 8;
        let mut bit_depth_chroma = 8;
        if has_chroma_fields(profile_idc) {
            chroma_format_idc = r.read_ue()?;
            if chroma_format_idc > 3 {
                return Ok(Err(H264Error::InvalidSps("chroma_format_idc above 3")));
            }
            if chroma_format_idc == 3 {
                separate_colour_plane = r.read_bit()?;
            }
            // Saturating: a hostile ue(v) near u32::MAX is rejected below, not overflowed.
            bit_depth_luma = r.read_ue()?.saturating_add(8);
            bit_depth_chroma = r.read_ue()?.saturating_add(8);
            if bit_depth_luma > 14 || bit_depth_chroma > 14 {
                return Ok(Err(H264Error::InvalidSps("bit depth above 14")));
            }
            let _qpprime_y_zero_transform_bypass = r.read_bit()?;
            let seq_scaling_matrix_present = r.read_bit()?;
            if seq_scaling_matrix_present {
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for index in 0..lists {
                    if r.read_bit()? {
                        skip_scaling_list(&mut r, if index < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }

        let log2_max_frame_num = r.read_ue()?.saturating_add(4);
        if log2_max_frame_num > 16 {
            return Ok(Err(H264Error::InvalidSps("log2_max_frame_num above 16")));
        }
        let pic_order_cnt_type = r.read_ue()?;
        let mut log2_max_pic_order_cnt_lsb = 0;
        match pic_order_cnt_type {
            0 => {
                log2_max_pic_order_cnt_lsb = r.read_ue()?.saturating_add(4);
                if log2_max_pic_order_cnt_lsb > 16 {
                    return Ok(Err(H264Error::InvalidSps(
                        "log2_max_pic_order_cnt_lsb above 16",
                    )));
                }
            }
            1 => {
                let _delta_pic_order_always_zero = r.read_bit()?;
                let _offset_for_non_ref_pic = r.read_se()?;
                let _offset_for_top_to_bottom_field = r.read_se()?;
                let cycle = r.read_ue()?;
                if cycle > 255 {
                    return Ok(Err(H264Error::InvalidSps(
                        "num_ref_frames_in_pic_order_cnt_cycle above 255",
                    )));
                }
                for _ in 0..cycle {
                    let _offset_for_ref_frame = r.read_se()?;
                }
            }
            2 => {}
            _ => return Ok(Err(H264Error::InvalidSps("pic_order_cnt_type above 2"))),
        }
        let _max_num_ref_frames = r.read_ue()?;
        let _gaps_in_frame_num_allowed = r.read_bit()?;
        let width_in_mbs = u64::from(r.read_ue()?) + 1;
        let height_in_map_units = u64::from(r.read_ue()?) + 1;
        let frame_mbs_only = r.read_bit()?;
        if !frame_mbs_only {
            let _mb_adaptive_frame_field = r.read_bit()?;
        }
        let _direct_8x8_inference = r.read_bit()?;
        let (mut crop_left, mut crop_right, mut crop_top, mut crop_bottom) = (0u64, 0, 0, 0);
        if r.read_bit()? {
            crop_left = u64::from(r.read_ue()?);
            crop_right = u64::from(r.read_ue()?);
            crop_top = u64::from(r.read_ue()?);
            crop_bottom = u64::from(r.read_ue()?);
        }

        let frame_height_factor = if frame_mbs_only { 1 } else { 2 };
        let chroma_array_type = if separate_colour_plane {
            0
        } else {
            chroma_format_idc
        };
        let (crop_unit_x, crop_unit_y) = match chroma_array_type {
            0 => (1, frame_height_factor),
            1 => (2, 2 * frame_height_factor),
            2 => (2, frame_height_factor),
            _ => (1, frame_height_factor),
        };
        let coded_width = width_in_mbs * 16;
        let coded_height = frame_height_factor * height_in_map_units * 16;
        let cropped_x = (crop_left + crop_right) * crop_unit_x;
        let cropped_y = (crop_top + crop_bottom) * crop_unit_y;
        if cropped_x >= coded_width || cropped_y >= coded_height {
            return Ok(Err(H264Error::InvalidSps(
                "cropping removes the whole picture",
            )));
        }
        let (Ok(width), Ok(height)) = (
            u32::try_from(coded_width - cropped_x),
            u32::try_from(coded_height - cropped_y),
        ) else {
            return Ok(Err(H264Error::InvalidSps("picture size out of range")));
        };

        Ok(Ok(Self {
            profile_idc,
            constraint_flags,
            level_idc,
            seq_parameter_set_id,
            chroma_format_idc,
            separate_colour_plane,
            bit_depth_luma,
            bit_depth_chroma,
            log2_max_frame_num,
            pic_order_cnt_type,
            log2_max_pic_order_cnt_lsb,
            frame_mbs_only,
            width,
            height,
        }))
    }
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), OutOfBits> {
    let mut last_scale: i32 = 8;
    let mut next_scale: i32 = 8;
    for _ in 0..size {
        if next_scale != 0 {
            let delta_scale = r.read_se()?;
            // Wrapping keeps the value mod 256 (256 divides 2^32) and an
            // out-of-range delta_scale from a hostile stream cannot overflow.
            next_scale = last_scale.wrapping_add(delta_scale).rem_euclid(256);
        }
        if next_scale != 0 {
            last_scale = next_scale;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::test_fixtures::X264_HIGH_320X240_SPS as X264_HIGH_320X240;

    /// SPS written by libx264 for 1920x1080 constrained baseline, level 4.0 (1088 coded rows, cropped).
    const BASELINE_1080P: [u8; 26] = [
        0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03,
        0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20,
    ];

    #[test]
    fn parses_a_libx264_high_profile_sps() {
        let sps = Sps::parse(&X264_HIGH_320X240).unwrap();
        assert_eq!(sps.profile_idc, 100);
        assert_eq!(sps.constraint_flags, 0);
        assert_eq!(sps.level_idc, 13);
        assert_eq!(sps.chroma_format_idc, 1);
        assert_eq!(sps.bit_depth_luma, 8);
        assert_eq!(sps.bit_depth_chroma, 8);
        assert_eq!(sps.pic_order_cnt_type, 0);
        assert!(sps.frame_mbs_only);
        assert_eq!((sps.width, sps.height), (320, 240));
    }

    #[test]
    fn applies_frame_cropping_to_the_picture_size() {
        let sps = Sps::parse(&BASELINE_1080P).unwrap();
        assert_eq!(sps.profile_idc, 66);
        assert_eq!(sps.constraint_flags, 0xc0);
        assert_eq!(sps.level_idc, 40);
        assert_eq!((sps.width, sps.height), (1920, 1080));
    }

    #[test]
    fn rejects_non_sps_and_truncated_data() {
        assert!(matches!(
            Sps::parse(&[0x68, 0xee, 0x3c, 0x80]),
            Err(H264Error::InvalidSps(_))
        ));
        assert!(matches!(
            Sps::parse(&X264_HIGH_320X240[..6]),
            Err(H264Error::InvalidSps(_))
        ));
    }
}
