//! Timestamp repair for live input, pure (no IO, no clock).
//!
//! RTMP carries 32-bit millisecond timestamps that wrap (after ~49.7 days,
//! and some encoders start close to the wrap), jump backwards or forwards
//! when an encoder hiccups or reconnects, repeat, or go slightly backwards.
//! [`TimestampRepair`] turns them into one continuous, strictly increasing
//! 64-bit timeline per track (90 kHz ticks for video, samples for audio)
//! and reports every repair as a [`RepairEvent`].
//!
//! How: every raw value is unwrapped against the last raw value seen on
//! either track (differences are taken modulo 2^32, so a wrap is a small
//! step). The output is `unwrapped + offset`, with one offset shared by both
//! tracks so audio and video stay in sync. When a track steps backwards by
//! more than the reorder tolerance, or forwards by more than the jump
//! threshold, the shared offset is moved so that the step becomes a bounded
//! gap (the track's last step, at most `max_gap_ms`); the other track follows
//! the same offset. The origin (output zero) is the first timestamp seen on
//! either track; samples of the other track from before it are dropped.

use crate::timing::VIDEO_TIMESCALE;

/// Which track a timestamp belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveTrack {
    /// The video track (90 kHz output).
    Video,
    /// The audio track (output in samples).
    Audio,
}

/// Tuning of the repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairConfig {
    /// The largest gap (ms) a jump is bridged with; the track's own last step
    /// is used when smaller (one frame in practice).
    pub max_gap_ms: u32,
    /// A forward step larger than this (ms) is a jump, not a pause.
    pub jump_threshold_ms: u32,
    /// A backward step up to this (ms) is non-monotonic DTS jitter and is
    /// nudged forward; a larger one is a backward jump and re-bases.
    pub reorder_tolerance_ms: u32,
}

impl Default for RepairConfig {
    /// One 25 fps frame of gap, jumps above one second, 100 ms of jitter.
    fn default() -> Self {
        Self {
            max_gap_ms: 40,
            jump_threshold_ms: 1000,
            reorder_tolerance_ms: 100,
        }
    }
}

/// One repair, for channel events and metrics. Times are milliseconds of
/// the (unwrapped) input unless named otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairEvent {
    /// The 32-bit input clock wrapped around (reported once per wrap, by
    /// the first track to cross it); `epoch` is the number of wraps so far.
    Wrapped {
        /// Track whose timestamp crossed the wrap.
        track: LiveTrack,
        /// Wraps since the start.
        epoch: i64,
    },
    /// The input jumped backwards by `by_ms`; bridged with `gap_ms`.
    BackwardJump {
        /// Track that saw the jump first.
        track: LiveTrack,
        /// Size of the jump.
        by_ms: i64,
        /// Gap left on the output timeline.
        gap_ms: i64,
    },
    /// The input jumped forwards by `by_ms`; bridged with `gap_ms`.
    ForwardJump {
        /// Track that saw the jump first.
        track: LiveTrack,
        /// Size of the jump.
        by_ms: i64,
        /// Gap left on the output timeline.
        gap_ms: i64,
    },
    /// A decode time repeated the previous one; moved just after it (one
    /// tick for video, one frame for audio).
    Duplicate {
        /// The track.
        track: LiveTrack,
    },
    /// A decode time went back by `by_ms` (within the reorder tolerance);
    /// moved just after the previous one.
    NonMonotonic {
        /// The track.
        track: LiveTrack,
        /// How far back it went.
        by_ms: i64,
    },
    /// A video composition offset was negative (pts before dts); clamped to 0.
    NegativeCompositionOffset {
        /// The offset seen.
        offset_ms: i64,
    },
    /// A sample from before the origin of the timeline was dropped.
    DroppedBeforeStart {
        /// The track.
        track: LiveTrack,
        /// How far before the origin.
        by_ms: i64,
    },
}

/// A repaired time pair in the track's output units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairedTime {
    /// Decode time.
    pub dts: i64,
    /// Presentation time (`>= dts`).
    pub pts: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct TrackState {
    /// Last output decode time in output units.
    last_out: Option<i64>,
    /// Last output decode time on the millisecond timeline.
    last_ms: Option<i64>,
    /// Last regular step (ms), used to bridge jumps.
    last_step_ms: Option<i64>,
    /// The shared offset this track's last time was made with.
    offset: i64,
    /// Length of the last audio frame in output units, when known.
    last_frame: Option<i64>,
    /// The audio output rate `last_out` and `last_frame` are counted in.
    rate: Option<i64>,
}

