//! AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1): parsing, building and
//! the RFC 6381 codec string. The raw bytes are kept verbatim for the `esds` box.

use bytes::Bytes;

use crate::bits::{BitReader, OutOfBits};

/// Sampling frequencies by `samplingFrequencyIndex` (0..=12).
const SAMPLING_FREQUENCIES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Why AAC configuration data was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AacError {
    /// The data ended inside the AudioSpecificConfig.
    #[error("AudioSpecificConfig is truncated (AAC 配置数据不完整)")]
    Truncated,
    /// `audioObjectType` 0 (null) is not a codec.
    #[error("AudioSpecificConfig has audio object type 0 (AAC 音频对象类型无效)")]
    NullObjectType,
    /// `samplingFrequencyIndex` 13 or 14 (reserved).
    #[error("reserved AAC sampling frequency index {0} (AAC 采样率索引为保留值)")]
    ReservedSamplingFrequencyIndex(u8),
    /// An explicit sampling frequency of 0.
    #[error("AAC sampling frequency is zero (AAC 采样率为零)")]
    ZeroSamplingFrequency,
    /// `channelConfiguration` 8..=15 (reserved in the versions players support).
    #[error("reserved AAC channel configuration {0} (AAC 声道配置为保留值)")]
    ReservedChannelConfiguration(u8),
    /// A channel count with no `channelConfiguration` (1..=6 and 8 have one).
    #[error("no AAC channel configuration for {0} channels (不支持 {0} 声道的 AAC 配置)")]
    UnsupportedChannelCount(u16),
    /// An object type that does not fit the 5+6 bit escape coding.
    #[error("AAC audio object type {0} cannot be encoded (AAC 音频对象类型超出范围)")]
    ObjectTypeOutOfRange(u8),
}

/// An AAC AudioSpecificConfig, as found in encoder extradata and in `esds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    bytes: Bytes,
    object_type: u8,
    sampling_frequency: u32,
    channel_configuration: u8,
    /// Explicit SBR/PS signalling: (underlying object type, extension sampling frequency).
    extension: Option<(u8, u32)>,
}

impl AudioSpecificConfig {
    /// Parses an AudioSpecificConfig (e.g. ffmpeg's `aac` encoder extradata, `12 10` for
    /// AAC-LC 44.1 kHz stereo). Trailing bytes (GASpecificConfig details, sync
    /// extensions) are kept verbatim but not interpreted.
    pub fn from_bytes(b: &[u8]) -> Result<Self, AacError> {
        let mut reader = BitReader::new(b);
        let parsed = parse(&mut reader).map_err(|OutOfBits| AacError::Truncated)??;
        Ok(Self {
            bytes: Bytes::copy_from_slice(b),
            ..parsed
        })
    }

    /// Builds the two-byte (or longer, for uncommon rates) config for an
    /// object type (2 = AAC-LC), sampling frequency and channel count.
    pub fn new(object_type: u8, sample_rate: u32, channels: u16) -> Result<Self, AacError> {
        if object_type == 0 {
            return Err(AacError::NullObjectType);
        }
        if object_type > 95 {
            return Err(AacError::ObjectTypeOutOfRange(object_type));
        }
        if sample_rate == 0 || sample_rate > 0x00ff_ffff {
            return Err(AacError::ZeroSamplingFrequency);
        }
        let channel_configuration = match channels {
            1..=6 => channels as u8,
            8 => 7,
            other => return Err(AacError::UnsupportedChannelCount(other)),
        };
        let mut bits = BitWriter::default();
        if object_type >= 31 {
            bits.write(31, 5);
            bits.write(u32::from(object_type - 32), 6);
        } else {
            bits.write(u32::from(object_type), 5);
        }
        match SAMPLING_FREQUENCIES.iter().position(|&f| f == sample_rate) {
            Some(index) => bits.write(index as u32, 4),
            None => {
                bits.write(15, 4);
                bits.write(sample_rate, 24);
            }
        }
        bits.write(u32::from(channel_configuration), 4);
        // GASpecificConfig: frameLengthFlag, dependsOnCoreCoder, extensionFlag all 0.
        bits.write(0, 3);
        Self::from_bytes(&bits.finish())
    }

    /// The raw AudioSpecificConfig bytes (the `esds` DecoderSpecificInfo payload).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.to_vec()
    }

    /// The raw bytes, shared.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// `audioObjectType` as signalled first (2 = AAC-LC, 5 = SBR, 29 = PS).
    pub fn object_type(&self) -> u8 {
        self.object_type
    }

    /// The core sampling frequency in Hz.
    pub fn sampling_frequency(&self) -> u32 {
        self.sampling_frequency
    }

    /// The output sampling frequency: the SBR extension rate if signalled, else the core rate.
    pub fn output_sampling_frequency(&self) -> u32 {
        self.extension
            .map_or(self.sampling_frequency, |(_, frequency)| frequency)
    }

    /// `channelConfiguration` (0 means a program config element defines the layout).
    pub fn channel_configuration(&self) -> u8 {
        self.channel_configuration
    }

    /// Channel count implied by `channelConfiguration`, `None` for 0 (PCE-defined).
    pub fn channels(&self) -> Option<u16> {
        match self.channel_configuration {
            0 => None,
            7 => Some(8),
            n => Some(u16::from(n)),
        }
    }

    /// RFC 6381 codec string: `mp4a.40.<object type>`, e.g. `mp4a.40.2`.
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }
}

