//! Encodes one part of a chunked ladder: every video rung over one chunk
//! (the decode stage limited to the chunk's window, the single pass's rung
//! threads as they are), or the audio over the whole source (an audio-only
//! demux, the single pass's audio thread). The parts' writer cuts each
//! track into segments numbered ladder-wide and stores them; it writes no
//! init segment and no playlist (the join does, once every part is in).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use bytes::Bytes;
use yanxiu_packager::cmaf::{self, TrackFragment};
use yanxiu_packager::media::{TrackConfig, TrackInput, TrackKind};
use yanxiu_packager::segmenter::{SegmentSamples, Segmenter};
use yanxiu_packager::storage::{MemoryStorage, PutOptions, Storage};
use yanxiu_packager::vod::{
    PackagerError, RenditionId, RenditionKind, RenditionSpec, VodOptions, VodPackager,
};

use super::{FrameWindow, Part, PartJob, PartManifest, SegmentRecord, TrackManifest, to_hex};
use crate::loudness::Normalisation;
use crate::pipeline::decode::{self, AudioFrame, RungFrame};
use crate::pipeline::{Output, audio, join, join_stages, poster, rung, spawn};
use crate::timing::{VIDEO_TIMESCALE, presentation_delay};
use crate::{Progress, TranscodeError};

/// Pictures queued between the decoder and each rung.
const FRAMES_IN_FLIGHT: usize = 4;
/// Audio frames queued between the decoder and the audio encoder.
const AUDIO_FRAMES_IN_FLIGHT: usize = 64;
/// Samples queued between the encoders and the writer.
const SAMPLES_IN_FLIGHT: usize = 256;
/// The track id of every single-track rendition file.
const TRACK_ID: u32 = 1;

