//! What the decode stage does to a source picture before the rungs scale
//! it: deinterlacing, HDR → SDR tone mapping and rotation, and the
//! libavfilter chain that does it. Pure: no IO, no libav calls.
//!
//! Order: fields are woven back into frames first (on the source's own
//! samples), then PQ/HLG is tone-mapped to BT.709 SDR 8-bit (or an SDR
//! picture in BT.601 coefficients or full range is converted to BT.709
//! limited range), then the picture is turned upright. The rungs receive
//! BT.709 4:2:0 pictures and only scale them; every rendition is tagged
//! BT.709, limited range.

use serde::{Deserialize, Serialize};

use crate::source::{Rotation, SourceVideo};

/// The high dynamic range a source's transfer characteristic states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HdrKind {
    /// Standard dynamic range (or a transfer not stated).
    #[default]
    None,
    /// Perceptual quantiser, SMPTE ST 2084 (HDR10, Dolby Vision base layers).
    Pq,
    /// Hybrid log-gamma, ARIB STD-B67 (broadcast and phone HDR).
    Hlg,
}

impl HdrKind {
    /// The kind a libav transfer name states: `smpte2084` is PQ,
    /// `arib-std-b67` is HLG, anything else (or nothing) is SDR.
    pub fn from_transfer(transfer: Option<&str>) -> HdrKind {
        match transfer {
            Some("smpte2084") => HdrKind::Pq,
            Some("arib-std-b67") => HdrKind::Hlg,
            _ => HdrKind::None,
        }
    }

    /// The libav (and zscale) name of the transfer, `None` for SDR.
    pub fn transfer_name(self) -> Option<&'static str> {
        match self {
            HdrKind::None => None,
            HdrKind::Pq => Some("smpte2084"),
            HdrKind::Hlg => Some("arib-std-b67"),
        }
    }
}

/// The matrix coefficients of a source's YUV samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matrix {
    /// Not stated: BT.601 for standard definition (at most 576 lines),
    /// BT.709 above, as players assume.
    #[default]
    Unstated,
    /// BT.709.
    Bt709,
    /// BT.601 (`smpte170m`, `bt470bg`).
    Bt601,
    /// Anything else (BT.2020 with an SDR transfer, RGB, YCgCo ...): left
    /// as it is.
    Other,
}

impl Matrix {
    /// The matrix a libav colour-space name states.
    pub fn from_name(name: Option<&str>) -> Matrix {
        match name {
            None => Matrix::Unstated,
            Some("bt709") => Matrix::Bt709,
            Some("smpte170m" | "bt470bg") => Matrix::Bt601,
            Some(_) => Matrix::Other,
        }
    }
}

/// Largest coded height taken for standard definition when the matrix is
/// not stated.
const SD_MAX_HEIGHT: u32 = 576;

/// How a source's two fields make up a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scan {
    /// Whole frames (or nothing says otherwise).
    #[default]
    Progressive,
    /// Interlaced, the top field first in time.
    TopFieldFirst,
    /// Interlaced, the bottom field first in time.
    BottomFieldFirst,
}

impl Scan {
    /// Whether the frames are made of two fields from different times.
    pub fn is_interlaced(self) -> bool {
        self != Scan::Progressive
    }
}

/// The libav field order of a stream (`AVFieldOrder`): the coded and the
/// displayed field order of interlaced pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum FieldOrder {
    /// The stream does not say.
    #[default]
    #[serde(rename = "unknown")]
    Unknown,
    /// Whole frames.
    #[serde(rename = "progressive")]
    Progressive,
    /// Top field coded and displayed first.
    #[serde(rename = "tt")]
    TopTop,
    /// Bottom field coded and displayed first.
    #[serde(rename = "bb")]
    BottomBottom,
    /// Top coded first, bottom displayed first.
    #[serde(rename = "tb")]
    TopBottom,
    /// Bottom coded first, top displayed first.
    #[serde(rename = "bt")]
    BottomTop,
}

