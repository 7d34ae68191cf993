//! Box-level tests: segments are parsed back with the test-side box reader.

use bytes::Bytes;

use super::test_box_reader::{Fields, boxes, child, children, kinds, parse_tfdt, parse_trun, path};
use super::*;
use crate::aac::AudioSpecificConfig;
use crate::h264::{AvcDecoderConfig, test_fixtures::x264_annexb_extradata};
use crate::media::{AudioCodecConfig, Sample, TrackConfig, TrackKind, VideoCodecConfig};

fn video_config() -> TrackConfig {
    TrackConfig {
        timescale: 90000,
        kind: TrackKind::Video {
            width: 320,
            height: 240,
            codec: VideoCodecConfig::H264(
                AvcDecoderConfig::from_extradata(&x264_annexb_extradata()).unwrap(),
            ),
        },
    }
}

fn audio_config() -> TrackConfig {
    TrackConfig {
        timescale: 48000,
        kind: TrackKind::Audio {
            sample_rate: 48000,
            channels: 2,
            codec: AudioCodecConfig::Aac(AudioSpecificConfig::from_bytes(&[0x11, 0x90]).unwrap()),
        },
    }
}

fn sample(dts: i64, pts: i64, duration: u32, is_sync: bool, data: &'static [u8]) -> Sample {
    Sample {
        dts,
        pts,
        duration,
        is_sync,
        data: Bytes::from_static(data),
    }
}

fn full_box_header(payload: &[u8]) -> (u8, u32) {
    let mut f = Fields::new(payload);
    (f.u8(), f.u24())
}

#[test]
fn init_segment_is_ftyp_then_moov_with_cmaf_brands() {
    let video = video_config();
    let init = init_segment(&[(1, &video)]);
    assert_eq!(kinds(&init), vec!["ftyp", "moov"]);
    let ftyp = child(&init, "ftyp");
    let mut f = Fields::new(ftyp.payload);
    assert_eq!(f.fourcc(), "cmfc");
    assert_eq!(f.u32(), 0);
    assert_eq!(f.fourcc(), "cmfc");
    assert_eq!(f.fourcc(), "iso6");
    assert_eq!(f.remaining(), 0);

    let moov = child(&init, "moov");
    assert_eq!(kinds(moov.payload), vec!["mvhd", "trak", "mvex"]);
    let mvhd = child(moov.payload, "mvhd");
    assert_eq!(mvhd.payload.len(), 100, "mvhd v0 body is 100 bytes");
    let mut f = Fields::new(mvhd.payload);
    assert_eq!((f.u8(), f.u24()), (0, 0));
    f.take(8);
    assert_eq!(f.u32(), 1000, "movie timescale");
    assert_eq!(f.u32(), 0, "movie duration is 0 when fragmented");
    f.take(4 + 2 + 10 + 36 + 24);
    assert_eq!(f.u32(), 2, "next_track_ID");
}