/// The repair state of one live session (both tracks).
#[derive(Debug, Clone)]
pub struct TimestampRepair {
    config: RepairConfig,
    /// Last raw value seen on any track, and its unwrapped value.
    last_raw: Option<(u32, i64)>,
    /// Output ms = unwrapped + offset.
    offset: i64,
    /// Highest wrap count reported so far.
    epoch_seen: i64,
    video: TrackState,
    audio: TrackState,
    events: Vec<RepairEvent>,
}

const WRAP: i64 = 1 << 32;

impl TimestampRepair {
    /// A repair with no timestamps seen yet.
    pub fn new(config: RepairConfig) -> Self {
        Self {
            config,
            last_raw: None,
            offset: 0,
            epoch_seen: 0,
            video: TrackState::default(),
            audio: TrackState::default(),
            events: Vec::new(),
        }
    }

    /// Repairs a video access unit's RTMP times (ms); output in 90 kHz
    /// ticks. `None`: the unit lies before the origin and must be dropped.
    pub fn video(&mut self, dts_ms: u32, pts_ms: u32) -> Option<RepairedTime> {
        let mut offset = i64::from(pts_ms.wrapping_sub(dts_ms) as i32);
        if offset < 0 {
            self.events
                .push(RepairEvent::NegativeCompositionOffset { offset_ms: offset });
            offset = 0;
        }
        let ticks_per_ms = i64::from(VIDEO_TIMESCALE) / 1000;
        let ms = self.repair_ms(LiveTrack::Video, dts_ms)?;
        let candidate = ms * ticks_per_ms;
        let dts = self.advance(LiveTrack::Video, candidate, None);
        Some(RepairedTime {
            dts,
            pts: dts + offset * ticks_per_ms,
        })
    }

    /// Repairs an audio frame's RTMP time (ms); output in samples at
    /// `sample_rate`. When the frame's length is known (`frame_samples`,
    /// 1024 for AAC-LC), a time within half a frame of where the previous
    /// frame ended is snapped to it, so rounding to milliseconds does not
    /// turn into jitter. `None`: drop the frame (before the origin).
    pub fn audio(
        &mut self,
        pts_ms: u32,
        sample_rate: u32,
        frame_samples: Option<u32>,
    ) -> Option<RepairedTime> {
        let ms = self.repair_ms(LiveTrack::Audio, pts_ms)?;
        let rate = i64::from(sample_rate.max(1));
        self.audio_rate(rate);
        let candidate = (ms * rate + 500).div_euclid(1000);
        let t = self.advance(LiveTrack::Audio, candidate, frame_samples.map(i64::from));
        Some(RepairedTime { dts: t, pts: t })
    }

    /// Counts the audio timeline in samples of `rate` from now on (a
    /// publisher with another codec or rate): the last output time and
    /// frame length are converted, rounding up so nothing overlaps.
    fn audio_rate(&mut self, rate: i64) {
        let state = &mut self.audio;
        if let Some(old) = state.rate.filter(|&old| old != rate) {
            let convert = |t: i64| (t * rate + old - 1).div_euclid(old);
            state.last_out = state.last_out.map(convert);
            state.last_frame = state.last_frame.map(convert);
        }
        state.rate = Some(rate);
    }

    /// The repairs made since the last call.
    pub fn take_events(&mut self) -> Vec<RepairEvent> {
        std::mem::take(&mut self.events)
    }

