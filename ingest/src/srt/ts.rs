//! MPEG-TS to PES units, on `mpeg2ts-reader`'s push demultiplexer: the
//! program tables say which PID carries which codec; each complete PES
//! packet of the first H.264 and the first AAC (ADTS) stream comes out as a
//! [`PesUnit`] with its 90 kHz timestamps. Pure, no IO: bytes in, units out.
//!
//! A video or audio stream of another codec (HEVC, MPEG-2 video, MP3, AC-3…)
//! is reported as [`TsError::Unsupported`] rather than dropped, so the
//! publisher learns why nothing plays.

use mpeg2ts_reader::StreamType;
use mpeg2ts_reader::demultiplex::{
    self, DemuxContext, FilterChangeset, FilterRequest, NullPacketFilter, PacketFilter,
    PatPacketFilter, PmtPacketFilter,
};
use mpeg2ts_reader::packet::{Packet, Pid};
use mpeg2ts_reader::pes::{self, ElementaryStreamConsumer, PesContents, PesHeader, PtsDts};
use mpeg2ts_reader::psi;

/// Size of one transport stream packet.
const TS_PACKET: usize = 188;
/// Sync byte at the start of every transport stream packet.
const SYNC: u8 = 0x47;

/// Why the transport stream cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsError {
    /// A video or audio codec the live ingest does not take.
    #[error("unsupported media: {0}")]
    Unsupported(String),
    /// One PES packet larger than the limit.
    #[error("PES packet of {0} bytes exceeds the limit")]
    Oversized(usize),
}

/// Which elementary stream a unit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// The H.264 stream (Annex B byte stream).
    H264,
    /// The HEVC stream (Annex B byte stream).
    H265,
    /// The AAC stream (ADTS frames).
    Adts,
}

/// One complete PES packet of a taken stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PesUnit {
    /// Which stream.
    pub track: Track,
    /// Presentation time, 90 kHz, 33 bits as sent.
    pub pts: Option<u64>,
    /// Decode time, 90 kHz (the PTS when the packet has no DTS).
    pub dts: Option<u64>,
    /// The PES payload.
    pub data: Vec<u8>,
}

/// Push demultiplexer of a transport stream: [`push`](Self::push) any
/// chunk of bytes (packets may straddle chunks), get the PES packets that
/// completed.
pub struct TsDemuxer {
    demux: demultiplex::Demultiplex<Ctx>,
    ctx: Ctx,
    /// Bytes of a packet not yet complete.
    pending: Vec<u8>,
}

impl std::fmt::Debug for TsDemuxer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsDemuxer")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl TsDemuxer {
    /// A demuxer taking PES packets up to `max_pes_bytes`.
    pub fn new(max_pes_bytes: usize) -> Self {
        let mut ctx = Ctx {
            changeset: FilterChangeset::default(),
            units: Vec::new(),
            failure: None,
            video: None,
            audio: None,
            max_pes_bytes,
        };
        let demux = demultiplex::Demultiplex::new(&mut ctx);
        Self {
            demux,
            ctx,
            pending: Vec::new(),
        }
    }

    /// Whether the program tables name an AAC stream that is taken.
    pub fn has_audio(&self) -> bool {
        self.ctx.audio.is_some()
    }

    /// Demultiplexes `bytes`; the PES packets completed by them, in order.
    /// Bytes before a sync byte are skipped (a receiver joining late).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<PesUnit>, TsError> {
        self.pending.extend_from_slice(bytes);
        // Realign on a sync byte followed by another one a packet later (or
        // by the end of what we have).
        let start = (0..self.pending.len())
            .find(|&i| {
                self.pending[i] == SYNC
                    && self
                        .pending
                        .get(i + TS_PACKET)
                        .is_none_or(|&next| next == SYNC)
            })
            .unwrap_or(self.pending.len());
        let whole = (self.pending.len() - start) / TS_PACKET * TS_PACKET;
        self.demux
            .push(&mut self.ctx, &self.pending[start..start + whole]);
        self.pending.drain(..start + whole);
        if let Some(failure) = self.ctx.failure.take() {
            return Err(failure);
        }
        Ok(std::mem::take(&mut self.ctx.units))
    }
}

/// The demultiplexer's context: what the filters hand over.
struct Ctx {
    changeset: FilterChangeset<Filter>,
    units: Vec<PesUnit>,
    failure: Option<TsError>,
    video: Option<Pid>,
    audio: Option<Pid>,
    max_pes_bytes: usize,
}

/// The per-PID packet filters.
enum Filter {
    Pat(PatPacketFilter<Ctx>),
    Pmt(PmtPacketFilter<Ctx>),
    Pes(pes::PesPacketFilter<Ctx, Collector>),
    Null(NullPacketFilter<Ctx>),
}

impl PacketFilter for Filter {
    type Ctx = Ctx;
    fn consume(&mut self, ctx: &mut Ctx, pk: &Packet<'_>) {
        match self {
            Self::Pat(f) => f.consume(ctx, pk),
            Self::Pmt(f) => f.consume(ctx, pk),
            Self::Pes(f) => f.consume(ctx, pk),
            Self::Null(f) => f.consume(ctx, pk),
        }
    }
}