#[test]
fn video_trak_carries_16_16_size_timescale_handler_and_avcc() {
    let video = video_config();
    let init = init_segment(&[(1, &video)]);
    let trak = path(&init, &["moov", "trak"]);
    assert_eq!(kinds(trak.payload), vec!["tkhd", "mdia"]);

    let tkhd = child(trak.payload, "tkhd");
    assert_eq!(tkhd.payload.len(), 84);
    let mut f = Fields::new(tkhd.payload);
    assert_eq!((f.u8(), f.u24()), (0, 3), "enabled and in movie");
    f.take(8);
    assert_eq!(f.u32(), 1, "track_ID");
    f.take(4);
    assert_eq!(f.u32(), 0, "duration");
    f.take(8 + 2 + 2);
    assert_eq!(f.u16(), 0, "video has no volume");
    f.take(2 + 36);
    assert_eq!(f.u32(), 320 << 16);
    assert_eq!(f.u32(), 240 << 16);

    let mdhd = path(trak.payload, &["mdia", "mdhd"]);
    let mut f = Fields::new(mdhd.payload);
    f.take(4 + 8);
    assert_eq!(f.u32(), 90000, "media timescale");
    assert_eq!(f.u32(), 0, "media duration");
    assert_eq!(f.u16(), 0x55c4, "language und");

    let hdlr = path(trak.payload, &["mdia", "hdlr"]);
    let mut f = Fields::new(hdlr.payload);
    f.take(4 + 4);
    assert_eq!(f.fourcc(), "vide");

    let minf = path(trak.payload, &["mdia", "minf"]);
    assert_eq!(kinds(minf.payload), vec!["vmhd", "dinf", "stbl"]);
    let dref = path(minf.payload, &["dinf", "dref"]);
    let mut f = Fields::new(dref.payload);
    f.take(4);
    assert_eq!(f.u32(), 1);
    let url = child(f.rest(), "url ");
    assert_eq!(full_box_header(url.payload), (0, 1), "self-contained");

    let stbl = child(minf.payload, "stbl");
    assert_eq!(
        kinds(stbl.payload),
        vec!["stsd", "stts", "stsc", "stsz", "stco"]
    );
    let stsd = child(stbl.payload, "stsd");
    let mut f = Fields::new(stsd.payload);
    f.take(4);
    assert_eq!(f.u32(), 1, "one sample entry");
    let avc1 = child(f.rest(), "avc1");
    let mut f = Fields::new(avc1.payload);
    f.take(6);
    assert_eq!(f.u16(), 1, "data_reference_index");
    f.take(16);
    assert_eq!((f.u16(), f.u16()), (320, 240));
    assert_eq!(f.u32(), 0x0048_0000);
    f.take(4 + 4 + 2 + 32);
    assert_eq!(f.u16(), 0x18, "depth");
    assert_eq!(f.u16(), 0xffff, "pre_defined -1");
    let rest = f.rest();
    assert_eq!(
        kinds(rest),
        vec!["avcC"],
        "no btrt without measured bitrates"
    );
    let TrackKind::Video {
        codec: VideoCodecConfig::H264(avc),
        ..
    } = &video.kind
    else {
        unreachable!("video_config is a video track")
    };
    assert_eq!(child(rest, "avcC").payload, avc.to_bytes().as_slice());
}

#[test]
fn an_hevc_track_has_an_hvc1_entry_carrying_the_record_as_received() {
    let record = crate::hevc::test_fixtures::x265_hvcc_640x360();
    let hevc = TrackConfig {
        timescale: 90000,
        kind: TrackKind::Video {
            width: 640,
            height: 360,
            codec: VideoCodecConfig::Hevc(
                crate::hevc::HevcDecoderConfig::from_hvcc(&record).unwrap(),
            ),
        },
    };
    let bitrate = TrackBitrate {
        buffer_size: 40_000,
        max_bitrate: 900_000,
        average_bitrate: 600_000,
    };
    let init = init_segment_with_bitrates(&[InitTrack {
        track_id: 1,
        config: &hevc,
        bitrate: Some(bitrate),
    }]);
    let stsd = path(&init, &["moov", "trak", "mdia", "minf", "stbl", "stsd"]);
    let mut f = Fields::new(stsd.payload);
    f.take(4);
    assert_eq!(f.u32(), 1, "one sample entry");
    let entry = f.rest();
    assert_eq!(
        kinds(entry),
        vec!["hvc1"],
        "hvc1: parameter sets in the record"
    );
    let hvc1 = child(entry, "hvc1");
    let mut f = Fields::new(hvc1.payload);
    f.take(6);
    assert_eq!(f.u16(), 1, "data_reference_index");
    f.take(16);
    assert_eq!((f.u16(), f.u16()), (640, 360));
    f.take(4 + 4 + 4 + 2 + 32);
    assert_eq!(f.u16(), 0x18, "depth");
    assert_eq!(f.u16(), 0xffff, "pre_defined -1");
    let rest = f.rest();
    assert_eq!(kinds(rest), vec!["hvcC", "btrt"]);
    assert_eq!(child(rest, "hvcC").payload, record.as_slice());
    let mut f = Fields::new(child(rest, "btrt").payload);
    assert_eq!((f.u32(), f.u32(), f.u32()), (40_000, 900_000, 600_000));
}

