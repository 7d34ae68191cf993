//! The few libav calls ffmpeg-next does not wrap: reading an encoder's
//! extradata, taking a second reference to a decoded frame (so every
//! rung reads the same picture without copying it), writing a frame's
//! side data (a scaled picture keeps the source picture's captions), and
//! telling the demuxer to skip the streams a reader does not want.
#![allow(unsafe_code)]

use ffmpeg_next::{codec, ffi, format, frame};

/// The codec-level headers an opened encoder produced (SPS/PPS for x264,
/// the AudioSpecificConfig for AAC); empty when there are none.
pub fn extradata(context: &codec::Context) -> Vec<u8> {
    // SAFETY: `context` is a live, opened AVCodecContext owned by the caller;
    // extradata/extradata_size are set by avcodec_open2 and not mutated while
    // we hold a shared borrow. We copy the bytes out before returning.
    unsafe {
        let ptr = context.as_ptr();
        let data = (*ptr).extradata;
        let size = (*ptr).extradata_size;
        if data.is_null() || size <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(data, size as usize).to_vec()
        }
    }
}

/// A new frame referencing the same (reference-counted, read-only) picture
/// buffers as `source`.
pub fn share(source: &frame::Video) -> Result<frame::Video, ffmpeg_next::Error> {
    let mut copy = frame::Video::empty();
    // SAFETY: both pointers are valid AVFrames; `copy` is freshly allocated
    // and empty, which av_frame_ref requires. The buffers are ref-counted, so
    // the new reference keeps them alive after `source` is dropped.
    let ret = unsafe { ffi::av_frame_ref(copy.as_mut_ptr(), source.as_ptr()) };
    if ret < 0 {
        Err(ffmpeg_next::Error::from(ret))
    } else {
        Ok(copy)
    }
}

/// Gives `target` a copy of `source`'s side data of `kind`, replacing any
/// it had; nothing when `source` has none. A scaled picture is a new frame
/// and would otherwise lose what rides on the source picture, such as its
/// CEA-608 caption bytes ([`frame::side_data::Type::A53CC`]).
pub fn copy_side_data(
    source: &frame::Video,
    target: &mut frame::Video,
    kind: frame::side_data::Type,
) -> Result<(), ffmpeg_next::Error> {
    let Some(side) = source.side_data(kind) else {
        return Ok(());
    };
    let bytes = side.data();
    target.remove_side_data(kind);
    if bytes.is_empty() {
        return Ok(());
    }
    let mut added = target
        .new_side_data(kind, bytes.len())
        .ok_or(ffmpeg_next::Error::Other {
            errno: ffmpeg_next::error::ENOMEM,
        })?;
    // SAFETY: av_frame_new_side_data just allocated `bytes.len()` writable
    // bytes at `data` for `target`'s new entry, which nothing else references
    // yet; `bytes` belongs to the distinct frame `source`, so they cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), (*added.as_mut_ptr()).data, bytes.len());
    }
    Ok(())
}

/// Tells the demuxer to skip every packet of every stream but `keep` (the
/// MP4 demuxer then does not even read their bytes).
pub fn discard_all_but(input: &mut format::context::Input, keep: usize) {
    // SAFETY: `input` is a live, opened AVFormatContext exclusively borrowed;
    // `streams` holds `nb_streams` valid AVStream pointers for its lifetime,
    // and `discard` is a plain field the demuxer reads on the next packet read.
    unsafe {
        let ctx = input.as_mut_ptr();
        let count = (*ctx).nb_streams as usize;
        for i in 0..count {
            let stream = *(*ctx).streams.add(i);
            if !stream.is_null() && i != keep {
                (*stream).discard = ffi::AVDiscard::AVDISCARD_ALL;
            }
        }
    }
}
