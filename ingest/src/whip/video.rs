//! Pure turning of depacketized WebRTC video frames into live events: H.264
//! access units (Annex B, as the RTP depacketizer gives them) into an avcC
//! configuration and length-prefixed access units; VP8 and VP9 frames into
//! a size-carrying configuration and frames. Frames are held back until a
//! keyframe (at the start, and after any loss), and the caller is told to
//! ask the publisher for one.

use bytes::Bytes;
use yanxiu_packager::h264::{
    AvcDecoderConfig, annexb_nal_units, annexb_to_length_prefixed, nal_type,
};

use crate::publish::{LiveEvent, VpxCodec};

/// H.264 NAL unit type of an IDR slice.
const NAL_IDR: u8 = 5;

/// What became of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameOutcome {
    /// Events were emitted; `keyframe` says whether it was one.
    Emitted {
        /// The frame was a keyframe.
        keyframe: bool,
    },
    /// The frame was dropped while waiting for a keyframe: ask for one.
    AwaitingKeyframe,
    /// The frame carried nothing usable (empty, or unparsable parameter sets).
    Unusable,
}

/// The video codec of a WebRTC publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebRtcVideoCodec {
    /// H.264: passed through and laddered.
    H264,
    /// VP8 or VP9: decoded and laddered.
    Vpx(VpxCodec),
}

/// Assembles one publisher's video frames into live events.
#[derive(Debug)]
pub struct VideoAssembler {
    codec: WebRtcVideoCodec,
    /// The last configuration sent (avcC bytes, or the VPX size).
    avcc: Option<Bytes>,
    vpx_size: Option<(u32, u32)>,
    awaiting_keyframe: bool,
}

impl VideoAssembler {
    /// An assembler waiting for the first keyframe of `codec`.
    pub fn new(codec: WebRtcVideoCodec) -> Self {
        Self {
            codec,
            avcc: None,
            vpx_size: None,
            awaiting_keyframe: true,
        }
    }

    /// The codec.
    pub fn codec(&self) -> WebRtcVideoCodec {
        self.codec
    }

    /// Frames were lost before the next one: hold everything back until
    /// the next keyframe.
    pub fn lost(&mut self) {
        self.awaiting_keyframe = true;
    }

    /// One depacketized frame at `ts_ms`; events go to `out`.
    pub fn frame(&mut self, data: &[u8], ts_ms: u32, out: &mut Vec<LiveEvent>) -> FrameOutcome {
        match self.codec {
            WebRtcVideoCodec::H264 => self.h264(data, ts_ms, out),
            WebRtcVideoCodec::Vpx(codec) => self.vpx(codec, data, ts_ms, out),
        }
    }

    fn h264(&mut self, annexb: &[u8], ts_ms: u32, out: &mut Vec<LiveEvent>) -> FrameOutcome {
        let mut keyframe = false;
        let mut has_parameter_sets = false;
        let mut has_slices = false;
        for nal in annexb_nal_units(annexb) {
            match nal_type(nal) {
                Some(NAL_IDR) => {
                    keyframe = true;
                    has_slices = true;
                }
                Some(7 | 8) => has_parameter_sets = true,
                Some(1..=5) => has_slices = true,
                _ => {}
            }
        }
        if !has_slices {
            return FrameOutcome::Unusable;
        }
        if has_parameter_sets {
            match AvcDecoderConfig::from_parameter_sets(annexb_nal_units(annexb)) {
                Ok(config) => {
                    let avcc = Bytes::from(config.to_bytes());
                    if self.avcc.as_ref() != Some(&avcc) {
                        self.avcc = Some(avcc.clone());
                        out.push(LiveEvent::VideoConfig { avcc });
                    }
                }
                Err(_) => return FrameOutcome::Unusable,
            }
        }
        if self.avcc.is_none() || (self.awaiting_keyframe && !keyframe) {
            return FrameOutcome::AwaitingKeyframe;
        }
        self.awaiting_keyframe = false;
        out.push(LiveEvent::Video {
            dts_ms: ts_ms,
            cts_ms: 0,
            keyframe,
            data: Bytes::from(annexb_to_length_prefixed(annexb)),
        });
        FrameOutcome::Emitted { keyframe }
    }

    fn vpx(
        &mut self,
        codec: VpxCodec,
        frame: &[u8],
        ts_ms: u32,
        out: &mut Vec<LiveEvent>,
    ) -> FrameOutcome {
        let header = match codec {
            VpxCodec::Vp8 => vp8_header(frame),
            VpxCodec::Vp9 => vp9_header(frame),
        };
        let Some(header) = header else {
            return FrameOutcome::Unusable;
        };
        if let Some((width, height)) = header.keyframe_size {
            if self.vpx_size != Some((width, height)) {
                self.vpx_size = Some((width, height));
                out.push(LiveEvent::VpxConfig {
                    codec,
                    width,
                    height,
                });
            }
        } else if self.vpx_size.is_none() || self.awaiting_keyframe {
            return FrameOutcome::AwaitingKeyframe;
        }
        let keyframe = header.keyframe_size.is_some();
        self.awaiting_keyframe = false;
        out.push(LiveEvent::Video {
            dts_ms: ts_ms,
            cts_ms: 0,
            keyframe,
            data: Bytes::copy_from_slice(frame),
        });
        FrameOutcome::Emitted { keyframe }
    }
}

