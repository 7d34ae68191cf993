//! The chunked encoding of a long source, run in one test process the way the workers run
//! it: every part of `PartJob::split` encoded on its own, then the ladder joined.

use std::sync::Arc;

use yanxiu_packager::storage::Storage;
use yanxiu_transcode::chunk::{ChunkRange, PartJob, encode_part, join_ladder};
use yanxiu_transcode::{Progress, TranscodeJob};

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
