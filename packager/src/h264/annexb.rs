//! H.264 byte-stream (Annex B) handling: splitting at start codes, turning
//! access units into 4-byte length-prefixed NAL units, and removing emulation
//! prevention bytes.

use super::nal_type;

/// Iterator over the NAL units of an Annex B byte stream, start codes removed.
///
/// Bytes before the first start code are skipped; trailing zero bytes of a
/// NAL unit (`trailing_zero_8bits`, or the first byte of a 4-byte start code)
/// are not part of it; empty NAL units are skipped.
#[derive(Debug, Clone)]
pub struct AnnexBNalUnits<'a> {
    rest: &'a [u8],
}

/// The NAL units of an Annex B byte stream (see [`AnnexBNalUnits`]).
pub fn annexb_nal_units(data: &[u8]) -> AnnexBNalUnits<'_> {
    let rest = match find_start_code(data) {
        Some(position) => &data[position + 3..],
        None => &[],
    };
    AnnexBNalUnits { rest }
}

impl<'a> Iterator for AnnexBNalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let (nal, rest) = match find_start_code(self.rest) {
                Some(position) => (&self.rest[..position], &self.rest[position + 3..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let nal = trim_trailing_zeros(nal);
            if !nal.is_empty() {
                return Some(nal);
            }
        }
        None
    }
}

/// True if the data starts with an Annex B start code (`00 00 01` or `00 00 00 01`).
pub fn starts_with_start_code(data: &[u8]) -> bool {
    data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1])
}

/// Annex B access unit -> 4-byte length-prefixed NAL units (AVCC sample form).
///
/// Access unit delimiters are dropped (they carry nothing a CMAF sample needs);
/// every other NAL unit, including in-band SPS/PPS and SEI, is kept in order.
pub fn annexb_to_length_prefixed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for nal in annexb_nal_units(data) {
        if nal_type(nal) == Some(super::NAL_AUD) {
            continue;
        }
        // A NAL unit longer than 4 GiB cannot exist in a Vec on the platforms we build for.
        let length = u32::try_from(nal.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// Iterator over 4-byte length-prefixed NAL units (the AVCC sample form).
/// Stops at the first truncated length or payload.
#[derive(Debug, Clone)]
pub struct LengthPrefixedNalUnits<'a> {
    rest: &'a [u8],
}

/// The NAL units of a sample in 4-byte length-prefixed form.
pub fn length_prefixed_nal_units(data: &[u8]) -> LengthPrefixedNalUnits<'_> {
    LengthPrefixedNalUnits { rest: data }
}

impl<'a> Iterator for LengthPrefixedNalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (length, rest) = self.rest.split_first_chunk::<4>()?;
        let length = u32::from_be_bytes(*length) as usize;
        if rest.len() < length {
            self.rest = &[];
            return None;
        }
        let (nal, rest) = rest.split_at(length);
        self.rest = rest;
        Some(nal)
    }
}

/// Removes emulation prevention bytes (`00 00 03` -> `00 00`): NAL payload -> RBSP.
pub fn nal_to_rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0usize;
    for &byte in nal {
        if zeros >= 2 && byte == 3 {
            zeros = 0;
            continue;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        out.push(byte);
    }
    out
}

fn find_start_code(data: &[u8]) -> Option<usize> {
    data.windows(3).position(|window| window == [0, 0, 1])
}

fn trim_trailing_zeros(nal: &[u8]) -> &[u8] {
    let end = nal.iter().rposition(|&byte| byte != 0).map_or(0, |i| i + 1);
    &nal[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_three_and_four_byte_start_codes() {
        let stream = [
            0, 0, 0, 1, 0x09, 0xf0, // AUD
            0, 0, 1, 0x67, 0x64, 0x00, // SPS
            0, 0, 0, 1, 0x68, 0xee, // PPS
            0, 0, 1, 0x65, 0x88, 0x00, 0x00, // IDR with trailing zeros
        ];
        let nals: Vec<&[u8]> = annexb_nal_units(&stream).collect();
        assert_eq!(
            nals,
            vec![
                &[0x09, 0xf0][..],
                &[0x67, 0x64][..],
                &[0x68, 0xee][..],
                &[0x65, 0x88][..],
            ]
        );
    }

    #[test]
    fn bytes_before_the_first_start_code_are_ignored() {
        let stream = [0xaa, 0xbb, 0, 0, 1, 0x41, 0x9a];
        let nals: Vec<&[u8]> = annexb_nal_units(&stream).collect();
        assert_eq!(nals, vec![&[0x41, 0x9a][..]]);
        assert_eq!(annexb_nal_units(&[0x41, 0x9a]).count(), 0);
    }

    #[test]
    fn length_prefixed_conversion_drops_access_unit_delimiters_only() {
        let stream = [
            0, 0, 0, 1, 0x09, 0xf0, // AUD: dropped
            0, 0, 0, 1, 0x06, 0x05, 0x01, // SEI: kept
            0, 0, 1, 0x65, 0x88, 0x84, // IDR: kept
        ];
        let converted = annexb_to_length_prefixed(&stream);
        assert_eq!(
            converted,
            vec![0, 0, 0, 3, 0x06, 0x05, 0x01, 0, 0, 0, 3, 0x65, 0x88, 0x84]
        );
        let back: Vec<&[u8]> = length_prefixed_nal_units(&converted).collect();
        assert_eq!(back, vec![&[0x06, 0x05, 0x01][..], &[0x65, 0x88, 0x84][..]]);
    }

    #[test]
    fn truncated_length_prefixed_data_stops_iteration() {
        let data = [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 9, 0x41];
        let nals: Vec<&[u8]> = length_prefixed_nal_units(&data).collect();
        assert_eq!(nals, vec![&[0x65, 0x88][..]]);
    }

    #[test]
    fn emulation_prevention_bytes_are_removed() {
        assert_eq!(
            nal_to_rbsp(&[0x67, 0, 0, 3, 1, 0, 0, 3, 0, 0, 0, 3]),
            vec![0x67, 0, 0, 1, 0, 0, 0, 0, 0]
        );
        assert_eq!(nal_to_rbsp(&[0, 3, 0, 3]), vec![0, 3, 0, 3]);
    }

    #[test]
    fn start_code_detection() {
        assert!(starts_with_start_code(&[0, 0, 1, 0x67]));
        assert!(starts_with_start_code(&[0, 0, 0, 1, 0x67]));
        assert!(!starts_with_start_code(&[1, 0x64, 0, 0x1f]));
    }
}