fn parse(r: &mut BitReader<'_>) -> Result<Result<AudioSpecificConfig, AacError>, OutOfBits> {
    let object_type = read_object_type(r)?;
    if object_type == 0 {
        return Ok(Err(AacError::NullObjectType));
    }
    let sampling_frequency = match read_sampling_frequency(r)? {
        Ok(frequency) => frequency,
        Err(error) => return Ok(Err(error)),
    };
    let channel_configuration = r.read_bits(4)? as u8;
    if channel_configuration > 7 {
        return Ok(Err(AacError::ReservedChannelConfiguration(
            channel_configuration,
        )));
    }
    let mut extension = None;
    if object_type == 5 || object_type == 29 {
        let extension_frequency = match read_sampling_frequency(r)? {
            Ok(frequency) => frequency,
            Err(error) => return Ok(Err(error)),
        };
        let underlying = read_object_type(r)?;
        extension = Some((underlying, extension_frequency));
    }
    Ok(Ok(AudioSpecificConfig {
        bytes: Bytes::new(),
        object_type,
        sampling_frequency,
        channel_configuration,
        extension,
    }))
}

fn read_object_type(r: &mut BitReader<'_>) -> Result<u8, OutOfBits> {
    let object_type = r.read_bits(5)? as u8;
    if object_type == 31 {
        Ok(32 + r.read_bits(6)? as u8)
    } else {
        Ok(object_type)
    }
}

fn read_sampling_frequency(r: &mut BitReader<'_>) -> Result<Result<u32, AacError>, OutOfBits> {
    let index = r.read_bits(4)? as u8;
    Ok(match index {
        15 => match r.read_bits(24)? {
            0 => Err(AacError::ZeroSamplingFrequency),
            frequency => Ok(frequency),
        },
        13 | 14 => Err(AacError::ReservedSamplingFrequencyIndex(index)),
        _ => Ok(SAMPLING_FREQUENCIES[usize::from(index)]),
    })
}

/// Minimal MSB-first bit writer for building configs.
#[derive(Debug, Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits_in_last: u32,
}

impl BitWriter {
    fn write(&mut self, value: u32, count: u32) {
        for shift in (0..count).rev() {
            if self.bytes.is_empty() || self.bits_in_last == 8 {
                self.bytes.push(0);
                self.bits_in_last = 0;
            }
            let bit = ((value >> shift) & 1) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= bit << (7 - self.bits_in_last);
            }
            self.bits_in_last += 1;
        }
    }

    fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aac_lc_44100_stereo() {
        let config = AudioSpecificConfig::from_bytes(&[0x12, 0x10]).unwrap();
        assert_eq!(config.object_type(), 2);
        assert_eq!(config.sampling_frequency(), 44100);
        assert_eq!(config.channel_configuration(), 2);
        assert_eq!(config.channels(), Some(2));
        assert_eq!(config.codec_string(), "mp4a.40.2");
        assert_eq!(config.to_bytes(), vec![0x12, 0x10]);
    }

    #[test]
    fn parses_aac_lc_48000_mono_with_extra_bytes_kept_verbatim() {
        // A backward-compatible sync extension (syncExtensionType 0x2b7) follows the core config.
        let bytes = [0x11, 0x88, 0x56, 0xe5, 0x00];
        let config = AudioSpecificConfig::from_bytes(&bytes).unwrap();
        assert_eq!(config.object_type(), 2);
        assert_eq!(config.sampling_frequency(), 48000);
        assert_eq!(config.channels(), Some(1));
        assert_eq!(config.to_bytes(), bytes.to_vec());
    }

    #[test]
    fn parses_explicit_he_aac_signalling() {
        // SBR (5), 24 kHz core, stereo, extension 48 kHz, underlying AAC-LC.
        let config = AudioSpecificConfig::from_bytes(&[0x2b, 0x11, 0x88]).unwrap();
        assert_eq!(config.object_type(), 5);
        assert_eq!(config.sampling_frequency(), 24000);
        assert_eq!(config.output_sampling_frequency(), 48000);
        assert_eq!(config.codec_string(), "mp4a.40.5");
    }

    #[test]
    fn builds_configs_that_parse_back() {
        let config = AudioSpecificConfig::new(2, 48000, 2).unwrap();
        assert_eq!(config.to_bytes(), vec![0x11, 0x90]);
        let config = AudioSpecificConfig::new(2, 44100, 1).unwrap();
        assert_eq!(config.to_bytes(), vec![0x12, 0x08]);
        let odd_rate = AudioSpecificConfig::new(2, 37800, 2).unwrap();
        assert_eq!(odd_rate.sampling_frequency(), 37800);
        let surround = AudioSpecificConfig::new(2, 48000, 8).unwrap();
        assert_eq!(surround.channel_configuration(), 7);
        assert_eq!(surround.channels(), Some(8));
    }

    #[test]
    fn rejects_invalid_configs() {
        assert_eq!(
            AudioSpecificConfig::from_bytes(&[0x12]),
            Err(AacError::Truncated)
        );
        assert_eq!(
            AudioSpecificConfig::from_bytes(&[0x00, 0x00]),
            Err(AacError::NullObjectType)
        );
        // object type 2, frequency index 13
        assert_eq!(
            AudioSpecificConfig::from_bytes(&[0x16, 0x90]),
            Err(AacError::ReservedSamplingFrequencyIndex(13))
        );
        // object type 2, index 4, channel configuration 9
        assert_eq!(
            AudioSpecificConfig::from_bytes(&[0x12, 0x48]),
            Err(AacError::ReservedChannelConfiguration(9))
        );
        assert_eq!(
            AudioSpecificConfig::new(2, 48000, 7),
            Err(AacError::UnsupportedChannelCount(7))
        );
    }
}