impl FieldOrder {
    /// ffprobe's name: `progressive`, `tt`, `bb`, `tb`, `bt` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldOrder::Unknown => "unknown",
            FieldOrder::Progressive => "progressive",
            FieldOrder::TopTop => "tt",
            FieldOrder::BottomBottom => "bb",
            FieldOrder::TopBottom => "tb",
            FieldOrder::BottomTop => "bt",
        }
    }

    /// The scan this flag states: the field *displayed* first decides.
    pub fn scan(self) -> Scan {
        match self {
            FieldOrder::Unknown | FieldOrder::Progressive => Scan::Progressive,
            FieldOrder::TopTop | FieldOrder::BottomTop => Scan::TopFieldFirst,
            FieldOrder::BottomBottom | FieldOrder::TopBottom => Scan::BottomFieldFirst,
        }
    }
}

/// How the deinterlacer emits pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeinterlaceMode {
    /// One picture per field: 50i becomes 50p, motion stays smooth.
    SendField,
    /// One picture per frame: the frame rate is kept.
    SendFrame,
}

/// Deinterlacing with libavfilter's `bwdif`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deinterlace {
    /// Which field comes first in time (stated, not guessed per frame: a
    /// source flagged progressive may carry interlaced pictures).
    pub top_field_first: bool,
    /// Picture per field or per frame.
    pub mode: DeinterlaceMode,
}

/// HDR → SDR tone mapping to BT.709.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToneMap {
    /// The source's transfer (never [`HdrKind::None`]).
    pub hdr: HdrKind,
    /// Whether the source uses the full code range (else limited, "tv").
    pub full_range: bool,
}

/// Conversion of an SDR picture to BT.709 coefficients, limited range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToBt709 {
    /// The samples use BT.601 coefficients (else already BT.709).
    pub from_bt601: bool,
    /// The samples use the full code range (else limited).
    pub full_range: bool,
}

/// What happens to the decoded picture before the rungs scale it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PicturePlan {
    /// Deinterlacing, for an interlaced source.
    pub deinterlace: Option<Deinterlace>,
    /// Tone mapping, for a PQ or HLG source.
    pub tone_map: Option<ToneMap>,
    /// Coefficient or range conversion, for an SDR source in BT.601 or full
    /// range (the renditions are tagged BT.709, limited range).
    #[serde(default)]
    pub to_bt709: Option<ToBt709>,
    /// Drop the last column or row of an odd-sized picture before the
    /// colour conversions (zscale refuses odd sizes of subsampled pictures;
    /// the rungs are even-sized anyway).
    #[serde(default)]
    pub crop_to_even: bool,
}

/// Plans the picture stage for `source`, whose output may run at most at
/// `max_frame_rate` frames per second: an interlaced source is
/// deinterlaced to one picture per field when twice its frame rate fits
/// (25i → 50p, 29.97i → 59.94p), else to one picture per frame; an HDR
/// source is tone-mapped.
pub fn plan_picture(source: &SourceVideo, max_frame_rate: f64) -> PicturePlan {
    let deinterlace = source.scan.is_interlaced().then(|| {
        let doubled = 2.0 * source.frame_rate;
        Deinterlace {
            top_field_first: source.scan == Scan::TopFieldFirst,
            mode: if doubled <= max_frame_rate + 0.01 {
                DeinterlaceMode::SendField
            } else {
                DeinterlaceMode::SendFrame
            },
        }
    });
    let tone_map = (source.hdr != HdrKind::None).then_some(ToneMap {
        hdr: source.hdr,
        full_range: source.full_range,
    });
    let from_bt601 = match source.matrix {
        Matrix::Bt601 => true,
        Matrix::Unstated => source.height <= SD_MAX_HEIGHT,
        Matrix::Bt709 | Matrix::Other => false,
    };
    let to_bt709 = (tone_map.is_none() && (from_bt601 || source.full_range)).then_some(ToBt709 {
        from_bt601,
        full_range: source.full_range,
    });
    let odd = source.width % 2 == 1 || source.height % 2 == 1;
    PicturePlan {
        deinterlace,
        tone_map,
        to_bt709,
        crop_to_even: odd && (tone_map.is_some() || to_bt709.is_some()),
    }
}

impl PicturePlan {
    /// The output frame rate for a source of `source_rate` frames per
    /// second: doubled when every field becomes a picture.
    pub fn output_frame_rate(&self, source_rate: f64) -> f64 {
        match self.deinterlace {
            Some(Deinterlace {
                mode: DeinterlaceMode::SendField,
                ..
            }) => 2.0 * source_rate,
            _ => source_rate,
        }
    }