/// Encodes one part and stores its segments (and the poster, when the part
/// holds it) under the job's prefix. Progress counts the part's own media
/// time. Running it again overwrites the same objects with the same names.
pub async fn encode_part(
    job: PartJob,
    storage: Arc<dyn Storage>,
    progress: tokio::sync::watch::Sender<Progress>,
) -> Result<PartManifest, TranscodeError> {
    ffmpeg_next::init().map_err(|e| TranscodeError::decoder("init", e))?;
    let started = Instant::now();
    let segment_target = Duration::from_secs_f64(job.plan.segment_seconds);
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<Output>(SAMPLES_IN_FLIGHT);
    let position = Arc::new(AtomicI64::new(0));
    let (threads, decoder, mut writer, span) = match job.part {
        Part::Video { range, poster } => {
            let names: Vec<String> = job.plan.rungs.iter().map(|r| r.name.clone()).collect();
            let ids = rendition_ids(&names).await?;
            let mut threads = Vec::new();
            let mut inputs = Vec::new();
            for (i, (r, id)) in job.plan.rungs.iter().zip(&ids).enumerate() {
                let mut spec = rung::RungSpec::new(&job.plan, r, *id);
                if i == 0 && poster {
                    let at = crate::pipeline::poster_time(job.duration_seconds);
                    spec.poster = Some(poster::PosterGrabber::new(at));
                }
                let (tx, rx) = sync_channel::<RungFrame>(FRAMES_IN_FLIGHT);
                inputs.push(tx);
                let out = out_tx.clone();
                threads.push(spawn(format!("chunk-{}", r.name), move || {
                    rung::run(spec, rx, out)
                })?);
            }
            let segment = job.plan.segment_seconds;
            let decode_spec = decode::DecodeSpec {
                input: job.input.clone(),
                video_stream: job.video_stream,
                audio_stream: None,
                filter_chain: job
                    .plan
                    .picture
                    .filter_chain(job.source.rotation, VIDEO_TIMESCALE),
                source_frame_rate: job.source.frame_rate,
                frame_rate: job.plan.frame_rate,
                gop_seconds: job.plan.gop_seconds,
                window: Some(FrameWindow::new(&range, segment, job.plan.frame_rate)),
            };
            let pos = position.clone();
            let decoder = std::thread::Builder::new()
                .name("yanxiu-chunk-decode".to_owned())
                .spawn(move || {
                    decode::run(decode_spec, inputs, None, None, pos).map(|r| r.video_frames)
                })
                .map_err(TranscodeError::Thread)?;
            let first = range.first_segment + 1;
            let writer = PartWriter::new(&job.prefix, segment_target, &names, ids, first);
            let start = range.start_seconds(segment);
            let end = range.end_seconds(segment).unwrap_or(job.duration_seconds);
            (threads, decoder, writer, (start, end))
        }
        Part::Audio => {
            let (Some(plan), Some(stream)) = (job.plan.audio.clone(), job.audio_stream) else {
                return Err(TranscodeError::NoAudio);
            };
            let names = vec!["audio".to_owned()];
            let ids = rendition_ids(&names).await?;
            let loudness = crate::pipeline::measure_loudness(&job.transcode_job()).await?;
            let gain = loudness.as_ref().map_or(1.0, Normalisation::factor);
            let (tx, rx) = sync_channel::<AudioFrame>(AUDIO_FRAMES_IN_FLIGHT);
            let out = out_tx.clone();
            let delay = presentation_delay(job.plan.frame_rate);
            let id = *ids.first().ok_or(TranscodeError::Internal("audio id"))?;
            let stage = audio::AudioStage {
                plan,
                delay_seconds: delay,
                rendition: id,
                gain,
                waveform: None,
            };
            let threads = vec![spawn("chunk-audio".to_owned(), move || {
                audio::run(stage, rx, out, None)
            })?];
            let input = job.input.clone();
            let video = job.video_stream;
            let pos = position.clone();
            let decoder = std::thread::Builder::new()
                .name("yanxiu-audio-decode".to_owned())
                .spawn(move || {
                    decode::decode_audio(&input, Some(video), stream, tx, &pos).map(|_| 0)
                })
                .map_err(TranscodeError::Thread)?;
            let writer = PartWriter::new(&job.prefix, segment_target, &names, ids, 1);
            (threads, decoder, writer, (0.0, job.duration_seconds))
        }
    };
    drop(out_tx);
    let media_cache = VodOptions::default().media_cache_control;
    let mut files = Vec::new();
    let pumped: Result<(), TranscodeError> = async {
        while let Some(message) = out_rx.recv().await {
            match message {
                Output::Track(id, input) => {
                    writer
                        .handle(id, input, storage.as_ref(), &media_cache)
                        .await?
                }
                Output::File(name, body) => {
                    let key = format!("{}{name}", job.prefix);
                    storage.put(&key, body, &PutOptions::for_key(&key)).await?;
                    files.push(name);
                }
            }
            let done = position.load(Ordering::Relaxed) as f64 / f64::from(VIDEO_TIMESCALE);
            progress.send_replace(Progress {
                media_seconds_done: (done - span.0).max(0.0),
                media_seconds_total: (span.1 - span.0).max(0.0),
                elapsed: started.elapsed(),
                playable: false,
            });
        }
        Ok(())
    }
    .await;
    drop(out_rx);
    let decoded = tokio::task::spawn_blocking(move || join(decoder))
        .await
        .map_err(|_| TranscodeError::Internal("decode join"))?;
    let stage_error = join_stages(threads).await?;
    pumped?;
    if let Some(e) = stage_error {
        return Err(e);
    }
    let video_frames = decoded?;
    if matches!(job.part, Part::Video { .. }) && video_frames == 0 {
        return Err(TranscodeError::NoFrames);
    }
    let tracks = writer.finish()?;
    if let Part::Video {
        range:
            super::ChunkRange {
                segments: Some(expected),
                index,
                ..
            },
        ..
    } = job.part
        && let Some(t) = tracks
            .iter()
            .find(|t| t.segments.len() != expected as usize)
    {
        return Err(TranscodeError::Chunk(format!(
            "chunk {index} of {} has {} segments, not {expected}",
            t.rendition,
            t.segments.len()
        )));
    }
    Ok(PartManifest {
        part: job.part,
        tracks,
        files,
        video_frames,
    })
}

/// Rendition ids for `names`, in order. Ids come only from a packager, so
/// a scratch one (in memory) hands them out; the part writer is what uses
/// them.
async fn rendition_ids(names: &[String]) -> Result<Vec<RenditionId>, TranscodeError> {
    let mut scratch =
        VodPackager::start(Arc::new(MemoryStorage::new()), "", VodOptions::default()).await?;
    Ok(names
        .iter()
        .map(|name| {
            scratch.add_rendition(RenditionSpec {
                name: name.clone(),
                kind: RenditionKind::Audio {
                    language: None,
                    name: name.clone(),
                },
            })
        })
        .collect())
}

