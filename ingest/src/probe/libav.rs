//! The few libav calls the safe `ffmpeg-next` API does not offer: content
//! sniffing, opening with a forced demuxer and an interrupt callback,
//! stream-info discovery with per-stream decoder options, and reads of
//! codec parameters (profile, level, channel layout) and of the demuxer's
//! sample index. All `unsafe` of the crate lives here, each block with its
//! reasoning; everything else works on the plain values returned.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use ff::ffi;
use ffmpeg_next as ff;
use yanxiu_transcode::picture::FieldOrder;

/// libav's `AVPROBE_SCORE_RETRY` (`AVPROBE_SCORE_MAX / 4`): below this a
/// content match is a guess.
const PROBE_SCORE_CONFIDENT: c_int = ffi::AVPROBE_SCORE_MAX / 4;

/// A demuxer recognised from the file's content.
#[derive(Debug, Clone, Copy)]
pub(super) struct SniffedFormat {
    // Points into libav's static, immutable table of demuxers.
    format: *const ffi::AVInputFormat,
}

impl SniffedFormat {
    /// The demuxer's short name, e.g. `"mov,mp4,m4a,3gp,3g2,mj2"`.
    pub(super) fn name(&self) -> String {
        // SAFETY: `format` came from av_probe_input_format3 and points into
        // libav's static demuxer table; `name` is a static NUL-terminated string.
        unsafe { cstr_to_string((*self.format).name) }.unwrap_or_default()
    }
}

/// The demuxer libav would pick for `content` (the first bytes of a file)
/// judging by the bytes alone, never by the file name; `None` unless some
/// demuxer is confident. Like libav's own probing, larger and larger
/// prefixes are tried, from 2 KiB up to all of `content`.
pub(super) fn sniff_format(content: &[u8]) -> Option<SniffedFormat> {
    let padding = ffi::AVPROBE_PADDING_SIZE as usize;
    let mut size = 2048.min(content.len());
    loop {
        let mut buffer = Vec::with_capacity(size + padding);
        buffer.extend_from_slice(&content[..size]);
        buffer.resize(size + padding, 0);
        let probe = ffi::AVProbeData {
            filename: c"".as_ptr(),
            buf: buffer.as_mut_ptr(),
            buf_size: c_int::try_from(size).unwrap_or(c_int::MAX),
            mime_type: ptr::null(),
        };
        let mut score: c_int = 0;
        // SAFETY: `probe` points at `size` readable bytes followed by the
        // AVPROBE_PADDING_SIZE zero bytes libav requires, and at a static
        // empty file name; `buffer` outlives the call. is_opened = 1 so only
        // demuxers that read through an AVIOContext (like ours) are considered.
        let format = unsafe { ffi::av_probe_input_format3(&probe, 1, &mut score) };
        if !format.is_null() && score > PROBE_SCORE_CONFIDENT {
            return Some(SniffedFormat { format });
        }
        if size >= content.len() {
            return None;
        }
        size = (size * 2).min(content.len());
    }
}

/// Opens `path` with the demuxer `format` (no further probing), the
/// demuxer `options`, and `interrupt` polled by libav during every read:
/// returning true aborts the read with `AVERROR_EXIT`.
pub(super) fn open_input<F>(
    path: &Path,
    format: SniffedFormat,
    options: ff::Dictionary,
    interrupt: F,
) -> Result<ff::format::context::Input, ff::Error>
where
    F: FnMut() -> bool + Send + 'static,
{
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| ff::Error::InvalidData)?;
    let interrupt = ff::util::interrupt::new(Box::new(interrupt));
    // SAFETY: standard libav open sequence. The context is allocated, gets
    // the interrupt callback whose closure is owned by `interrupt.guard`
    // (kept alive by the returned Input for as long as the context lives),
    // then avformat_open_input either succeeds (we hand ownership of the
    // context to `Input`) or frees the context and nulls the pointer itself.
    // The options dictionary is disowned to libav and taken back after the
    // call whatever its result.
    unsafe {
        let mut context = ffi::avformat_alloc_context();
        if context.is_null() {
            return Err(ff::Error::Other {
                errno: libc_enomem(),
            });
        }
        (*context).interrupt_callback = interrupt.interrupt;
        let mut raw_options = options.disown();
        let result = ffi::avformat_open_input(
            &mut context,
            c_path.as_ptr(),
            format.format,
            &mut raw_options,
        );
        drop(ff::Dictionary::own(raw_options));
        if result < 0 {
            return Err(ff::Error::from(result));
        }
        Ok(ff::format::context::Input::wrap_with_interrupt(
            context,
            interrupt.guard,
        ))
    }
}

