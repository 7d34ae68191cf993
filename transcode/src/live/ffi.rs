//! The one libav call ffmpeg-next does not wrap for live decoding: giving
//! a decoder context its codec headers (avcC, AudioSpecificConfig).
#![allow(unsafe_code)]

use ffmpeg_next::{codec, ffi};

/// Copies `data` into the context's extradata (padded, owned by libav, freed
/// with the context). Must be called before the decoder is opened.
pub fn set_extradata(context: &mut codec::Context, data: &[u8]) -> Result<(), ffmpeg_next::Error> {
    let size = i32::try_from(data.len()).map_err(|_| ffmpeg_next::Error::InvalidData)?;
    let padded = data.len() + ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
    // SAFETY: `context` is a live, unopened AVCodecContext we hold mutably.
    // The buffer comes from av_mallocz (zeroed, so the padding is zero) and
    // is at least `data.len()` bytes; libav frees it with the context. Any
    // previous extradata is freed first so it does not leak.
    unsafe {
        let buf = ffi::av_mallocz(padded).cast::<u8>();
        if buf.is_null() {
            return Err(ffmpeg_next::Error::Other {
                errno: libc_enomem(),
            });
        }
        std::ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len());
        let ptr = context.as_mut_ptr();
        ffi::av_freep(std::ptr::addr_of_mut!((*ptr).extradata).cast());
        (*ptr).extradata = buf;
        (*ptr).extradata_size = size;
    }
    Ok(())
}

fn libc_enomem() -> i32 {
    12
}
