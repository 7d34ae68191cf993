//! The publisher's `onMetaData` as the ingest reports it: what the encoder
//! says it sends (size, frame rate, bitrates, encoder name). The values
//! are the encoder's claims, not measurements. The AMF0 decoding is done by
//! the protocol crate; this module only maps and sanity-checks its fields.

/// Stream properties announced by the publisher in `onMetaData`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamMetadata {
    /// Picture width in pixels.
    pub width: Option<u32>,
    /// Picture height in pixels.
    pub height: Option<u32>,
    /// Frames per second.
    pub frame_rate: Option<f64>,
    /// Video bitrate, kbit/s.
    pub video_bitrate_kbps: Option<u32>,
    /// Audio bitrate, kbit/s.
    pub audio_bitrate_kbps: Option<u32>,
    /// Audio sample rate, Hz.
    pub audio_sample_rate: Option<u32>,
    /// Encoder name, e.g. "obs-output module" or "Lavf59.27.100".
    pub encoder: Option<String>,
}

impl From<&rml_rtmp::sessions::StreamMetadata> for StreamMetadata {
    fn from(raw: &rml_rtmp::sessions::StreamMetadata) -> Self {
        let positive = |v: Option<u32>| v.filter(|v| *v > 0);
        Self {
            width: positive(raw.video_width),
            height: positive(raw.video_height),
            frame_rate: raw
                .video_frame_rate
                .map(f64::from)
                .filter(|fps| fps.is_finite() && *fps > 0.0),
            video_bitrate_kbps: positive(raw.video_bitrate_kbps),
            audio_bitrate_kbps: positive(raw.audio_bitrate_kbps),
            audio_sample_rate: positive(raw.audio_sample_rate),
            encoder: raw.encoder.clone().filter(|e| !e.trim().is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_properties_are_carried_over() {
        let mut raw = rml_rtmp::sessions::StreamMetadata::new();
        raw.video_width = Some(1280);
        raw.video_height = Some(720);
        raw.video_frame_rate = Some(30.0);
        raw.video_bitrate_kbps = Some(2500);
        raw.audio_bitrate_kbps = Some(128);
        raw.audio_sample_rate = Some(48000);
        raw.encoder = Some("obs-output module (libobs version 30.0.0)".into());
        assert_eq!(
            StreamMetadata::from(&raw),
            StreamMetadata {
                width: Some(1280),
                height: Some(720),
                frame_rate: Some(30.0),
                video_bitrate_kbps: Some(2500),
                audio_bitrate_kbps: Some(128),
                audio_sample_rate: Some(48000),
                encoder: Some("obs-output module (libobs version 30.0.0)".into()),
            }
        );
    }

    #[test]
    fn zero_nonsense_and_blank_values_count_as_unknown() {
        let mut raw = rml_rtmp::sessions::StreamMetadata::new();
        raw.video_width = Some(0);
        raw.video_frame_rate = Some(f32::NAN);
        raw.video_bitrate_kbps = Some(0);
        raw.encoder = Some("  ".into());
        assert_eq!(StreamMetadata::from(&raw), StreamMetadata::default());
    }
}