fn libc_enomem() -> c_int {
    12 // ENOMEM on every platform libav supports here (Linux)
}

/// Reads the first packets to fill in the stream parameters
/// (`avformat_find_stream_info`), with every stream's probing decoder
/// limited to pictures of at most `max_pixels` pixels (libav's
/// `max_pixels` codec option) so a hostile header cannot make it allocate.
pub(super) fn find_stream_info(
    input: &mut ff::format::context::Input,
    max_pixels: u64,
) -> Result<(), ff::Error> {
    let limit = max_pixels.min(i32::MAX as u64).to_string();
    // SAFETY: `input` owns a context opened by avformat_open_input. The
    // options array has exactly nb_streams entries as libav requires; each
    // entry is an owned dictionary disowned to libav for the call and taken
    // back (and freed) afterwards, whatever libav left in it.
    unsafe {
        let context = input.as_mut_ptr();
        let count = (*context).nb_streams as usize;
        let mut per_stream: Vec<*mut ffi::AVDictionary> = (0..count)
            .map(|_| {
                let mut options = ff::Dictionary::new();
                options.set("max_pixels", &limit);
                options.disown()
            })
            .collect();
        let array = if count == 0 {
            ptr::null_mut()
        } else {
            per_stream.as_mut_ptr()
        };
        let result = ffi::avformat_find_stream_info(context, array);
        for options in per_stream {
            drop(ff::Dictionary::own(options));
        }
        if result < 0 {
            Err(ff::Error::from(result))
        } else {
            Ok(())
        }
    }
}

/// Codec parameters the safe API does not expose, copied out of a stream.
#[derive(Debug, Clone, Default)]
pub(super) struct CodecFacts {
    pub width: u32,
    pub height: u32,
    pub profile: Option<String>,
    pub level: Option<i32>,
    pub codec_long: Option<String>,
    /// Sample aspect ratio the container states (e.g. an MP4 `pasp` box).
    pub container_sar: (i32, i32),
    /// Sample aspect ratio the bitstream states.
    pub codec_sar: (i32, i32),
    pub channels: u16,
    pub sample_rate: u32,
    pub channel_layout: Option<String>,
    /// Colour description, libav names; `None` when unstated.
    pub color_transfer: Option<String>,
    pub color_primaries: Option<String>,
    pub color_matrix: Option<String>,
    pub color_range: Option<String>,
    pub field_order: FieldOrder,
}

/// libav's `FF_LEVEL_UNKNOWN`.
const LEVEL_UNKNOWN: c_int = -99;