/// What a VP8/VP9 frame header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VpxHeader {
    /// The frame size, for keyframes.
    pub keyframe_size: Option<(u32, u32)>,
}

/// Reads a VP8 frame header (RFC 6386, 9.1): keyframe flag and, for
/// keyframes, the 14-bit width and height after the start code.
pub fn vp8_header(frame: &[u8]) -> Option<VpxHeader> {
    let tag = *frame.first()?;
    if tag & 1 != 0 {
        return Some(VpxHeader {
            keyframe_size: None,
        });
    }
    let header = frame.get(3..10)?;
    if header[..3] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u32::from(u16::from_le_bytes([header[3], header[4]]) & 0x3fff);
    let height = u32::from(u16::from_le_bytes([header[5], header[6]]) & 0x3fff);
    if width == 0 || height == 0 {
        return None;
    }
    Some(VpxHeader {
        keyframe_size: Some((width, height)),
    })
}

/// MSB-first bit reader over a byte slice.
struct Bits<'a> {
    data: &'a [u8],
    position: usize,
}

impl Bits<'_> {
    fn read(&mut self, count: u32) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..count {
            let byte = *self.data.get(self.position / 8)?;
            let bit = (byte >> (7 - (self.position % 8))) & 1;
            value = (value << 1) | u32::from(bit);
            self.position += 1;
        }
        Some(value)
    }
}