    /// The libavfilter chain from the decoded picture to the upright,
    /// progressive, SDR picture the rungs scale; `None` when nothing is to
    /// be done. Ends in `settb` so output times stay in the pipeline's
    /// timescale (a picture per field halves the deinterlacer's).
    pub fn filter_chain(&self, rotation: Rotation, timescale: u32) -> Option<String> {
        let mut steps: Vec<String> = Vec::new();
        if self.crop_to_even {
            steps.push(CROP_TO_EVEN.to_owned());
        }
        if let Some(d) = self.deinterlace {
            steps.push(deinterlace_filter(d));
        }
        if let Some(t) = self.tone_map {
            steps.push(tone_map_chain(t));
        }
        if let Some(c) = self.to_bt709 {
            steps.push(to_bt709_chain(c));
        }
        if let Some(r) = rotation.filter_chain() {
            steps.push(r.to_owned());
        }
        if steps.is_empty() {
            return None;
        }
        steps.push(format!("settb=1/{timescale}"));
        Some(steps.join(","))
    }
}

/// Crops a picture to the even size at or below its own (top-left kept).
pub const CROP_TO_EVEN: &str = "crop=w=trunc(iw/2)*2:h=trunc(ih/2)*2:x=0:y=0";

/// The `bwdif` filter for `d`: every frame is deinterlaced (flags lie), in
/// the stated field order.
pub fn deinterlace_filter(d: Deinterlace) -> String {
    let mode = match d.mode {
        DeinterlaceMode::SendField => "send_field",
        DeinterlaceMode::SendFrame => "send_frame",
    };
    let parity = if d.top_field_first { "tff" } else { "bff" };
    format!("bwdif=mode={mode}:parity={parity}:deint=all")
}

/// The zscale/tonemap chain from a PQ or HLG BT.2020 picture to BT.709 SDR
/// 8-bit 4:2:0, limited range: linear light (100 nits nominal peak), Hable
/// curve on RGB in BT.709 primaries with no desaturation, then the BT.709
/// transfer and matrix. The input's transfer, primaries, matrix and range
/// are stated, not taken from frame tags a file may lack. The same string
/// serves as the ffmpeg CLI reference in the tests.
pub fn tone_map_chain(t: ToneMap) -> String {
    let transfer = t.hdr.transfer_name().unwrap_or("bt709");
    let range = if t.full_range { "full" } else { "limited" };
    format!(
        "zscale=tin={transfer}:pin=bt2020:min=bt2020nc:rin={range}:t=linear:npl=100,\
         format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,\
         zscale=t=bt709:m=bt709:r=limited,format=yuv420p"
    )
}