/// Copies the codec parameters of `stream`.
pub(super) fn codec_facts(stream: &ff::Stream) -> CodecFacts {
    // SAFETY: `stream` borrows an open format context, so its AVStream and
    // codecpar pointers are valid for the duration of this function; we only
    // read plain fields and call libav functions that read them. Strings
    // returned by avcodec_profile_name and avcodec_descriptor_get are static.
    unsafe {
        let st = stream.as_ptr();
        let par = (*st).codecpar;
        if par.is_null() {
            return CodecFacts::default();
        }
        let profile = cstr_to_string(ffi::avcodec_profile_name((*par).codec_id, (*par).profile));
        let descriptor = ffi::avcodec_descriptor_get((*par).codec_id);
        let codec_long = if descriptor.is_null() {
            None
        } else {
            cstr_to_string((*descriptor).long_name)
        };
        let mut layout = [0 as c_char; 128];
        let written =
            ffi::av_channel_layout_describe(&(*par).ch_layout, layout.as_mut_ptr(), layout.len());
        let channel_layout = if written > 0 && (*par).ch_layout.nb_channels > 0 {
            cstr_to_string(layout.as_ptr())
        } else {
            None
        };
        CodecFacts {
            width: u32::try_from((*par).width).unwrap_or(0),
            height: u32::try_from((*par).height).unwrap_or(0),
            profile,
            level: ((*par).level != LEVEL_UNKNOWN).then_some((*par).level),
            codec_long,
            container_sar: ((*st).sample_aspect_ratio.num, (*st).sample_aspect_ratio.den),
            codec_sar: (
                (*par).sample_aspect_ratio.num,
                (*par).sample_aspect_ratio.den,
            ),
            channels: u16::try_from((*par).ch_layout.nb_channels).unwrap_or(0),
            sample_rate: u32::try_from((*par).sample_rate).unwrap_or(0),
            channel_layout,
            color_transfer: stated(cstr_to_string(ffi::av_color_transfer_name(
                (*par).color_trc,
            ))),
            color_primaries: stated(cstr_to_string(ffi::av_color_primaries_name(
                (*par).color_primaries,
            ))),
            color_matrix: stated(cstr_to_string(ffi::av_color_space_name((*par).color_space))),
            color_range: stated(cstr_to_string(ffi::av_color_range_name((*par).color_range))),
            field_order: field_order((*par).field_order),
        }
    }
}

/// A libav colour name, `None` for the names of "not stated".
fn stated(name: Option<String>) -> Option<String> {
    name.filter(|n| !matches!(n.as_str(), "unknown" | "unspecified" | "reserved"))
}

fn field_order(order: ffi::AVFieldOrder) -> FieldOrder {
    use ffi::AVFieldOrder::*;
    match order {
        AV_FIELD_PROGRESSIVE => FieldOrder::Progressive,
        AV_FIELD_TT => FieldOrder::TopTop,
        AV_FIELD_BB => FieldOrder::BottomBottom,
        AV_FIELD_TB => FieldOrder::TopBottom,
        AV_FIELD_BT => FieldOrder::BottomTop,
        _ => FieldOrder::Unknown,
    }
}

/// The byte just past the furthest sample the demuxer's index refers to
/// (MP4 sample tables, Matroska cues, AVI idx1 ...), or `None` without an
/// index. A value beyond the file size means the file was cut short.
pub(super) fn indexed_end(stream: &ff::Stream) -> Option<u64> {
    // SAFETY: `stream` borrows an open format context; the index accessors
    // only read the stream's index and return pointers into it that stay
    // valid until the next demuxer call, and we copy the values immediately.
    unsafe {
        let st = stream.as_ptr() as *mut ffi::AVStream;
        let count = ffi::avformat_index_get_entries_count(st);
        let mut end: Option<u64> = None;
        for i in 0..count {
            let entry = ffi::avformat_index_get_entry(st, i);
            if entry.is_null() {
                continue;
            }
            let Ok(pos) = u64::try_from((*entry).pos) else {
                continue;
            };
            let size = u64::try_from((*entry).size()).unwrap_or(0);
            let entry_end = pos.saturating_add(size);
            end = Some(end.map_or(entry_end, |e| e.max(entry_end)));
        }
        end
    }
}

/// Copies a C string, `None` for a null pointer.
///
/// # Safety
/// `text` is null or points at a NUL-terminated string valid for the call.
unsafe fn cstr_to_string(text: *const c_char) -> Option<String> {
    if text.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per this function's contract.
    Some(
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned(),
    )
}