/// One track of a part: its segmenter (from its config on) and what it
/// wrote.
#[derive(Debug)]
struct PartTrack {
    id: RenditionId,
    name: String,
    config: Option<TrackConfig>,
    segmenter: Option<Segmenter>,
    next_sequence: u32,
    segments: Vec<SegmentRecord>,
    ended: bool,
}

/// Cuts the tracks of a part into segments numbered ladder-wide and stores
/// them under `{prefix}{rendition}/`.
#[derive(Debug)]
struct PartWriter {
    prefix: String,
    target: Duration,
    tracks: Vec<PartTrack>,
}

impl PartWriter {
    fn new(
        prefix: &str,
        target: Duration,
        names: &[String],
        ids: Vec<RenditionId>,
        first_sequence: u32,
    ) -> Self {
        Self {
            prefix: prefix.to_owned(),
            target,
            tracks: names
                .iter()
                .zip(ids)
                .map(|(name, id)| PartTrack {
                    id,
                    name: name.clone(),
                    config: None,
                    segmenter: None,
                    next_sequence: first_sequence,
                    segments: Vec::new(),
                    ended: false,
                })
                .collect(),
        }
    }

    async fn handle(
        &mut self,
        id: RenditionId,
        input: TrackInput,
        storage: &dyn Storage,
        cache: &Option<String>,
    ) -> Result<(), TranscodeError> {
        let track = self
            .tracks
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or(TranscodeError::Internal("part rendition"))?;
        let out_of_order = TranscodeError::Internal("track input out of order");
        let segment = match input {
            TrackInput::Config(config) => {
                track.segmenter = Some(Segmenter::new(config.timescale, self.target));
                track.config = Some(config);
                None
            }
            TrackInput::Sample(sample) => match track.segmenter.as_mut() {
                Some(segmenter) if !track.ended => segmenter.push(sample),
                _ => return Err(out_of_order),
            },
            TrackInput::End => {
                track.ended = true;
                track.segmenter.as_mut().ok_or(out_of_order)?.finish()
            }
        };
        if let Some(segment) = segment {
            store_segment(&self.prefix, track, segment, storage, cache).await?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<TrackManifest>, TranscodeError> {
        self.tracks
            .into_iter()
            .map(|t| {
                let config = t
                    .config
                    .ok_or(TranscodeError::Internal("a track without config"))?;
                if !t.ended || t.segments.is_empty() {
                    return Err(TranscodeError::Chunk(format!(
                        "{} ended without segments",
                        t.name
                    )));
                }
                let (width, height, channels) = match &config.kind {
                    TrackKind::Video { width, height, .. } => (Some(*width), Some(*height), None),
                    TrackKind::Audio { channels, .. } => (None, None, Some(*channels)),
                };
                Ok(TrackManifest {
                    rendition: t.name,
                    timescale: config.timescale,
                    codec: config.codec_string(),
                    width,
                    height,
                    channels,
                    init_hex: to_hex(&cmaf::init_segment(&[(TRACK_ID, &config)])),
                    segments: t.segments,
                })
            })
            .collect()
    }
}

async fn store_segment(
    prefix: &str,
    track: &mut PartTrack,
    segment: SegmentSamples,
    storage: &dyn Storage,
    cache: &Option<String>,
) -> Result<(), TranscodeError> {
    let sequence = track.next_sequence;
    let body = cmaf::media_segment(
        sequence,
        &[TrackFragment {
            track_id: TRACK_ID,
            samples: &segment.samples,
        }],
    )
    .map_err(|source| PackagerError::Segment {
        rendition: track.name.clone(),
        source,
    })?;
    let key = format!("{prefix}{}/{}", track.name, super::segment_name(sequence));
    let bytes = body.len() as u64;
    let options = PutOptions::for_key(&key).with_cache_control(cache.clone());
    storage.put(&key, Bytes::from(body), &options).await?;
    track.segments.push(SegmentRecord {
        sequence,
        start_dts: segment.start_dts,
        duration: segment.duration,
        bytes,
    });
    track.next_sequence += 1;
    Ok(())
}