/// Reads a VP9 uncompressed frame header (VP9 bitstream spec 6.2) far
/// enough to tell a keyframe and its size. A superframe's first frame is
/// the one read (WebRTC sends one spatial layer per frame here).
pub fn vp9_header(frame: &[u8]) -> Option<VpxHeader> {
    let mut bits = Bits {
        data: frame,
        position: 0,
    };
    if bits.read(2)? != 2 {
        return None;
    }
    let profile_low = bits.read(1)?;
    let profile = (bits.read(1)? << 1) | profile_low;
    if profile == 3 {
        bits.read(1)?;
    }
    let not_key = |_| {
        Some(VpxHeader {
            keyframe_size: None,
        })
    };
    if bits.read(1)? == 1 {
        // show_existing_frame: a repeat of a decoded frame.
        return not_key(());
    }
    if bits.read(1)? != 0 {
        return not_key(());
    }
    // show_frame, error_resilient_mode
    bits.read(2)?;
    if bits.read(24)? != 0x49_83_42 {
        return None;
    }
    if profile >= 2 {
        bits.read(1)?; // ten_or_twelve_bit
    }
    let color_space = bits.read(3)?;
    if color_space != 7 {
        bits.read(1)?; // color_range
        if profile == 1 || profile == 3 {
            bits.read(3)?; // subsampling_x, subsampling_y, reserved_zero
        }
    } else if profile == 1 || profile == 3 {
        bits.read(1)?;
    }
    let width = bits.read(16)? + 1;
    let height = bits.read(16)? + 1;
    Some(VpxHeader {
        keyframe_size: Some((width, height)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A baseline SPS for 320x240 (as x264 writes it) and a PPS.
    const SPS: &[u8] = &[
        0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10,
        0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80,
    ];
    const PPS: &[u8] = &[0x68, 0xcb, 0x83, 0xcb, 0x20];

    fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for nal in nals {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
        out
    }

    #[test]
    fn an_h264_keyframe_with_parameter_sets_gives_a_config_then_a_length_prefixed_frame() {
        let mut assembler = VideoAssembler::new(WebRtcVideoCodec::H264);
        let mut out = Vec::new();
        let idr: &[u8] = &[0x65, 0x88, 0x84, 0x00];
        let outcome = assembler.frame(&annexb(&[SPS, PPS, idr]), 40, &mut out);
        assert_eq!(outcome, FrameOutcome::Emitted { keyframe: true });
        assert_eq!(out.len(), 2, "{out:?}");
        let LiveEvent::VideoConfig { avcc } = &out[0] else {
            panic!("config first: {out:?}")
        };
        let config = AvcDecoderConfig::from_avcc(avcc).unwrap();
        assert_eq!(
            (config.parsed_sps().width, config.parsed_sps().height),
            (320, 240)
        );
        let LiveEvent::Video {
            dts_ms,
            keyframe,
            data,
            ..
        } = &out[1]
        else {
            panic!("then the frame: {out:?}")
        };
        assert_eq!((*dts_ms, *keyframe), (40, true));
        assert_eq!(&data[..4], &(SPS.len() as u32).to_be_bytes());
        // The same parameter sets again do not repeat the configuration.
        out.clear();
        assembler.frame(&annexb(&[SPS, PPS, idr]), 80, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn h264_frames_before_the_first_keyframe_and_after_a_loss_are_held_back() {
        let mut assembler = VideoAssembler::new(WebRtcVideoCodec::H264);
        let mut out = Vec::new();
        let slice: &[u8] = &[0x41, 0x9a, 0x00];
        let idr: &[u8] = &[0x65, 0x88, 0x84, 0x00];
        assert_eq!(
            assembler.frame(&annexb(&[slice]), 0, &mut out),
            FrameOutcome::AwaitingKeyframe
        );
        assert!(out.is_empty());
        assembler.frame(&annexb(&[SPS, PPS, idr]), 33, &mut out);
        assert_eq!(
            assembler.frame(&annexb(&[slice]), 66, &mut out),
            FrameOutcome::Emitted { keyframe: false }
        );
        assembler.lost();
        out.clear();
        assert_eq!(
            assembler.frame(&annexb(&[slice]), 99, &mut out),
            FrameOutcome::AwaitingKeyframe
        );
        assert_eq!(
            assembler.frame(&annexb(&[idr]), 132, &mut out),
            FrameOutcome::Emitted { keyframe: true }
        );
    }

    #[test]
    fn h264_frames_without_slices_or_with_broken_parameter_sets_are_unusable() {
        let mut assembler = VideoAssembler::new(WebRtcVideoCodec::H264);
        let mut out = Vec::new();
        assert_eq!(assembler.frame(&[], 0, &mut out), FrameOutcome::Unusable);
        assert_eq!(
            assembler.frame(&annexb(&[SPS, PPS]), 0, &mut out),
            FrameOutcome::Unusable
        );
        let broken_sps: &[u8] = &[0x67, 0xff];
        let idr: &[u8] = &[0x65, 0x88];
        assert_eq!(
            assembler.frame(&annexb(&[broken_sps, PPS, idr]), 0, &mut out),
            FrameOutcome::Unusable
        );
        assert!(out.is_empty());
    }

    /// A VP8 keyframe header of `width`x`height` (frame tag, start code, size).
    fn vp8_key(width: u16, height: u16) -> Vec<u8> {
        let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        f.extend_from_slice(&width.to_le_bytes());
        f.extend_from_slice(&height.to_le_bytes());
        f.extend_from_slice(&[0; 8]);
        f
    }

    #[test]
    fn vp8_keyframes_carry_their_size_and_a_new_size_sends_a_new_config() {
        assert_eq!(
            vp8_header(&vp8_key(640, 480)),
            Some(VpxHeader {
                keyframe_size: Some((640, 480))
            })
        );
        assert_eq!(
            vp8_header(&[0x31, 0, 0, 0]),
            Some(VpxHeader {
                keyframe_size: None
            })
        );
        assert_eq!(vp8_header(&[0x10, 0x02, 0x00, 0x00, 0x00, 0x00]), None);
        let mut assembler = VideoAssembler::new(WebRtcVideoCodec::Vpx(VpxCodec::Vp8));
        let mut out = Vec::new();
        assert_eq!(
            assembler.frame(&[0x31, 0, 0, 0], 0, &mut out),
            FrameOutcome::AwaitingKeyframe
        );
        assembler.frame(&vp8_key(640, 480), 0, &mut out);
        assembler.frame(&[0x31, 0, 0, 0], 33, &mut out);
        assembler.frame(&vp8_key(320, 240), 66, &mut out);
        let configs: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                LiveEvent::VpxConfig { width, height, .. } => Some((*width, *height)),
                _ => None,
            })
            .collect();
        assert_eq!(configs, [(640, 480), (320, 240)]);
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn vp9_keyframe_headers_of_profile_0_give_the_frame_size() {
        // frame_marker 10, profile 0 (0,0), show_existing 0, frame_type 0,
        // show_frame 1, error_res 0, sync code, color_space 2 (BT.601) +
        // color_range 0, then width-1 = 639 and height-1 = 479 (16 bits each).
        let mut bits: Vec<u8> = Vec::new();
        let mut push = |value: u32, count: u32| {
            for i in (0..count).rev() {
                bits.push(((value >> i) & 1) as u8);
            }
        };
        push(0b10, 2);
        push(0, 2);
        push(0, 1);
        push(0, 1);
        push(1, 1);
        push(0, 1);
        push(0x49_83_42, 24);
        push(2, 3);
        push(0, 1);
        push(639, 16);
        push(479, 16);
        let bytes: Vec<u8> = bits
            .chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |b, (i, bit)| b | (bit << (7 - i)))
            })
            .collect();
        assert_eq!(
            vp9_header(&bytes),
            Some(VpxHeader {
                keyframe_size: Some((640, 480))
            })
        );
        // An inter frame: frame_type 1.
        assert_eq!(
            vp9_header(&[0b1000_0100]),
            Some(VpxHeader {
                keyframe_size: None
            })
        );
        assert_eq!(vp9_header(&[0x00]), None);
        assert_eq!(vp9_header(&[]), None);
    }
}