    /// The repaired decode time in ms on the shared timeline.
    fn repair_ms(&mut self, track: LiveTrack, raw: u32) -> Option<i64> {
        let unwrapped = match self.last_raw {
            None => {
                // The origin: the first timestamp of the session.
                self.offset = -i64::from(raw);
                i64::from(raw)
            }
            Some((last_raw, last)) => {
                let u = last + i64::from(raw.wrapping_sub(last_raw) as i32);
                let epoch = u.div_euclid(WRAP);
                if epoch > self.epoch_seen {
                    self.epoch_seen = epoch;
                    self.events.push(RepairEvent::Wrapped { track, epoch });
                }
                u
            }
        };
        self.last_raw = Some((raw, unwrapped));
        let candidate = unwrapped + self.offset;
        let config = self.config;
        let shared_offset = self.offset;
        let state = self.state(track);
        let Some(last) = state.last_ms else {
            if candidate < 0 {
                self.events.push(RepairEvent::DroppedBeforeStart {
                    track,
                    by_ms: -candidate,
                });
                return None;
            }
            state.last_ms = Some(candidate);
            state.offset = shared_offset;
            return Some(candidate);
        };
        let step = candidate - last;
        let backward = step < -i64::from(config.reorder_tolerance_ms);
        let forward = step > i64::from(config.jump_threshold_ms);
        let regular_step = state.last_step_ms.unwrap_or(1).max(1);
        // The other track re-based the shared timeline (a publisher came
        // back) and put this one too close to, or before, its own last time:
        // move the timeline on so this track also keeps a regular step (the
        // other track gets a small gap, never an overlap).
        let rebased_too_close =
            state.offset != shared_offset && step < regular_step && !backward && !forward;
        let out = if rebased_too_close {
            let target = last + regular_step;
            self.offset += target - candidate;
            target
        } else if backward || forward {
            let gap = state
                .last_step_ms
                .unwrap_or(i64::from(config.max_gap_ms))
                .clamp(1, i64::from(config.max_gap_ms).max(1));
            let target = last + gap;
            self.offset += target - candidate;
            self.events.push(if backward {
                RepairEvent::BackwardJump {
                    track,
                    by_ms: -step,
                    gap_ms: gap,
                }
            } else {
                RepairEvent::ForwardJump {
                    track,
                    by_ms: step,
                    gap_ms: gap,
                }
            });
            target
        } else {
            if step > 0 {
                self.state(track).last_step_ms = Some(step);
            } else if step == 0 {
                self.events.push(RepairEvent::Duplicate { track });
            } else {
                self.events.push(RepairEvent::NonMonotonic {
                    track,
                    by_ms: -step,
                });
            }
            candidate
        };
        let offset = self.offset;
        let state = self.state(track);
        state.last_ms = Some(out.max(last));
        state.offset = offset;
        Some(out)
    }

    /// Makes the output strictly increasing, snapping an audio frame to
    /// the end of the previous one (whose length is `frame` of that call:
    /// Opus packets vary) when it is within half that frame of it.
    fn advance(&mut self, track: LiveTrack, candidate: i64, frame: Option<i64>) -> i64 {
        let state = self.state(track);
        let t = match (state.last_out, state.last_frame) {
            (None, _) => candidate,
            (Some(last), Some(f)) if (candidate - (last + f)).abs() * 2 <= f => last + f,
            (Some(last), f) => candidate.max(last + f.unwrap_or(1)),
        };
        state.last_out = Some(t);
        state.last_frame = frame;
        t
    }