#[test]
fn audio_trak_has_mp4a_with_esds_descriptor_chain() {
    let audio = audio_config();
    let bitrate = TrackBitrate {
        buffer_size: 768,
        max_bitrate: 131_000,
        average_bitrate: 128_000,
    };
    let init = init_segment_with_bitrates(&[InitTrack {
        track_id: 2,
        config: &audio,
        bitrate: Some(bitrate),
    }]);
    let trak = path(&init, &["moov", "trak"]);
    let tkhd = child(trak.payload, "tkhd");
    let mut f = Fields::new(tkhd.payload);
    f.take(4 + 8);
    assert_eq!(f.u32(), 2, "track_ID");
    f.take(4 + 4 + 8 + 2 + 2);
    assert_eq!(f.u16(), 0x0100, "audio volume 1.0");
    f.take(2 + 36);
    assert_eq!((f.u32(), f.u32()), (0, 0), "audio has no size");

    let hdlr = path(trak.payload, &["mdia", "hdlr"]);
    assert_eq!(&hdlr.payload[8..12], b"soun");
    let minf = path(trak.payload, &["mdia", "minf"]);
    assert_eq!(kinds(minf.payload), vec!["smhd", "dinf", "stbl"]);
    let mdhd = path(trak.payload, &["mdia", "mdhd"]);
    assert_eq!(&mdhd.payload[12..16], &48000u32.to_be_bytes());

    let stsd = path(minf.payload, &["stbl", "stsd"]);
    let mp4a = child(&stsd.payload[8..], "mp4a");
    let mut f = Fields::new(mp4a.payload);
    f.take(6);
    assert_eq!(f.u16(), 1, "data_reference_index");
    f.take(8);
    assert_eq!(f.u16(), 2, "channelcount");
    assert_eq!(f.u16(), 16, "samplesize");
    f.take(4);
    assert_eq!(f.u32(), 48000 << 16, "samplerate 16.16");
    let esds = child(f.rest(), "esds");

    let mut f = Fields::new(esds.payload);
    assert_eq!((f.u8(), f.u24()), (0, 0));
    assert_eq!(f.u8(), 0x03, "ES_Descriptor");
    let es_length = usize::from(f.u8());
    assert_eq!(es_length, f.remaining());
    assert_eq!(f.u16(), 0, "ES_ID");
    assert_eq!(f.u8(), 0, "ES flags");
    assert_eq!(f.u8(), 0x04, "DecoderConfigDescriptor");
    let dcd_length = usize::from(f.u8());
    assert_eq!(dcd_length, 13 + 2 + 2);
    assert_eq!(f.u8(), 0x40, "objectTypeIndication MPEG-4 audio");
    assert_eq!(f.u8() >> 2, 5, "streamType audio");
    assert_eq!(f.u24(), 768);
    assert_eq!(f.u32(), 131_000);
    assert_eq!(f.u32(), 128_000);
    assert_eq!(f.u8(), 0x05, "DecoderSpecificInfo");
    assert_eq!(f.u8(), 2);
    assert_eq!(f.take(2), &[0x11, 0x90], "AudioSpecificConfig");
    assert_eq!(
        f.take(3),
        &[0x06, 0x01, 0x02],
        "SLConfigDescriptor predefined 2"
    );
    assert_eq!(f.remaining(), 0);
}

