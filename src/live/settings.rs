//! The `[live]` section of the configuration and what it turns into: the
//! RTMP listener's limits, the WebRTC (WHIP) UDP port and limits, the reconnect window, segment and part targets,
//! the playlist window (sliding or DVR), the live ladder and the origin's
//! memory budget.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use yanxiu_ingest::rtmp::RtmpConfig;
use yanxiu_ingest::srt::SrtConfig;
use yanxiu_ingest::whip::WhipConfig;
use yanxiu_ingest::whip::ice_servers::{IceServerConfig, TurnSecret};
use yanxiu_packager::hls::live_playlist::{LivePlaylistConfig, LiveWindow};
use yanxiu_packager::live::LiveOriginConfig;
use yanxiu_transcode::live::LiveConfig;

/// `[live]` in the configuration file (`YANXIU_LIVE__…` in the environment).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveSection {
    /// Serve RTMP at all (`false`: no live ingest in this process).
    pub enabled: bool,
    /// RTMP listen address.
    pub rtmp_addr: String,
    /// SRT listen address (UDP), e.g. `127.0.0.1:9000`; empty: no SRT.
    pub srt_addr: String,
    /// SRT receive latency in milliseconds (time to repair losses).
    pub srt_latency_ms: u64,
    /// A publisher that drops and comes back within this many seconds
    /// continues the same session: same playlists, same recording.
    pub reconnect_window_seconds: f64,
    /// Segment target duration (also the GOP length of encoded rungs).
    pub segment_seconds: f64,
    /// LL-HLS part target duration.
    pub part_milliseconds: u64,
    /// Segments listed in the sliding window (when `dvr_minutes` is 0).
    pub window_segments: usize,
    /// DVR window in minutes (0: sliding window of `window_segments`).
    pub dvr_minutes: u64,
    /// Segment bytes kept in memory per rendition; older ones are read
    /// back from storage.
    pub memory_per_rendition_mib: usize,
    /// Offer the source H.264 as a rendition without re-encoding.
    pub passthrough: bool,
    /// Heights of the encoded rungs (never above the source).
    pub rung_heights: Vec<u32>,
    /// x264 preset of the live rungs.
    pub preset: String,
    /// Seconds without bytes before a publisher is cut off.
    pub idle_timeout_seconds: u64,
    /// Seconds a client has from connecting to an accepted publish.
    pub publish_deadline_seconds: u64,
    /// Largest audio or video message accepted, in MiB.
    pub max_message_mib: usize,
    /// Channels live at once.
    pub max_publishers: usize,
    /// RTMP connections open at once.
    pub max_connections: usize,
    /// Attempts to persist a segment before it is given up.
    pub persist_attempts: u32,
    /// The one UDP address of WebRTC (WHIP) media for every publisher.
    pub webrtc_udp_addr: String,
    /// Addresses offered to WebRTC publishers (behind NAT, the public
    /// one); empty: the address `webrtc_udp_addr` is bound to.
    pub webrtc_advertise_ips: Vec<String>,
    /// Seconds a WHIP publisher has from its answer to a connection.
    pub webrtc_connect_timeout_seconds: u64,
    /// WHIP publishes at once from one address.
    pub webrtc_max_per_address: usize,
    /// Largest WHIP offer, in KiB.
    pub webrtc_max_offer_kib: usize,
    /// WHEP (sub-second WebRTC playback) viewers of one channel at once.
    pub whep_max_viewers_per_channel: usize,
    /// WHEP viewers at once from one address.
    pub whep_max_viewers_per_address: usize,
    /// STUN/TURN URLs handed to WebRTC clients (publishers and players)
    /// for networks that block UDP, e.g.
    /// `turn:turn.example.edu:3478?transport=tcp`.
    pub webrtc_ice_urls: Vec<String>,
    /// The TURN server's `static-auth-secret` (coturn `use-auth-secret`):
    /// clients get credentials minted per request, never this secret.
    pub webrtc_turn_secret: Option<String>,
    /// How long minted TURN credentials last, in hours.
    pub webrtc_turn_credential_hours: u64,
}

