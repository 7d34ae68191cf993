//! Storyboard layout: which source times get a thumbnail, where each one
//! sits on which sprite sheet, and the WebVTT file players use to show them
//! while scrubbing. Pure: no IO, no pixels.

use std::fmt::Write as _;

/// Storyboard geometry and timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoryboardLayout {
    /// Seconds between thumbnails.
    pub interval: f64,
    /// Thumbnail width in pixels (even).
    pub tile_width: u32,
    /// Thumbnail height in pixels (even).
    pub tile_height: u32,
    /// Tiles per row.
    pub columns: u32,
    /// Rows per sheet.
    pub rows: u32,
}

/// Where one thumbnail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePlace {
    /// Sheet number, from 0.
    pub sheet: u32,
    /// Left edge on the sheet.
    pub x: u32,
    /// Top edge on the sheet.
    pub y: u32,
}

/// At most this many thumbnails for one source (a 3 h lecture at one per
/// 10 s is 1080); the interval grows past it.
const MAX_TILES: f64 = 1200.0;

impl StoryboardLayout {
    /// A layout for a source of `duration` seconds whose display aspect is
    /// `aspect` (width over height): one thumbnail every 2 s for short
    /// clips, growing to keep at most 1200 thumbnails; 160 px wide tiles
    /// (160 px tall for portrait), 10 x 10 tiles a sheet.
    pub fn for_source(duration: f64, aspect: f64) -> Self {
        let interval = (duration / MAX_TILES).max(2.0);
        let even = |v: f64| ((v / 2.0).round() as u32 * 2).max(2);
        let (tile_width, tile_height) = if aspect >= 1.0 {
            (160, even(160.0 / aspect))
        } else {
            (even(160.0 * aspect), 160)
        };
        Self {
            interval,
            tile_width,
            tile_height,
            columns: 10,
            rows: 10,
        }
    }

    /// Tiles a sheet holds.
    pub fn tiles_per_sheet(&self) -> u32 {
        self.columns * self.rows
    }

    /// Sheet size in pixels.
    pub fn sheet_size(&self) -> (u32, u32) {
        (self.tile_width * self.columns, self.tile_height * self.rows)
    }

    /// The place of thumbnail number `index`.
    pub fn place(&self, index: u32) -> TilePlace {
        let per = self.tiles_per_sheet();
        let within = index % per;
        TilePlace {
            sheet: index / per,
            x: (within % self.columns) * self.tile_width,
            y: (within / self.columns) * self.tile_height,
        }
    }

    /// The file name of sheet `sheet`.
    pub fn sheet_name(sheet: u32) -> String {
        format!("sheet-{:03}.jpg", sheet + 1)
    }

    /// The WebVTT text for `count` thumbnails over `duration` seconds;
    /// cues point at `sheet-NNN.jpg#xywh=…` relative to the VTT file.
    pub fn webvtt(&self, count: u32, duration: f64) -> String {
        let mut out = String::from("WEBVTT\n");
        for i in 0..count {
            let start = f64::from(i) * self.interval;
            if start >= duration && i > 0 {
                break;
            }
            let end = (start + self.interval).min(duration.max(start + 0.001));
            let p = self.place(i);
            let _ = write!(
                out,
                "\n{} --> {}\n{}#xywh={},{},{},{}\n",
                timestamp(start),
                timestamp(end),
                Self::sheet_name(p.sheet),
                p.x,
                p.y,
                self.tile_width,
                self.tile_height
            );
        }
        out
    }
}

/// Decides which pictures become thumbnails: the first at or after each
/// multiple of the interval.
#[derive(Debug, Clone)]
pub struct ThumbnailPicker {
    interval: f64,
    taken: u32,
}

impl ThumbnailPicker {
    /// A picker for one thumbnail every `interval` seconds.
    pub fn new(interval: f64) -> Self {
        Self { interval, taken: 0 }
    }

    /// Whether the picture at `seconds` becomes thumbnail number
    /// [`Self::taken`]` - 1`.
    pub fn take(&mut self, seconds: f64) -> bool {
        if seconds + 1e-6 >= f64::from(self.taken) * self.interval {
            self.taken += 1;
            true
        } else {
            false
        }
    }

    /// Thumbnails taken so far.
    pub fn taken(&self) -> u32 {
        self.taken
    }
}

fn timestamp(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_clips_get_a_thumbnail_every_two_seconds() {
        let l = StoryboardLayout::for_source(60.0, 16.0 / 9.0);
        assert_eq!(l.interval, 2.0);
        assert_eq!((l.tile_width, l.tile_height), (160, 90));
        assert_eq!(l.sheet_size(), (1600, 900));
    }

    #[test]
    fn long_lectures_are_capped_at_1200_thumbnails() {
        let l = StoryboardLayout::for_source(3.0 * 3600.0, 16.0 / 9.0);
        assert_eq!(l.interval, 9.0);
    }

    #[test]
    fn portrait_sources_get_portrait_tiles() {
        let l = StoryboardLayout::for_source(60.0, 9.0 / 16.0);
        assert_eq!((l.tile_width, l.tile_height), (90, 160));
    }

    #[test]
    fn tiles_fill_rows_then_sheets() {
        let l = StoryboardLayout::for_source(600.0, 16.0 / 9.0);
        assert_eq!(
            l.place(0),
            TilePlace {
                sheet: 0,
                x: 0,
                y: 0
            }
        );
        assert_eq!(
            l.place(11),
            TilePlace {
                sheet: 0,
                x: 160,
                y: 90
            }
        );
        assert_eq!(
            l.place(100),
            TilePlace {
                sheet: 1,
                x: 0,
                y: 0
            }
        );
    }

    #[test]
    fn the_webvtt_points_each_interval_at_its_tile() {
        let l = StoryboardLayout::for_source(5.0, 16.0 / 9.0);
        let vtt = l.webvtt(3, 5.0);
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsheet-001.jpg#xywh=0,0,160,90\n\
             \n00:00:02.000 --> 00:00:04.000\nsheet-001.jpg#xywh=160,0,160,90\n\
             \n00:00:04.000 --> 00:00:05.000\nsheet-001.jpg#xywh=320,0,160,90\n"
        );
    }

    #[test]
    fn the_picker_takes_the_first_picture_of_each_interval() {
        let mut p = ThumbnailPicker::new(2.0);
        let taken: Vec<f64> = (0..150)
            .map(|n| f64::from(n) / 30.0)
            .filter(|&t| p.take(t))
            .collect();
        assert_eq!(taken.len(), 3);
        assert!((taken[1] - 2.0).abs() < 1e-9 && (taken[2] - 4.0).abs() < 1e-9);
        assert_eq!(p.taken(), 3);
    }
}