#[test]
fn video_btrt_is_written_when_bitrates_are_known() {
    let video = video_config();
    let init = init_segment_with_bitrates(&[InitTrack {
        track_id: 1,
        config: &video,
        bitrate: Some(TrackBitrate {
            buffer_size: 40_000,
            max_bitrate: 900_000,
            average_bitrate: 600_000,
        }),
    }]);
    let stsd = path(&init, &["moov", "trak", "mdia", "minf", "stbl", "stsd"]);
    let avc1 = child(&stsd.payload[8..], "avc1");
    let entries = &avc1.payload[78..];
    assert_eq!(kinds(entries), vec!["avcC", "btrt"]);
    let mut f = Fields::new(child(entries, "btrt").payload);
    assert_eq!((f.u32(), f.u32(), f.u32()), (40_000, 900_000, 600_000));
}

#[test]
fn init_segment_lists_one_trak_and_one_trex_per_track() {
    let (video, audio) = (video_config(), audio_config());
    let init = init_segment(&[(1, &video), (2, &audio)]);
    let moov = child(&init, "moov");
    assert_eq!(kinds(moov.payload), vec!["mvhd", "trak", "trak", "mvex"]);
    let trexes = children(child(moov.payload, "mvex").payload, "trex");
    assert_eq!(trexes.len(), 2);
    for (trex, expected_id) in trexes.iter().zip([1u32, 2]) {
        let mut f = Fields::new(trex.payload);
        assert_eq!((f.u8(), f.u24()), (0, 0));
        assert_eq!(f.u32(), expected_id, "track_ID");
        assert_eq!(f.u32(), 1, "default_sample_description_index");
        assert_eq!((f.u32(), f.u32(), f.u32()), (0, 0, 0), "no other defaults");
    }
    assert_eq!(
        &child(moov.payload, "mvhd").payload[96..100],
        &3u32.to_be_bytes()
    );
}

#[test]
fn media_segment_is_styp_moof_mdat_with_correct_fields() {
    let samples = [
        sample(6000, 12000, 3000, true, b"IDR-frame"),
        sample(9000, 21000, 3000, false, b"P"),
        sample(12000, 15000, 3000, false, b"Bb"),
        sample(15000, 12000, 3000, false, b"negative"),
    ];
    let segment = media_segment(
        7,
        &[TrackFragment {
            track_id: 1,
            samples: &samples,
        }],
    )
    .unwrap();
    assert_eq!(kinds(&segment), vec!["styp", "moof", "mdat"]);
    let styp = child(&segment, "styp");
    assert_eq!(styp.payload, b"cmfs\0\0\0\0cmfsmsdh");

    let moof = child(&segment, "moof");
    assert_eq!(kinds(moof.payload), vec!["mfhd", "traf"]);
    assert_eq!(
        child(moof.payload, "mfhd").payload,
        &[0, 0, 0, 0, 0, 0, 0, 7]
    );
    let traf = child(moof.payload, "traf");
    assert_eq!(kinds(traf.payload), vec!["tfhd", "tfdt", "trun"]);

    let tfhd = child(traf.payload, "tfhd");
    assert_eq!(
        tfhd.payload,
        &[0, 0x02, 0, 0, 0, 0, 0, 1],
        "default-base-is-moof, track 1"
    );
    let tfdt = child(traf.payload, "tfdt");
    assert_eq!(tfdt.payload[0], 1, "tfdt version 1");
    assert_eq!(parse_tfdt(tfdt.payload), 6000);

    let trun = parse_trun(child(traf.payload, "trun").payload);
    assert_eq!(trun.version, 1);
    assert_eq!(trun.flags, 0x000f01);
    assert_eq!(trun.first_sample_flags, None);
    let durations: Vec<_> = trun.samples.iter().map(|s| s.duration.unwrap()).collect();
    let sizes: Vec<_> = trun.samples.iter().map(|s| s.size.unwrap()).collect();
    let flags: Vec<_> = trun.samples.iter().map(|s| s.flags.unwrap()).collect();
    let offsets: Vec<_> = trun
        .samples
        .iter()
        .map(|s| s.composition_offset.unwrap())
        .collect();
    assert_eq!(durations, vec![3000; 4]);
    assert_eq!(sizes, vec![9, 1, 2, 8]);
    assert_eq!(
        flags,
        vec![0x0200_0000, 0x0101_0000, 0x0101_0000, 0x0101_0000]
    );
    assert_eq!(offsets, vec![6000, 12000, 3000, -3000]);

    // data_offset counts from the first byte of moof to the first sample byte.
    let data_start = moof.offset + trun.data_offset.unwrap() as usize;
    assert_eq!(&segment[data_start..data_start + 9], b"IDR-frame");
    let mdat = child(&segment, "mdat");
    assert_eq!(mdat.payload, b"IDR-framePBbnegative");
    assert_eq!(mdat.offset + 8, data_start);
}