/// What a stream type is to the live ingest.
fn classify(stream_type: StreamType) -> Option<Result<Track, String>> {
    let unsupported = |what: &str| Some(Err(what.to_owned()));
    match stream_type {
        StreamType::H264 => Some(Ok(Track::H264)),
        StreamType::ADTS => Some(Ok(Track::Adts)),
        StreamType::H265 => Some(Ok(Track::H265)),
        StreamType::ISO_11172_VIDEO | StreamType::H262 => unsupported("mpeg-2 video"),
        StreamType::ISO_14496_2_VISUAL => unsupported("mpeg-4 part 2 video"),
        StreamType::CHINESE_VIDEO_STANDARD => unsupported("avs video"),
        StreamType::ISO_11172_AUDIO | StreamType::ISO_138183_AUDIO => unsupported("mpeg audio"),
        StreamType::LATM => unsupported("aac latm"),
        StreamType::ATSC_DOLBY_DIGITAL_AUDIO => unsupported("ac-3"),
        // Private data, metadata, SCTE-35 and the like: not media we ladder.
        _ => None,
    }
}

impl DemuxContext for Ctx {
    type F = Filter;

    fn filter_changeset(&mut self) -> &mut FilterChangeset<Filter> {
        &mut self.changeset
    }

    fn construct(&mut self, req: FilterRequest<'_, '_>) -> Filter {
        match req {
            FilterRequest::ByPid(psi::pat::PAT_PID) => Filter::Pat(PatPacketFilter::default()),
            FilterRequest::ByPid(_) | FilterRequest::Nit { .. } => {
                Filter::Null(NullPacketFilter::default())
            }
            FilterRequest::Pmt {
                pid,
                program_number,
            } => Filter::Pmt(PmtPacketFilter::new(pid, program_number)),
            FilterRequest::ByStream {
                stream_type,
                stream_info,
                ..
            } => {
                let pid = stream_info.elementary_pid();
                let track = match classify(stream_type) {
                    None => return Filter::Null(NullPacketFilter::default()),
                    Some(Err(what)) => {
                        self.failure.get_or_insert(TsError::Unsupported(what));
                        return Filter::Null(NullPacketFilter::default());
                    }
                    Some(Ok(track)) => track,
                };
                // The first stream of each kind is taken; a second (another
                // language, a backup) is left alone.
                let slot = match track {
                    Track::H264 | Track::H265 => &mut self.video,
                    Track::Adts => &mut self.audio,
                };
                if slot.is_some_and(|taken| taken != pid) {
                    return Filter::Null(NullPacketFilter::default());
                }
                *slot = Some(pid);
                Filter::Pes(pes::PesPacketFilter::new(Collector::new(track)))
            }
        }
    }
}

/// Gathers the payload of one elementary stream's PES packets.
struct Collector {
    track: Track,
    pts: Option<u64>,
    dts: Option<u64>,
    data: Vec<u8>,
    /// A packet is being gathered (its start was seen).
    open: bool,
}

impl Collector {
    fn new(track: Track) -> Self {
        Self {
            track,
            pts: None,
            dts: None,
            data: Vec::new(),
            open: false,
        }
    }

    fn append(&mut self, ctx: &mut Ctx, bytes: &[u8]) {
        if !self.open {
            return;
        }
        if self.data.len() + bytes.len() > ctx.max_pes_bytes {
            ctx.failure
                .get_or_insert(TsError::Oversized(self.data.len() + bytes.len()));
            self.open = false;
            self.data.clear();
            return;
        }
        self.data.extend_from_slice(bytes);
    }
}

impl ElementaryStreamConsumer<Ctx> for Collector {
    fn start_stream(&mut self, _ctx: &mut Ctx) {}

    fn begin_packet(&mut self, ctx: &mut Ctx, header: PesHeader<'_>) {
        self.data.clear();
        self.open = true;
        (self.pts, self.dts) = (None, None);
        match header.contents() {
            PesContents::Parsed(Some(parsed)) => {
                match parsed.pts_dts() {
                    Ok(PtsDts::PtsOnly(Ok(pts))) => {
                        (self.pts, self.dts) = (Some(pts.value()), Some(pts.value()));
                    }
                    Ok(PtsDts::Both {
                        pts: Ok(pts),
                        dts: Ok(dts),
                    }) => (self.pts, self.dts) = (Some(pts.value()), Some(dts.value())),
                    _ => {}
                }
                self.append(ctx, parsed.payload());
            }
            PesContents::Parsed(None) => {}
            PesContents::Payload(payload) => self.append(ctx, payload),
        }
    }

    fn continue_packet(&mut self, ctx: &mut Ctx, data: &[u8]) {
        self.append(ctx, data);
    }

    fn end_packet(&mut self, ctx: &mut Ctx) {
        if self.open && !self.data.is_empty() {
            ctx.units.push(PesUnit {
                track: self.track,
                pts: self.pts,
                dts: self.dts,
                data: std::mem::take(&mut self.data),
            });
        }
        self.open = false;
    }

    fn continuity_error(&mut self, _ctx: &mut Ctx) {
        // A lost TS packet (UDP loss SRT could not repair in time): the
        // packet being gathered is incomplete; drop it rather than hand a
        // damaged access unit on.
        tracing::debug!(track = ?self.track, "MPEG-TS continuity error; PES packet dropped");
        self.open = false;
        self.data.clear();
    }
}