    fn state(&mut self, track: LiveTrack) -> &mut TrackState {
        match track {
            LiveTrack::Video => &mut self.video,
            LiveTrack::Audio => &mut self.audio,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LiveTrack::{Audio, Video};

    const MAX: u32 = u32::MAX;

    /// Video (dts, pts) in ms → output (dts, pts) in ticks, and the events.
    fn video(input: &[(u32, u32)]) -> (Vec<(i64, i64)>, Vec<RepairEvent>) {
        let mut r = TimestampRepair::new(RepairConfig::default());
        let out = input
            .iter()
            .filter_map(|&(d, p)| r.video(d, p))
            .map(|t| (t.dts, t.pts))
            .collect();
        (out, r.take_events())
    }

    fn ms(list: &[i64]) -> Vec<(i64, i64)> {
        list.iter().map(|&m| (m * 90, m * 90)).collect()
    }

    #[test]
    fn each_video_fault_gives_a_continuous_strictly_increasing_timeline() {
        struct Case {
            name: &'static str,
            input: Vec<(u32, u32)>,
            output: Vec<(i64, i64)>,
            events: Vec<RepairEvent>,
        }
        let same = |v: &[u32]| v.iter().map(|&t| (t, t)).collect::<Vec<_>>();
        let cases = [
            Case {
                name: "steady input passes through from the origin",
                input: same(&[5000, 5033, 5067, 5100]),
                output: ms(&[0, 33, 67, 100]),
                events: vec![],
            },
            Case {
                name: "a 32-bit wrap is unwrapped",
                input: same(&[MAX - 50, MAX - 17, 15, 48]),
                output: ms(&[0, 33, 66, 99]),
                events: vec![RepairEvent::Wrapped {
                    track: Video,
                    epoch: 1,
                }],
            },
            Case {
                name: "a backward jump is bridged with one frame",
                input: same(&[10_000, 10_033, 10_066, 2_000, 2_033]),
                output: ms(&[0, 33, 66, 99, 132]),
                events: vec![RepairEvent::BackwardJump {
                    track: Video,
                    by_ms: 8066,
                    gap_ms: 33,
                }],
            },
            Case {
                name: "a forward jump is bridged with one frame",
                input: same(&[0, 33, 66, 50_000, 50_033]),
                output: ms(&[0, 33, 66, 99, 132]),
                events: vec![RepairEvent::ForwardJump {
                    track: Video,
                    by_ms: 49_934,
                    gap_ms: 33,
                }],
            },
            Case {
                name: "a pause below the jump threshold is kept",
                input: same(&[0, 33, 533, 566]),
                output: ms(&[0, 33, 533, 566]),
                events: vec![],
            },
            Case {
                name: "a duplicate decode time moves one tick later",
                input: same(&[0, 33, 33, 66]),
                output: vec![(0, 0), (2970, 2970), (2971, 2971), (5940, 5940)],
                events: vec![RepairEvent::Duplicate { track: Video }],
            },
            Case {
                name: "slightly non-monotonic dts moves one tick after the previous",
                input: same(&[0, 33, 30, 66]),
                output: vec![(0, 0), (2970, 2970), (2971, 2971), (5940, 5940)],
                events: vec![RepairEvent::NonMonotonic {
                    track: Video,
                    by_ms: 3,
                }],
            },
            Case {
                name: "b-frames keep their composition offsets",
                input: vec![(0, 66), (33, 166), (66, 100), (100, 133)],
                output: vec![(0, 5940), (2970, 14_940), (5940, 9000), (9000, 11_970)],
                events: vec![],
            },
            Case {
                name: "b-frames across a wrap keep their composition offsets",
                input: vec![(MAX - 10, 55), (22, 155)],
                output: vec![(0, 5940), (2970, 14_940)],
                events: vec![RepairEvent::Wrapped {
                    track: Video,
                    epoch: 1,
                }],
            },
            Case {
                name: "a negative composition offset is clamped",
                input: vec![(0, 0), (33, 20)],
                output: vec![(0, 0), (2970, 2970)],
                events: vec![RepairEvent::NegativeCompositionOffset { offset_ms: -13 }],
            },
        ];
        for case in cases {
            let (out, events) = video(&case.input);
            assert_eq!(out, case.output, "{}", case.name);
            assert_eq!(events, case.events, "{}", case.name);
            assert!(
                out.windows(2).all(|w| w[0].0 < w[1].0),
                "{}: dts not strictly increasing",
                case.name
            );
        }
    }

    #[test]
    fn audio_frames_are_snapped_to_whole_frames_despite_millisecond_rounding() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        // 1024 samples at 44.1 kHz are 23.22 ms: RTMP says 0, 23, 46, 70, 93.
        let out: Vec<i64> = [0u32, 23, 46, 70, 93]
            .into_iter()
            .filter_map(|t| r.audio(t, 44_100, Some(1024)))
            .map(|t| t.dts)
            .collect();
        assert_eq!(out, vec![0, 1024, 2048, 3072, 4096]);
        assert!(r.take_events().is_empty());
    }

    #[test]
    fn audio_frames_of_varying_length_follow_each_other_without_gap_or_overlap() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        // Opus packets of 20, 60, 10 and 20 ms at 48 kHz.
        let frames = [(0u32, 960u32), (20, 2880), (80, 480), (90, 960), (110, 960)];
        let out: Vec<i64> = frames
            .into_iter()
            .filter_map(|(t, n)| r.audio(t, 48_000, Some(n)))
            .map(|t| t.dts)
            .collect();
        assert_eq!(out, vec![0, 960, 3840, 4320, 5280]);
        assert!(r.take_events().is_empty());
    }

