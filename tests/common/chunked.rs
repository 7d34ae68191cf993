//! The chunked encoding of a long source, run in one test process the way the workers run
//! it: the job for a short fixture on 1 s chunks, every part of `PartJob::split` encoded on
//! its own, then the ladder joined.

use std::path::Path;
use std::sync::Arc;

use yanxiu_ingest::{ProbeLimits, probe_file};
use yanxiu_packager::storage::Storage;
use yanxiu_transcode::chunk::{ChunkRange, PartJob, encode_part, join_ladder};
use yanxiu_transcode::ladder::RungTemplate;
use yanxiu_transcode::picture::Matrix;
use yanxiu_transcode::{
    LadderConfig, Progress, Rotation, SourceVideo, TranscodeJob, VideoInput, plan_ladder,
};

/// The job `yanxiu transcode` would make for `source`, video only, with 1 s GOPs, segments
/// and chunks (x264 ultrafast): the chunked path at its smallest. `rungs` makes the rungs
/// from the source's picture height; captions the probe finds in the source are carried.
pub fn one_second_chunk_job(
    source: &Path,
    prefix: &str,
    rungs: impl FnOnce(u32) -> Vec<RungTemplate>,
) -> TranscodeJob {
    let report = probe_file(source, &ProbeLimits::default()).expect("probe");
    let stream = report.primary_video().expect("video stream");
    let info = stream.video.as_ref().expect("picture facts");
    let picture = SourceVideo {
        width: info.width,
        height: info.height,
        sample_aspect_ratio: info.sample_aspect_ratio,
        rotation: Rotation::None,
        frame_rate: info.avg_frame_rate.expect("frame rate"),
        hdr: info.signal.hdr,
        full_range: false,
        scan: info.signal.scan,
        matrix: Matrix::from_name(info.signal.color_matrix.as_deref()),
    };
    let ladder = LadderConfig {
        gop_seconds: 1.0,
        segment_seconds: 1.0,
        chunk_seconds: 1.0,
        chunk_threshold_seconds: 1.0,
        preset: "ultrafast".into(),
        rungs: rungs(info.height),
        ..LadderConfig::default()
    };
    TranscodeJob {
        input: source.to_path_buf(),
        video: Some(VideoInput {
            stream: stream.index,
            source: picture,
        }),
        audio_stream: None,
        duration_seconds: report.duration_seconds.expect("duration"),
        plan: plan_ladder(&ladder, &picture, None)
            .expect("plan")
            .with_closed_captions(info.closed_captions),
        prefix: prefix.to_owned(),
        poster: false,
        storyboard: false,
        growing: false,
        qc: None,
    }
}

/// Encodes `job` in the parts cut at `chunks` and joins them into its ladder in `storage`.
pub async fn encode_in_chunks(
    job: &TranscodeJob,
    chunks: &[ChunkRange],
    storage: Arc<dyn Storage>,
) {
    let mut manifests = Vec::new();
    for part in PartJob::split(job, chunks).expect("split") {
        let (progress, _) = tokio::sync::watch::channel(Progress::default());
        manifests.push(
            encode_part(part, storage.clone(), progress)
                .await
                .expect("part"),
        );
    }
    join_ladder(
        &job.plan,
        job.duration_seconds,
        &job.prefix,
        &manifests,
        storage,
    )
    .await
    .expect("join");
}
