//! The poster image: one picture from the top rung, encoded as JPEG; for a
//! sound file, the cover picture it carries.

use std::path::Path;

use bytes::Bytes;
use ffmpeg_next::format::stream::Disposition;
use ffmpeg_next::{Rational, codec, encoder, format, frame, software};

use super::ffi;
use crate::TranscodeError;

/// The poster's file name, relative to the ladder's prefix.
pub const FILE: &str = "poster.jpg";

/// Watches a rung's pictures and encodes the first one at or after the
/// target time as a JPEG (or the last one, for a source shorter than that).
pub struct PosterGrabber {
    target_pts: i64,
    latest: Option<frame::Video>,
    done: bool,
}

impl std::fmt::Debug for PosterGrabber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PosterGrabber")
            .field("target_pts", &self.target_pts)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl PosterGrabber {
    /// A grabber for the picture at `target_pts` (rung timescale).
    pub fn new(target_pts: i64) -> Self {
        Self {
            target_pts,
            latest: None,
            done: false,
        }
    }

    /// Offers a picture; returns the JPEG once the target is reached.
    pub fn offer(&mut self, picture: &frame::Video) -> Result<Option<Bytes>, TranscodeError> {
        if self.done {
            return Ok(None);
        }
        if picture.pts().unwrap_or(0) >= self.target_pts {
            self.done = true;
            self.latest = None;
            return encode_jpeg(picture).map(Some);
        }
        self.latest = Some(ffi::share(picture).map_err(|e| TranscodeError::scaler("poster", e))?);
        Ok(None)
    }

    /// The poster from the last picture seen, if none was taken yet.
    pub fn finish(&mut self) -> Result<Option<Bytes>, TranscodeError> {
        match (self.done, self.latest.take()) {
            (false, Some(last)) => {
                self.done = true;
                encode_jpeg(&last).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// Encodes one picture as a baseline JPEG at its own size.
pub fn encode_jpeg(picture: &frame::Video) -> Result<Bytes, TranscodeError> {
    encode_jpeg_at(picture, (picture.width(), picture.height()))
}

/// Encodes one picture as a baseline JPEG of `size` (scaled when it differs).
fn encode_jpeg_at(picture: &frame::Video, (w, h): (u32, u32)) -> Result<Bytes, TranscodeError> {
    let err = |e| TranscodeError::encoder("poster", e);
    let mut scaler = software::scaling::Context::get(
        picture.format(),
        picture.width(),
        picture.height(),
        format::Pixel::YUVJ420P,
        w,
        h,
        software::scaling::Flags::BICUBIC,
    )
    .map_err(|e| TranscodeError::scaler("poster", e))?;
    let mut full_range = frame::Video::new(format::Pixel::YUVJ420P, w, h);
    scaler
        .run(picture, &mut full_range)
        .map_err(|e| TranscodeError::scaler("poster", e))?;
    full_range.set_pts(Some(0));

    let codec = encoder::find(codec::Id::MJPEG).ok_or(TranscodeError::MissingEncoder("mjpeg"))?;
    let mut video = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(err)?;
    video.set_width(w);
    video.set_height(h);
    video.set_format(format::Pixel::YUVJ420P);
    video.set_time_base(Rational(1, 25));
    // Quality scale 2-31, lower is better; 3 is visually clean for slides.
    video.set_qmin(3);
    video.set_qmax(3);
    let mut enc = video.open().map_err(err)?;
    enc.send_frame(&full_range).map_err(err)?;
    enc.send_eof().map_err(err)?;
    let mut packet = codec::packet::Packet::empty();
    enc.receive_packet(&mut packet).map_err(err)?;
    Ok(Bytes::copy_from_slice(packet.data().unwrap_or_default()))
}

/// Encodes `size` RGB pixels (row by row, three bytes each) as a JPEG, like
/// [`encode_jpeg`].
pub fn encode_rgb_jpeg(rgb: &[u8], size: (u32, u32)) -> Result<Bytes, TranscodeError> {
    let (w, h) = size;
    let row = w as usize * 3;
    if rgb.len() != row * h as usize {
        return Err(TranscodeError::Internal(
            "poster pixels do not fill the picture",
        ));
    }
    let mut picture = frame::Video::new(format::Pixel::RGB24, w, h);
    let stride = picture.stride(0);
    let plane = picture.data_mut(0);
    for (y, line) in rgb.chunks_exact(row).enumerate() {
        plane[y * stride..y * stride + row].copy_from_slice(line);
    }
    picture.set_pts(Some(0));
    encode_jpeg(&picture)
}

/// The size a `width` × `height` picture is shown at within `bounds`: its own shape, never
/// enlarged, even sides (JPEG 4:2:0).
pub fn fit_within((width, height): (u32, u32), bounds: (u32, u32)) -> (u32, u32) {
    let scale = (f64::from(bounds.0) / f64::from(width.max(1)))
        .min(f64::from(bounds.1) / f64::from(height.max(1)))
        .min(1.0);
    let even = |x: f64| ((x / 2.0).round() as u32 * 2).max(2);
    (
        even(f64::from(width) * scale),
        even(f64::from(height) * scale),
    )
}

/// The cover picture a sound file carries (an ID3 picture, an MP4 `covr`, a FLAC picture
/// block), as the ladder's poster: decoded and fitted within `bounds`, as JPEG. `None` when
/// the file has none, or it cannot be read: the waveform stands in.
pub fn cover_art(path: &Path, bounds: (u32, u32)) -> Option<Bytes> {
    let mut input = format::input(path).ok()?;
    let cover = input
        .streams()
        .find(|s| s.disposition().contains(Disposition::ATTACHED_PIC))?;
    let index = cover.index();
    let mut decoder = codec::context::Context::from_parameters(cover.parameters())
        .ok()?
        .decoder()
        .video()
        .ok()?;
    // Demuxers queue the attached picture ahead of the sound: among the first packets.
    let (_, packet) = input
        .packets()
        .take(COVER_SEARCH_PACKETS)
        .find(|(stream, _)| stream.index() == index)?;
    decoder.send_packet(&packet).ok()?;
    decoder.send_eof().ok()?;
    let mut picture = frame::Video::empty();
    decoder.receive_frame(&mut picture).ok()?;
    let size = fit_within((picture.width(), picture.height()), bounds);
    match encode_jpeg_at(&picture, size) {
        Ok(jpeg) => Some(jpeg),
        Err(e) => {
            tracing::debug!(error = %e, "the cover picture could not be made a poster");
            None
        }
    }
}

/// Packets read looking for the cover picture.
const COVER_SEARCH_PACKETS: usize = 64;

#[cfg(test)]
mod tests {
    use super::fit_within;

    #[test]
    fn a_cover_keeps_its_shape_within_the_poster_and_is_never_enlarged() {
        assert_eq!(fit_within((600, 600), (1280, 720)), (600, 600));
        assert_eq!(fit_within((3000, 3000), (1280, 720)), (720, 720));
        assert_eq!(fit_within((4000, 1000), (1280, 720)), (1280, 320));
        assert_eq!(fit_within((501, 333), (1280, 720)), (502, 334));
        assert_eq!(fit_within((1, 1), (1280, 720)), (2, 2));
    }
}
