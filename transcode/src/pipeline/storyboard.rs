//! Storyboard sprite sheets: takes thumbnails from a rung's pictures at the
//! layout's interval, tiles them onto sheets and encodes each full sheet as
//! a JPEG. The layout and the WebVTT are in [`crate::storyboard`].

use bytes::Bytes;
use ffmpeg_next::{format, frame, software};

use super::poster::encode_jpeg;
use crate::TranscodeError;
use crate::storyboard::{StoryboardLayout, ThumbnailPicker};
use crate::timing::VIDEO_TIMESCALE;

/// Storyboard files, named relative to the ladder's prefix.
pub const DIR: &str = "storyboard/";
/// The WebVTT file, relative to the ladder's prefix.
pub const VTT: &str = "storyboard/storyboard.vtt";

/// Builds the sheets of one storyboard.
pub struct StoryboardBuilder {
    layout: StoryboardLayout,
    picker: ThumbnailPicker,
    duration: f64,
    scaler: Option<software::scaling::Context>,
    sheet: Option<(u32, frame::Video)>,
}

impl std::fmt::Debug for StoryboardBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoryboardBuilder")
            .field("layout", &self.layout)
            .field("taken", &self.picker.taken())
            .finish_non_exhaustive()
    }
}

impl StoryboardBuilder {
    /// A builder for `layout` over a source of `duration` seconds.
    pub fn new(layout: StoryboardLayout, duration: f64) -> Self {
        Self {
            picker: ThumbnailPicker::new(layout.interval),
            layout,
            duration,
            scaler: None,
            sheet: None,
        }
    }

    /// Offers a picture (pts in video ticks); returns `(file name, JPEG)`
    /// when it completes a sheet.
    pub fn offer(
        &mut self,
        picture: &frame::Video,
    ) -> Result<Option<(String, Bytes)>, TranscodeError> {
        let seconds = picture.pts().unwrap_or(0) as f64 / f64::from(VIDEO_TIMESCALE);
        if !self.picker.take(seconds) {
            return Ok(None);
        }
        let index = self.picker.taken() - 1;
        let place = self.layout.place(index);
        let mut done = None;
        if self.sheet.as_ref().is_some_and(|(n, _)| *n != place.sheet) {
            done = self.flush()?;
        }
        let tile = self.scale(picture)?;
        let (w, h) = self.layout.sheet_size();
        let (_, sheet) = self
            .sheet
            .get_or_insert_with(|| (place.sheet, black_picture(w, h)));
        blit(&tile, sheet, place.x, place.y);
        Ok(done)
    }

    /// Encodes the last, partly filled sheet and returns it with the WebVTT.
    pub fn finish(&mut self) -> Result<(Option<(String, Bytes)>, Bytes), TranscodeError> {
        let last = self.flush()?;
        let vtt = self.layout.webvtt(self.picker.taken(), self.duration);
        Ok((last, Bytes::from(vtt)))
    }

    fn flush(&mut self) -> Result<Option<(String, Bytes)>, TranscodeError> {
        let Some((n, sheet)) = self.sheet.take() else {
            return Ok(None);
        };
        // A partly filled sheet is cropped to the rows (and, for a single
        // row, the columns) it uses; cue coordinates stay valid.
        let l = &self.layout;
        let tiles = (self.picker.taken() - n * l.tiles_per_sheet()).min(l.tiles_per_sheet());
        let used_w = tiles.min(l.columns) * l.tile_width;
        let used_h = tiles.div_ceil(l.columns) * l.tile_height;
        let name = format!("{DIR}{}", StoryboardLayout::sheet_name(n));
        if (used_w, used_h) == l.sheet_size() {
            return Ok(Some((name, encode_jpeg(&sheet)?)));
        }
        let mut cropped = frame::Video::new(format::Pixel::YUV420P, used_w, used_h);
        copy_region(&sheet, &mut cropped);
        Ok(Some((name, encode_jpeg(&cropped)?)))
    }

    fn scale(&mut self, picture: &frame::Video) -> Result<frame::Video, TranscodeError> {
        let (w, h) = (self.layout.tile_width, self.layout.tile_height);
        let stale = self.scaler.as_ref().is_none_or(|s| {
            let i = s.input();
            i.width != picture.width()
                || i.height != picture.height()
                || i.format != picture.format()
        });
        if stale {
            self.scaler = Some(
                software::scaling::Context::get(
                    picture.format(),
                    picture.width(),
                    picture.height(),
                    format::Pixel::YUV420P,
                    w,
                    h,
                    software::scaling::Flags::AREA,
                )
                .map_err(|e| TranscodeError::scaler("storyboard", e))?,
            );
        }
        let mut tile = frame::Video::new(format::Pixel::YUV420P, w, h);
        self.scaler
            .as_mut()
            .ok_or(TranscodeError::Internal("storyboard scaler"))?
            .run(picture, &mut tile)
            .map_err(|e| TranscodeError::scaler("storyboard", e))?;
        Ok(tile)
    }
}

/// A black limited-range YUV 4:2:0 picture.
fn black_picture(width: u32, height: u32) -> frame::Video {
    let mut f = frame::Video::new(format::Pixel::YUV420P, width, height);
    for (plane, value) in [(0, 16u8), (1, 128), (2, 128)] {
        f.data_mut(plane).fill(value);
    }
    f
}

/// Copies the top left of `from` that fits into `to`; both YUV 4:2:0.
fn copy_region(from: &frame::Video, to: &mut frame::Video) {
    for plane in 0..3 {
        let shift = u32::from(plane > 0);
        let w = (to.width() >> shift) as usize;
        let h = (to.height() >> shift) as usize;
        let (src_stride, dst_stride) = (from.stride(plane), to.stride(plane));
        let src = from.data(plane);
        let dst = to.data_mut(plane);
        for row in 0..h {
            let (s, d) = (row * src_stride, row * dst_stride);
            if let (Some(a), Some(b)) = (src.get(s..s + w), dst.get_mut(d..d + w)) {
                b.copy_from_slice(a);
            }
        }
    }
}

/// Copies `tile` onto `sheet` with its top left corner at (x, y); both
/// YUV 4:2:0, x and y even.
fn blit(tile: &frame::Video, sheet: &mut frame::Video, x: u32, y: u32) {
    for plane in 0..3 {
        let shift = u32::from(plane > 0);
        let (px, py) = ((x >> shift) as usize, (y >> shift) as usize);
        let (w, h) = (
            (tile.width() >> shift) as usize,
            (tile.height() >> shift) as usize,
        );
        let (src_stride, dst_stride) = (tile.stride(plane), sheet.stride(plane));
        let src = tile.data(plane);
        let dst = sheet.data_mut(plane);
        for row in 0..h {
            let s = row * src_stride;
            let d = (py + row) * dst_stride + px;
            if let (Some(from), Some(to)) = (src.get(s..s + w), dst.get_mut(d..d + w)) {
                to.copy_from_slice(from);
            }
        }
    }
}