impl Default for LiveSection {
    fn default() -> Self {
        Self {
            enabled: true,
            rtmp_addr: "127.0.0.1:1935".to_owned(),
            srt_addr: String::new(),
            srt_latency_ms: 120,
            reconnect_window_seconds: 30.0,
            segment_seconds: 2.0,
            part_milliseconds: 500,
            window_segments: 10,
            dvr_minutes: 0,
            memory_per_rendition_mib: 64,
            passthrough: true,
            rung_heights: vec![720, 480, 360],
            preset: "veryfast".to_owned(),
            idle_timeout_seconds: 10,
            publish_deadline_seconds: 15,
            max_message_mib: 8,
            max_publishers: 64,
            max_connections: 256,
            persist_attempts: 5,
            webrtc_udp_addr: "127.0.0.1:8189".to_owned(),
            webrtc_advertise_ips: Vec::new(),
            webrtc_connect_timeout_seconds: 10,
            webrtc_max_per_address: 4,
            webrtc_max_offer_kib: 64,
            whep_max_viewers_per_channel: 50,
            whep_max_viewers_per_address: 50,
            webrtc_ice_urls: Vec::new(),
            webrtc_turn_secret: None,
            webrtc_turn_credential_hours: 12,
        }
    }
}

/// The live settings, checked and in the types the pipeline takes.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// RTMP listener.
    pub rtmp: RtmpConfig,
    /// SRT listener, when `srt_addr` is set.
    pub srt: Option<SrtConfig>,
    /// WHIP (WebRTC) ingest.
    pub whip: WhipConfig,
    /// How long a dropped publisher may take to come back.
    pub reconnect_window: Duration,
    /// Segment target.
    pub segment_target: Duration,
    /// Part target.
    pub part_target: Duration,
    /// Sliding or DVR window.
    pub window: LiveWindow,
    /// The live ladder.
    pub transcode: LiveConfig,
    /// Origin memory.
    pub origin: LiveOriginConfig,
    /// Attempts per persisted object.
    pub persist_attempts: u32,
    /// STUN/TURN servers for WebRTC clients.
    pub ice: IceServerConfig,
}

impl LiveSettings {
    /// Checks `section` and builds the settings.
    pub fn from_section(section: &LiveSection) -> anyhow::Result<Self> {
        let listen: SocketAddr = section
            .rtmp_addr
            .parse()
            .with_context(|| format!("live.rtmp_addr {:?} is not an address", section.rtmp_addr))?;
        anyhow::ensure!(
            section.segment_seconds >= 1.0 && section.segment_seconds <= 10.0,
            "live.segment_seconds must be between 1 and 10"
        );
        anyhow::ensure!(
            section.reconnect_window_seconds >= 0.0 && section.reconnect_window_seconds <= 3600.0,
            "live.reconnect_window_seconds must be between 0 and 3600"
        );
        let segment_target = Duration::from_secs_f64(section.segment_seconds);
        let part_target = Duration::from_millis(section.part_milliseconds);
        let window = if section.dvr_minutes > 0 {
            LiveWindow::Dvr(Duration::from_secs(section.dvr_minutes * 60))
        } else {
            LiveWindow::Segments(section.window_segments.max(3))
        };
        // Validate the playlist parameters once, here, not per channel.
        LivePlaylistConfig {
            timescale: 90_000,
            segment_target,
            part_target,
            window,
        }
        .validate()
        .context("live playlist settings")?;
        let mut transcode = LiveConfig {
            passthrough: section.passthrough,
            ..LiveConfig::default()
        };
        transcode.ladder.gop_seconds = section.segment_seconds;
        transcode.ladder.segment_seconds = section.segment_seconds;
        transcode.ladder.preset = section.preset.clone();
        let templates = yanxiu_transcode::LadderConfig::default().rungs;
        transcode.ladder.rungs = section
            .rung_heights
            .iter()
            .map(|height| {
                templates
                    .iter()
                    .find(|r| r.height == *height)
                    .cloned()
                    .with_context(|| format!("live.rung_heights: no ladder template for {height}p"))
            })
            .collect::<anyhow::Result<_>>()?;
        let whip = whip_config(section)?;
        Ok(Self {
            whip,
            srt: super::srt::srt_config(section)?,
            rtmp: RtmpConfig {
                listen,
                idle_timeout: Duration::from_secs(section.idle_timeout_seconds.max(1)),
                publish_deadline: Duration::from_secs(section.publish_deadline_seconds.max(1)),
                max_message_bytes: section.max_message_mib.max(1) << 20,
                max_publishers: section.max_publishers.max(1),
                max_connections: section.max_connections.max(1),
                ..RtmpConfig::default()
            },
            reconnect_window: Duration::from_secs_f64(section.reconnect_window_seconds),
            segment_target,
            part_target,
            window,
            transcode,
            origin: LiveOriginConfig {
                max_rendition_bytes: section.memory_per_rendition_mib.max(4) << 20,
            },
            persist_attempts: section.persist_attempts.max(1),
            ice: ice_config(section)?,
        })
    }