    #[test]
    fn a_change_of_audio_rate_continues_the_timeline_in_the_new_rate() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        // Opus (48 kHz, 20 ms) until 40 ms, then AAC at 44.1 kHz.
        let opus: Vec<i64> = [0u32, 20, 40]
            .into_iter()
            .filter_map(|t| r.audio(t, 48_000, Some(960)))
            .map(|t| t.dts)
            .collect();
        assert_eq!(opus, vec![0, 960, 1920]);
        let aac: Vec<i64> = [60u32, 83]
            .into_iter()
            .filter_map(|t| r.audio(t, 44_100, Some(1024)))
            .map(|t| t.dts)
            .collect();
        // 60 ms at 44.1 kHz is where the last Opus packet ended.
        assert_eq!(aac, vec![2646, 3670]);
    }

    #[test]
    fn an_audio_gap_is_kept_and_a_repeated_frame_moves_one_frame_later() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        let out: Vec<i64> = [0u32, 21, 21, 149]
            .into_iter()
            .filter_map(|t| r.audio(t, 48_000, Some(1024)))
            .map(|t| t.dts)
            .collect();
        assert_eq!(out, vec![0, 1024, 2048, 7152]);
        assert_eq!(
            r.take_events(),
            vec![RepairEvent::Duplicate { track: Audio }]
        );
    }

    #[test]
    fn after_a_reconnect_rebased_by_audio_the_video_keeps_a_whole_frame_step() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        // Publisher A: 30 fps video up to 7000 ms, its audio stops at 6950 ms.
        let mut last_video = 0;
        for i in 0..=210u32 {
            last_video = r
                .video(i * 1000 / 30, i * 1000 / 30)
                .map(|t| t.dts)
                .unwrap_or(0);
        }
        for i in 0..=326u32 {
            r.audio(i * 1024 * 1000 / 48_000, 48_000, Some(1024));
        }
        // Publisher B restarts at 0; its audio arrives first and re-bases.
        r.audio(0, 48_000, Some(1024));
        let first_b = r.video(0, 0).map(|t| t.dts).expect("kept");
        let second_b = r.video(33, 33).map(|t| t.dts).expect("kept");
        let frame = 90_000 / 30;
        assert!(
            first_b - last_video >= frame - 90,
            "B's first frame {first_b} is only {} ticks after A's last {last_video}",
            first_b - last_video
        );
        assert!(second_b - first_b >= frame - 90, "{first_b} → {second_b}");
    }

    #[test]
    fn audio_starting_after_video_keeps_its_offset() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        let v = r.video(1000, 1000).map(|t| t.dts);
        let a = r.audio(1500, 48_000, Some(1024)).map(|t| t.dts);
        assert_eq!((v, a), (Some(0), Some(24_000)));
    }

    #[test]
    fn video_starting_after_audio_keeps_its_offset() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        let a = r.audio(400, 48_000, Some(1024)).map(|t| t.dts);
        let v = r.video(1000, 1040).map(|t| (t.dts, t.pts));
        assert_eq!((a, v), (Some(0), Some((54_000, 57_600))));
    }

    #[test]
    fn a_track_starting_before_the_origin_is_dropped_until_it_reaches_it() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        assert!(r.video(1000, 1000).is_some());
        assert_eq!(r.audio(980, 48_000, Some(1024)), None);
        assert_eq!(
            r.take_events(),
            vec![RepairEvent::DroppedBeforeStart {
                track: Audio,
                by_ms: 20
            }]
        );
        assert_eq!(r.audio(1001, 48_000, Some(1024)).map(|t| t.dts), Some(48));
    }

    #[test]
    fn audio_follows_a_jump_seen_by_video_so_they_stay_in_sync() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        let mut last_v = 0;
        let mut last_a = 0;
        for (v, a) in [(20_000u32, 20_000u32), (20_033, 20_021), (20_066, 20_043)] {
            last_v = r.video(v, v).map(|t| t.dts).unwrap_or(-1);
            last_a = r.audio(a, 48_000, Some(1024)).map(|t| t.dts).unwrap_or(-1);
        }
        assert_eq!((last_v, last_a), (66 * 90, 2048));
        // The encoder restarts its clock: both tracks jump back together.
        let v = r.video(5100, 5100).map(|t| t.dts).unwrap_or(-1);
        let a = r
            .audio(5085, 48_000, Some(1024))
            .map(|t| t.dts)
            .unwrap_or(-1);
        assert_eq!(v, 99 * 90, "video bridged with one frame");
        // Audio keeps its input distance to video (15 ms before it).
        assert_eq!(a, 84 * 48);
        let events = r.take_events();
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(matches!(
            events[0],
            RepairEvent::BackwardJump {
                track: Video,
                gap_ms: 33,
                ..
            }
        ));
    }

    #[test]
    fn a_session_starting_just_before_the_wrap_runs_through_it_for_both_tracks() {
        let mut r = TimestampRepair::new(RepairConfig::default());
        let start = MAX - 1000;
        let mut v_out = Vec::new();
        let mut a_out = Vec::new();
        for i in 0..90u32 {
            let t = start.wrapping_add(i * 33);
            v_out.push(r.video(t, t.wrapping_add(66)).map(|x| x.dts).unwrap_or(-1));
            let ta = start.wrapping_add(i * 64 / 3);
            a_out.push(r.audio(ta, 48_000, Some(1024)).map(|x| x.dts).unwrap_or(-1));
        }
        assert!(v_out.windows(2).all(|w| w[1] - w[0] == 33 * 90));
        assert!(a_out.windows(2).all(|w| w[1] - w[0] == 1024));
        let wraps = r
            .take_events()
            .into_iter()
            .filter(|e| matches!(e, RepairEvent::Wrapped { .. }))
            .count();
        assert_eq!(wraps, 1);
    }
}
