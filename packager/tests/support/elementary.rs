//! Test-side parsing of elementary streams made by the ffmpeg CLI: H.264
//! Annex B split into access units with timestamps derived from picture order
//! counts, and ADTS AAC split into raw frames with an AudioSpecificConfig
//! built from the ADTS header.

use bytes::Bytes;
use yanxiu_packager::aac::AudioSpecificConfig;
use yanxiu_packager::h264::{
    self, AvcDecoderConfig, NAL_AUD, NAL_IDR, NAL_SLICE, Sps, annexb_nal_units, nal_to_rbsp,
    nal_type,
};
use yanxiu_packager::media::Sample;

/// MSB-first bit reader with Exp-Golomb, enough for slice headers.
struct Bits<'a> {
    data: &'a [u8],
    position: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> u32 {
        let byte = self.data[self.position / 8];
        self.position += 1;
        u32::from((byte >> (7 - (self.position - 1) % 8)) & 1)
    }

    fn bits(&mut self, count: u32) -> u32 {
        (0..count).fold(0, |value, _| (value << 1) | self.bit())
    }

    fn ue(&mut self) -> u32 {
        let mut zeros = 0;
        while self.bit() == 0 {
            zeros += 1;
        }
        (1 << zeros) - 1 + self.bits(zeros)
    }
}

/// An H.264 elementary stream cut into samples.
pub struct VideoTrack {
    pub config: AvcDecoderConfig,
    pub samples: Vec<Sample>,
}

/// Splits an Annex B stream at access unit delimiters (the stream must be
/// encoded with `aud=1`) and assigns timestamps: `dts` in decode order,
/// `pts` from the picture order count within each IDR period, both shifted so
/// that `pts >= dts` (as ffmpeg's muxers and the transcoder do).
pub fn video_track(stream: &[u8], ticks_per_frame: u32) -> VideoTrack {
    let nals: Vec<&[u8]> = annexb_nal_units(stream).collect();
    let mut access_units: Vec<Vec<&[u8]>> = Vec::new();
    for nal in nals {
        if nal_type(nal) == Some(NAL_AUD) || access_units.is_empty() {
            access_units.push(Vec::new());
        }
        access_units.last_mut().expect("pushed above").push(nal);
    }
    let config = AvcDecoderConfig::from_parameter_sets(access_units[0].iter().copied())
        .expect("first access unit carries SPS and PPS");
    let sps: Sps = config.parsed_sps().clone();
    assert_eq!(sps.pic_order_cnt_type, 0, "test expects POC type 0 (x264)");
    assert!(sps.frame_mbs_only, "test expects progressive video");

    // Picture order count of every access unit (8.2.1.1, no MMCO 5 in x264 output).
    let max_lsb = 1i64 << sps.log2_max_pic_order_cnt_lsb;
    let (mut prev_msb, mut prev_lsb) = (0i64, 0i64);
    let mut pocs = Vec::with_capacity(access_units.len());
    let mut idr_flags = Vec::with_capacity(access_units.len());
    for unit in &access_units {
        let slice = unit
            .iter()
            .find(|nal| matches!(nal_type(nal), Some(NAL_SLICE | NAL_IDR)))
            .expect("every access unit has a slice");
        let is_idr = nal_type(slice) == Some(NAL_IDR);
        let is_reference = (slice[0] >> 5) & 3 != 0;
        let rbsp = nal_to_rbsp(&slice[1..]);
        let mut bits = Bits {
            data: &rbsp,
            position: 0,
        };
        let _first_mb_in_slice = bits.ue();
        let _slice_type = bits.ue();
        let _pps_id = bits.ue();
        if sps.separate_colour_plane {
            bits.bits(2);
        }
        let _frame_num = bits.bits(sps.log2_max_frame_num);
        if is_idr {
            let _idr_pic_id = bits.ue();
        }
        let lsb = i64::from(bits.bits(sps.log2_max_pic_order_cnt_lsb));
        if is_idr {
            prev_msb = 0;
            prev_lsb = 0;
        }
        let msb = if lsb < prev_lsb && prev_lsb - lsb >= max_lsb / 2 {
            prev_msb + max_lsb
        } else if lsb > prev_lsb && lsb - prev_lsb > max_lsb / 2 {
            prev_msb - max_lsb
        } else {
            prev_msb
        };
        if is_reference {
            prev_msb = msb;
            prev_lsb = lsb;
        }
        pocs.push(msb + lsb);
        idr_flags.push(is_idr);
    }

    // Presentation index: rank by POC within each IDR period.
    let mut presentation = vec![0i64; access_units.len()];
    let mut period_start = 0usize;
    for end in (1..=access_units.len()).filter(|&i| i == access_units.len() || idr_flags[i]) {
        let mut order: Vec<usize> = (period_start..end).collect();
        order.sort_by_key(|&i| pocs[i]);
        for (rank, index) in order.into_iter().enumerate() {
            presentation[index] = (period_start + rank) as i64;
        }
        period_start = end;
    }
    let delay = presentation
        .iter()
        .enumerate()
        .map(|(decode, &present)| decode as i64 - present)
        .max()
        .unwrap_or(0)
        .max(0);

    let ticks = i64::from(ticks_per_frame);
    let samples = access_units
        .iter()
        .enumerate()
        .map(|(decode, unit)| {
            let mut annexb = Vec::new();
            for nal in unit {
                annexb.extend_from_slice(&[0, 0, 0, 1]);
                annexb.extend_from_slice(nal);
            }
            Sample {
                dts: decode as i64 * ticks,
                pts: (presentation[decode] + delay) * ticks,
                duration: ticks_per_frame,
                is_sync: idr_flags[decode],
                data: Bytes::from(h264::annexb_to_length_prefixed(&annexb)),
            }
        })
        .collect();
    VideoTrack { config, samples }
}