#[test]
fn composition_offsets_are_omitted_when_pts_equals_dts() {
    let samples = [
        sample(0, 0, 1024, true, b"aac1"),
        sample(1024, 1024, 1024, true, b"aac2"),
    ];
    let segment = media_segment(
        1,
        &[TrackFragment {
            track_id: 1,
            samples: &samples,
        }],
    )
    .unwrap();
    let trun = parse_trun(path(&segment, &["moof", "traf", "trun"]).payload);
    assert_eq!(trun.flags, 0x000701);
    assert!(
        trun.samples
            .iter()
            .all(|s| s.composition_offset.is_none() && s.flags == Some(SYNC_SAMPLE_FLAGS))
    );
}

#[test]
fn two_track_segment_points_each_trun_at_its_own_data() {
    let video = [
        sample(0, 0, 3000, true, b"VVVV"),
        sample(3000, 3000, 3000, false, b"vv"),
    ];
    let audio = [
        sample(0, 0, 1024, true, b"AAA"),
        sample(1024, 1024, 1024, true, b"aaa"),
    ];
    let segment = media_segment(
        3,
        &[
            TrackFragment {
                track_id: 1,
                samples: &video,
            },
            TrackFragment {
                track_id: 2,
                samples: &audio,
            },
        ],
    )
    .unwrap();
    let moof = child(&segment, "moof");
    let trafs = children(moof.payload, "traf");
    assert_eq!(trafs.len(), 2);
    let expected: [&[u8]; 2] = [b"VVVV", b"AAA"];
    for (traf, first_bytes) in trafs.iter().zip(expected) {
        let trun = parse_trun(child(traf.payload, "trun").payload);
        let start = moof.offset + trun.data_offset.unwrap() as usize;
        assert_eq!(&segment[start..start + first_bytes.len()], first_bytes);
    }
    assert_eq!(child(&segment, "mdat").payload, b"VVVVvvAAAaaa");
    assert_eq!(boxes(&segment).len(), 3);
}

#[test]
fn invalid_fragments_are_rejected() {
    assert_eq!(media_segment(1, &[]), Err(CmafError::NoFragments));
    assert_eq!(
        media_segment(
            1,
            &[TrackFragment {
                track_id: 4,
                samples: &[]
            }]
        ),
        Err(CmafError::EmptyFragment { track_id: 4 })
    );
    let negative = [sample(-1, 0, 1, true, b"x")];
    assert_eq!(
        media_segment(
            1,
            &[TrackFragment {
                track_id: 1,
                samples: &negative
            }]
        ),
        Err(CmafError::NegativeDecodeTime {
            track_id: 1,
            dts: -1
        })
    );
    let huge_offset = [sample(0, 1 << 40, 1, true, b"x")];
    assert!(matches!(
        media_segment(
            1,
            &[TrackFragment {
                track_id: 1,
                samples: &huge_offset
            }]
        ),
        Err(CmafError::CompositionOffsetOutOfRange { .. })
    ));
}