    /// The playlist configuration of a rendition with `timescale`.
    pub fn playlist(&self, timescale: u32) -> LivePlaylistConfig {
        LivePlaylistConfig {
            timescale,
            segment_target: self.segment_target,
            part_target: self.part_target,
            window: self.window,
        }
    }
}

/// The ICE servers of `section`.
fn ice_config(section: &LiveSection) -> anyhow::Result<IceServerConfig> {
    for url in &section.webrtc_ice_urls {
        anyhow::ensure!(
            ["stun:", "stuns:", "turn:", "turns:"]
                .iter()
                .any(|scheme| url.starts_with(scheme))
                && !url.contains(['<', '>', '"', ' ']),
            "live.webrtc_ice_urls: {url:?} is not a stun:, turn: or turns: URL"
        );
    }
    Ok(IceServerConfig {
        urls: section.webrtc_ice_urls.clone(),
        turn_secret: section
            .webrtc_turn_secret
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(TurnSecret::new),
        credential_ttl_seconds: section.webrtc_turn_credential_hours.clamp(1, 24 * 7) * 3600,
    })
}

/// The WHIP settings of `section`.
fn whip_config(section: &LiveSection) -> anyhow::Result<WhipConfig> {
    let udp_listen: SocketAddr = section.webrtc_udp_addr.parse().with_context(|| {
        format!(
            "live.webrtc_udp_addr {:?} is not an address",
            section.webrtc_udp_addr
        )
    })?;
    let advertise = section
        .webrtc_advertise_ips
        .iter()
        .map(|ip| {
            ip.parse()
                .with_context(|| format!("live.webrtc_advertise_ips: {ip:?} is not an IP address"))
        })
        .collect::<anyhow::Result<Vec<std::net::IpAddr>>>()?;
    anyhow::ensure!(
        !(advertise.is_empty() && udp_listen.ip().is_unspecified()),
        "live.webrtc_advertise_ips must name the addresses publishers reach when \
         live.webrtc_udp_addr is unspecified ({udp_listen})"
    );
    Ok(WhipConfig {
        udp_listen,
        advertise,
        connect_timeout: Duration::from_secs(section.webrtc_connect_timeout_seconds.max(1)),
        idle_timeout: Duration::from_secs(section.idle_timeout_seconds.max(1)),
        max_offer_bytes: section.webrtc_max_offer_kib.max(1) << 10,
        max_publishers: section.max_publishers.max(1),
        max_per_address: section.webrtc_max_per_address.max(1),
        max_viewers_per_channel: section.whep_max_viewers_per_channel.max(1),
        max_viewers_per_address: section.whep_max_viewers_per_address.max(1),
        keyframe_every: Duration::from_secs_f64(section.segment_seconds),
        ..WhipConfig::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_give_a_720p_ladder_with_passthrough_and_two_second_segments() {
        let settings = LiveSettings::from_section(&LiveSection::default()).unwrap();
        assert_eq!(settings.rtmp.listen.port(), 1935);
        assert_eq!(settings.segment_target, Duration::from_secs(2));
        assert!(settings.transcode.passthrough);
        let heights: Vec<u32> = settings
            .transcode
            .ladder
            .rungs
            .iter()
            .map(|r| r.height)
            .collect();
        assert_eq!(heights, [720, 480, 360]);
        assert_eq!(settings.window, LiveWindow::Segments(10));
    }

    #[test]
    fn a_dvr_window_replaces_the_sliding_window() {
        let section = LiveSection {
            dvr_minutes: 120,
            ..LiveSection::default()
        };
        let settings = LiveSettings::from_section(&section).unwrap();
        assert_eq!(settings.window, LiveWindow::Dvr(Duration::from_secs(7200)));
    }

    #[test]
    fn unusable_settings_are_refused_with_the_key_named() {
        for section in [
            LiveSection {
                rtmp_addr: "nowhere".into(),
                ..LiveSection::default()
            },
            LiveSection {
                rung_heights: vec![555],
                ..LiveSection::default()
            },
            LiveSection {
                part_milliseconds: 5000,
                ..LiveSection::default()
            },
            LiveSection {
                webrtc_udp_addr: "0.0.0.0:8189".into(),
                ..LiveSection::default()
            },
            LiveSection {
                webrtc_advertise_ips: vec!["example.org".into()],
                ..LiveSection::default()
            },
        ] {
            let error = format!("{:#}", LiveSettings::from_section(&section).unwrap_err());
            assert!(error.contains("live"), "{error}");
        }
    }
}