/// An ADTS stream cut into raw AAC frames.
pub struct AudioTrack {
    pub config: AudioSpecificConfig,
    pub sample_rate: u32,
    pub channels: u16,
    pub frames: Vec<Bytes>,
}

/// Strips ADTS headers (7 bytes, 9 with CRC) and builds the
/// AudioSpecificConfig from the first header.
pub fn audio_track(stream: &[u8]) -> AudioTrack {
    const RATES: [u32; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    let mut frames = Vec::new();
    let mut header_fields = None;
    let mut offset = 0;
    while offset + 7 <= stream.len() {
        let h = &stream[offset..offset + 7];
        assert!(
            h[0] == 0xff && h[1] & 0xf0 == 0xf0,
            "ADTS sync word at {offset}"
        );
        let protection_absent = h[1] & 1 == 1;
        let profile = (h[2] >> 6) & 3;
        let frequency_index = (h[2] >> 2) & 0x0f;
        let channel_configuration = ((h[2] & 1) << 2) | (h[3] >> 6);
        let frame_length =
            (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        let raw_blocks = h[6] & 3;
        assert_eq!(raw_blocks, 0, "one raw data block per ADTS frame");
        let header_length = if protection_absent { 7 } else { 9 };
        frames.push(Bytes::copy_from_slice(
            &stream[offset + header_length..offset + frame_length],
        ));
        header_fields.get_or_insert((profile, frequency_index, channel_configuration));
        offset += frame_length;
    }
    assert_eq!(
        offset,
        stream.len(),
        "trailing bytes after the last ADTS frame"
    );
    let (profile, frequency_index, channel_configuration) =
        header_fields.expect("at least one ADTS frame");
    let object_type = profile + 1;
    // audioObjectType(5) samplingFrequencyIndex(4) channelConfiguration(4) GASpecificConfig 000
    let bits: u16 = (u16::from(object_type) << 11)
        | (u16::from(frequency_index) << 7)
        | (u16::from(channel_configuration) << 3);
    let config = AudioSpecificConfig::from_bytes(&bits.to_be_bytes()).expect("valid ASC");
    AudioTrack {
        sample_rate: RATES[usize::from(frequency_index)],
        channels: config.channels().expect("channel configuration set"),
        config,
        frames,
    }
}
