//! One rendition's output: the bounded channel to its consumer, its sample
//! counter, and the rule for ending it (a `TrackInput::End` only when the
//! transcode succeeded; after a failure the channel just closes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::Sender;
use yanxiu_packager::media::{Sample, TrackConfig, TrackInput};

use super::LiveError;
use super::stats::LiveCounters;

/// Where one rendition's `TrackInput`s go.
#[derive(Debug, Clone)]
pub struct RenditionOut {
    tx: Sender<TrackInput>,
    counters: Arc<LiveCounters>,
    index: usize,
    failed: Arc<AtomicBool>,
}

impl RenditionOut {
    /// The output of rendition number `index` (its place in the list of
    /// renditions); `failed` is set by the decode thread when the
    /// transcode fails.
    pub fn new(
        tx: Sender<TrackInput>,
        counters: Arc<LiveCounters>,
        index: usize,
        failed: Arc<AtomicBool>,
    ) -> Self {
        Self {
            tx,
            counters,
            index,
            failed,
        }
    }

    /// Sends the track configuration (first, and again when it changes).
    pub fn config(&self, config: TrackConfig) -> Result<(), LiveError> {
        send(&self.tx, TrackInput::Config(config))
    }

    /// Sends one sample and counts it.
    pub fn sample(&self, sample: Sample) -> Result<(), LiveError> {
        send(&self.tx, TrackInput::Sample(sample))?;
        self.counters.rendition_sample(self.index);
        Ok(())
    }

    /// Ends the rendition: `TrackInput::End` when the transcode has not
    /// failed; after a failure nothing is sent (the consumer sees the
    /// channel close without an end and knows the stream broke).
    pub fn end(&self) -> Result<(), LiveError> {
        if self.failed.load(Ordering::SeqCst) {
            return Ok(());
        }
        send(&self.tx, TrackInput::End)
    }
}

/// Sends to a rendition's consumer, waiting while its channel is full;
/// fails when the consumer has gone.
fn send(out: &Sender<TrackInput>, input: TrackInput) -> Result<(), LiveError> {
    out.blocking_send(input)
        .map_err(|_| LiveError::ConsumerGone)
}