/// The zscale step from BT.601 coefficients and/or full range to BT.709
/// limited range, 8-bit 4:2:0 (transfer and primaries are left alone: SDR
/// BT.601 and BT.709 differ in coefficients, not in light).
pub fn to_bt709_chain(c: ToBt709) -> String {
    let matrix = if c.from_bt601 { "170m" } else { "709" };
    let range = if c.full_range { "full" } else { "limited" };
    format!("zscale=min={matrix}:rin={range}:m=709:r=limited,format=yuv420p")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(scan: Scan, hdr: HdrKind, frame_rate: f64) -> SourceVideo {
        SourceVideo {
            width: 1920,
            height: 1080,
            sample_aspect_ratio: (1, 1),
            rotation: Rotation::None,
            frame_rate,
            hdr,
            full_range: false,
            scan,
            matrix: Matrix::Bt709,
        }
    }

    #[test]
    fn transfer_names_map_to_hdr_kinds() {
        assert_eq!(HdrKind::from_transfer(Some("smpte2084")), HdrKind::Pq);
        assert_eq!(HdrKind::from_transfer(Some("arib-std-b67")), HdrKind::Hlg);
        assert_eq!(HdrKind::from_transfer(Some("bt709")), HdrKind::None);
        assert_eq!(HdrKind::from_transfer(None), HdrKind::None);
    }

    #[test]
    fn the_displayed_first_field_decides_the_scan() {
        assert_eq!(FieldOrder::TopTop.scan(), Scan::TopFieldFirst);
        assert_eq!(FieldOrder::BottomTop.scan(), Scan::TopFieldFirst);
        assert_eq!(FieldOrder::BottomBottom.scan(), Scan::BottomFieldFirst);
        assert_eq!(FieldOrder::TopBottom.scan(), Scan::BottomFieldFirst);
        assert_eq!(FieldOrder::Progressive.scan(), Scan::Progressive);
        assert_eq!(FieldOrder::Unknown.scan(), Scan::Progressive);
    }

    #[test]
    fn a_progressive_sdr_source_needs_no_filter_at_all() {
        let plan = plan_picture(&source(Scan::Progressive, HdrKind::None, 30.0), 60.0);
        assert_eq!(plan, PicturePlan::default());
        assert_eq!(plan.filter_chain(Rotation::None, 90_000), None);
        assert_eq!(plan.output_frame_rate(30.0), 30.0);
    }

    #[test]
    fn interlaced_50i_becomes_50p_one_picture_per_field() {
        let plan = plan_picture(&source(Scan::TopFieldFirst, HdrKind::None, 25.0), 60.0);
        let d = plan.deinterlace.expect("deinterlaced");
        assert_eq!(d.mode, DeinterlaceMode::SendField);
        assert!(d.top_field_first);
        assert_eq!(plan.output_frame_rate(25.0), 50.0);
        assert_eq!(
            plan.filter_chain(Rotation::None, 90_000).as_deref(),
            Some("bwdif=mode=send_field:parity=tff:deint=all,settb=1/90000")
        );
    }

    #[test]
    fn ntsc_60i_becomes_59_94p() {
        let rate = 30000.0 / 1001.0;
        let plan = plan_picture(&source(Scan::BottomFieldFirst, HdrKind::None, rate), 60.0);
        assert_eq!(plan.output_frame_rate(rate), 2.0 * rate);
        assert!(
            plan.filter_chain(Rotation::None, 90_000)
                .is_some_and(|c| c.contains("parity=bff"))
        );
    }

    #[test]
    fn interlaced_keeps_its_frame_rate_when_the_field_rate_is_above_the_ladder_limit() {
        let plan = plan_picture(&source(Scan::TopFieldFirst, HdrKind::None, 25.0), 30.0);
        assert_eq!(
            plan.deinterlace.map(|d| d.mode),
            Some(DeinterlaceMode::SendFrame)
        );
        assert_eq!(plan.output_frame_rate(25.0), 25.0);
        let plan = plan_picture(&source(Scan::TopFieldFirst, HdrKind::None, 50.0), 60.0);
        assert_eq!(plan.output_frame_rate(50.0), 50.0);
    }

    #[test]
    fn pq_and_hlg_are_tone_mapped_from_their_own_transfer() {
        for (hdr, name) in [(HdrKind::Pq, "smpte2084"), (HdrKind::Hlg, "arib-std-b67")] {
            let plan = plan_picture(&source(Scan::Progressive, hdr, 30.0), 60.0);
            assert_eq!(
                plan.tone_map,
                Some(ToneMap {
                    hdr,
                    full_range: false
                })
            );
            let chain = plan.filter_chain(Rotation::None, 90_000).expect("chain");
            assert!(chain.starts_with(&format!("zscale=tin={name}:")), "{chain}");
            assert!(chain.contains("tonemap=hable:desat=0"), "{chain}");
            assert!(chain.contains("zscale=t=bt709:m=bt709:r=limited,format=yuv420p"));
        }
    }

    #[test]
    fn full_range_hdr_is_read_as_full_range() {
        let chain = tone_map_chain(ToneMap {
            hdr: HdrKind::Hlg,
            full_range: true,
        });
        assert!(chain.contains("rin=full"), "{chain}");
    }

    #[test]
    fn fields_are_woven_before_tone_mapping_and_rotation_comes_last() {
        let mut s = source(Scan::TopFieldFirst, HdrKind::Pq, 25.0);
        s.rotation = Rotation::Clockwise90;
        let chain = plan_picture(&s, 60.0)
            .filter_chain(s.rotation, 90_000)
            .expect("chain");
        let bwdif = chain.find("bwdif").expect("bwdif");
        let tonemap = chain.find("tonemap").expect("tonemap");
        let transpose = chain.find("transpose=clock").expect("transpose");
        assert!(bwdif < tonemap && tonemap < transpose, "{chain}");
        assert!(chain.ends_with(",settb=1/90000"), "{chain}");
    }

    #[test]
    fn sd_pictures_in_bt601_or_unstated_coefficients_are_converted_to_bt709() {
        let mut s = source(Scan::Progressive, HdrKind::None, 25.0);
        (s.width, s.height) = (720, 576);
        s.matrix = Matrix::Unstated;
        let plan = plan_picture(&s, 60.0);
        assert_eq!(
            plan.to_bt709,
            Some(ToBt709 {
                from_bt601: true,
                full_range: false
            })
        );
        assert_eq!(
            plan.filter_chain(Rotation::None, 90_000).as_deref(),
            Some("zscale=min=170m:rin=limited:m=709:r=limited,format=yuv420p,settb=1/90000")
        );
        s.matrix = Matrix::Bt709;
        assert_eq!(plan_picture(&s, 60.0).to_bt709, None);
    }

    #[test]
    fn hd_pictures_follow_their_stated_matrix_and_unstated_means_bt709() {
        let mut s = source(Scan::Progressive, HdrKind::None, 25.0);
        s.matrix = Matrix::Unstated;
        assert_eq!(plan_picture(&s, 60.0).to_bt709, None);
        s.matrix = Matrix::Bt601;
        assert!(
            plan_picture(&s, 60.0)
                .to_bt709
                .is_some_and(|c| c.from_bt601)
        );
        s.matrix = Matrix::Other;
        assert_eq!(plan_picture(&s, 60.0).to_bt709, None);
    }

    #[test]
    fn full_range_sdr_is_brought_to_limited_range() {
        let mut s = source(Scan::Progressive, HdrKind::None, 25.0);
        s.full_range = true;
        let chain = plan_picture(&s, 60.0)
            .filter_chain(Rotation::None, 90_000)
            .expect("chain");
        assert!(
            chain.starts_with("zscale=min=709:rin=full:m=709:r=limited"),
            "{chain}"
        );
    }

    #[test]
    fn hdr_pictures_are_tone_mapped_not_matrix_converted() {
        let mut s = source(Scan::Progressive, HdrKind::Pq, 25.0);
        s.matrix = Matrix::Other;
        s.full_range = true;
        let plan = plan_picture(&s, 60.0);
        assert!(plan.tone_map.is_some());
        assert_eq!(plan.to_bt709, None);
    }

    #[test]
    fn an_odd_sized_picture_is_cropped_to_even_before_zscale_converts_it() {
        let mut s = source(Scan::Progressive, HdrKind::None, 25.0);
        (s.width, s.height) = (853, 479);
        s.matrix = Matrix::Unstated;
        let plan = plan_picture(&s, 60.0);
        assert!(plan.crop_to_even);
        let chain = plan.filter_chain(Rotation::None, 90_000).expect("chain");
        assert!(
            chain.starts_with(&format!("{CROP_TO_EVEN},zscale=")),
            "{chain}"
        );
        // Nothing to convert: nothing cropped.
        s.matrix = Matrix::Other;
        assert!(!plan_picture(&s, 60.0).crop_to_even);
    }

    #[test]
    fn matrix_names_map_to_matrices() {
        assert_eq!(Matrix::from_name(None), Matrix::Unstated);
        assert_eq!(Matrix::from_name(Some("bt709")), Matrix::Bt709);
        assert_eq!(Matrix::from_name(Some("smpte170m")), Matrix::Bt601);
        assert_eq!(Matrix::from_name(Some("bt470bg")), Matrix::Bt601);
        assert_eq!(Matrix::from_name(Some("bt2020nc")), Matrix::Other);
    }

    #[test]
    fn rotation_alone_keeps_its_chain() {
        let plan = PicturePlan::default();
        assert_eq!(
            plan.filter_chain(Rotation::Half, 90_000).as_deref(),
            Some("hflip,vflip,settb=1/90000")
        );
    }
}
