use super::*;

fn parse(text: &str) -> Result<Captions, CaptionError> {
    parse_captions(text.as_bytes(), None, &CaptionLimits::default())
}

const SRT: &str = "1\r\n00:00:01,000 --> 00:00:03,500\r\n同学们好\r\n今天讲<i>函数</i>\r\n\r\n2\r\n00:00:04,000 --> 00:00:06,000 X1:10 X2:20 Y1:5 Y2:9\r\n<font color=\"#ff0000\">{\\an8}a < b & c > d</font>\r\n";

#[test]
fn a_subrip_file_becomes_webvtt_with_its_markup_carried_over_and_escaped() {
    let captions = parse(SRT).expect("valid");
    assert_eq!(captions.source_format, CaptionFormat::SubRip);
    assert_eq!(
        captions.to_webvtt(),
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.500\n同学们好\n今天讲<i>函数</i>\n\n\
         00:00:04.000 --> 00:00:06.000\na &lt; b &amp; c &gt; d\n"
    );
}

#[test]
fn a_webvtt_file_keeps_identifiers_and_settings_and_loses_notes_and_styles() {
    let vtt = "\u{feff}WEBVTT - lecture 3\nKind: captions\n\nNOTE written by hand\nover two lines\n\n\
               STYLE\n::cue { color: red }\n\nintro\n00:01.000 --> 00:02.000 align:start   line:0\n<v 王老师>好\n\n\
               00:00:00.500 --> 00:00:00.900\nfirst\n";
    let captions = parse(vtt).expect("valid");
    assert_eq!(captions.source_format, CaptionFormat::WebVtt);
    assert_eq!(
        captions.to_webvtt(),
        "WEBVTT\n\n00:00:00.500 --> 00:00:00.900\nfirst\n\n\
         intro\n00:00:01.000 --> 00:00:02.000 align:start line:0\n<v 王老师>好\n"
    );
}

#[test]
fn the_normalised_form_reads_back_as_itself() {
    let once = parse(SRT).expect("valid").to_webvtt();
    let twice = parse(&once).expect("valid again").to_webvtt();
    assert_eq!(once, twice);
}

#[test]
fn cues_are_sorted_by_start_and_empty_cues_dropped() {
    let srt = "1\n00:00:05,000 --> 00:00:06,000\nlater\n\n2\n00:00:01,000 --> 00:00:02,000\nsooner\n\n\
               3\n00:00:03,000 --> 00:00:04,000\n   \n";
    let captions = parse(srt).expect("valid");
    let starts: Vec<u64> = captions.cues.iter().map(|c| c.start_ms).collect();
    assert_eq!(starts, [1000, 5000]);
    assert_eq!(captions.last_end_ms(), 6000);
}

#[test]
fn a_cue_without_its_sequence_number_is_still_read() {
    let captions = parse("00:00:01,000 --> 00:00:02,000\nhello\n").expect("valid");
    assert_eq!(captions.cues[0].text, "hello");
}

#[test]
fn a_file_in_gbk_is_refused_as_not_utf8_at_its_line() {
    // "1\n00:00:01,000 --> 00:00:02,000\n" then 你好 in GBK.
    let mut bytes = b"1\n00:00:01,000 --> 00:00:02,000\n".to_vec();
    bytes.extend_from_slice(&[0xC4, 0xE3, 0xBA, 0xC3, b'\n']);
    let err = parse_captions(&bytes, None, &CaptionLimits::default()).unwrap_err();
    assert_eq!(err, CaptionError::NotUtf8 { line: 3 });
    assert_eq!(err.code(), "captions.not_utf8");
    assert!(err.message(Lang::Zh).contains("UTF-8"));
}

#[test]
fn unreadable_timings_are_refused_with_their_line() {
    for timing in [
        "00:00:01 --> 00:00:02,000",
        "00:00:01,00 --> 00:00:02,000",
        "00:61:01,000 --> 00:62:02,000",
        "00:00:01,000 -> 00:00:02,000 -->",
        "a:b:c,000 --> 00:00:02,000",
    ] {
        let text = format!("1\n00:00:00,000 --> 00:00:00,500\nok\n\n2\n{timing}\ntext\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(err, CaptionError::BadTiming { line: 6 }, "{timing}");
        assert_eq!(err.line(), Some(6));
    }
}

#[test]
fn a_cue_that_ends_before_it_starts_is_refused() {
    let err = parse("1\n00:00:02,000 --> 00:00:02,000\ntext\n").unwrap_err();
    assert_eq!(err, CaptionError::EndBeforeStart { line: 2 });
    assert_eq!(err.code(), "captions.end_before_start");
}

#[test]
fn a_missing_blank_line_between_cues_is_refused_where_the_second_cue_starts() {
    let srt = "1\n00:00:01,000 --> 00:00:02,000\none\n2\n00:00:03,000 --> 00:00:04,000\ntwo\n";
    assert_eq!(parse(srt).unwrap_err(), CaptionError::BadBlock { line: 5 });
}

#[test]
fn text_that_is_not_captions_is_refused() {
    assert_eq!(
        parse("这是一份讲稿，不是字幕。\n第二行\n").unwrap_err(),
        CaptionError::BadBlock { line: 1 }
    );
    assert_eq!(
        parse("WEBVTT\n\nNOTE only a note\n").unwrap_err(),
        CaptionError::Empty
    );
    assert_eq!(parse("").unwrap_err(), CaptionError::Empty);
}

#[test]
fn against_the_media_a_late_cue_is_refused_and_a_long_one_cut() {
    let limits = CaptionLimits::default();
    let srt = b"1\n00:00:08,000 --> 00:00:12,000\nlast words\n";
    let captions = parse_captions(srt, Some(10_000), &limits).expect("valid");
    assert_eq!(captions.cues[0].end_ms, 10_000);
    let err = parse_captions(srt, Some(8_000), &limits).unwrap_err();
    assert_eq!(
        err,
        CaptionError::AfterMediaEnd {
            line: 2,
            start_ms: 8_000,
            duration_ms: 8_000
        }
    );
    assert!(err.message(Lang::En).contains("00:00:08.000"));
    assert!(err.message(Lang::Zh).contains("晚于视频结束时间"));
}

#[test]
fn the_limits_bound_size_cue_count_and_cue_length() {
    let limits = CaptionLimits {
        max_bytes: 200,
        max_cues: 2,
        max_cue_chars: 10,
    };
    let three = "00:00:01.000 --> 00:00:02.000\na\n\n00:00:03.000 --> 00:00:04.000\nb\n\n00:00:05.000 --> 00:00:06.000\nc\n";
    assert_eq!(
        parse_captions(three.as_bytes(), None, &limits).unwrap_err(),
        CaptionError::TooManyCues { limit: 2 }
    );
    let long = "00:00:01.000 --> 00:00:02.000\n一二三四五六七八九十十一\n";
    assert_eq!(
        parse_captions(long.as_bytes(), None, &limits).unwrap_err(),
        CaptionError::CueTooLong { line: 1, limit: 10 }
    );
    let big = vec![b'a'; 201];
    assert_eq!(
        parse_captions(&big, None, &limits).unwrap_err(),
        CaptionError::TooLarge {
            bytes: 201,
            limit: 200
        }
    );
}

#[test]
fn every_refusal_has_a_code_and_both_messages() {
    let all = [
        CaptionError::TooLarge { bytes: 2, limit: 1 },
        CaptionError::NotUtf8 { line: 1 },
        CaptionError::Empty,
        CaptionError::BadBlock { line: 1 },
        CaptionError::BadTiming { line: 1 },
        CaptionError::EndBeforeStart { line: 1 },
        CaptionError::AfterMediaEnd {
            line: 1,
            start_ms: 2,
            duration_ms: 1,
        },
        CaptionError::TooManyCues { limit: 1 },
        CaptionError::CueTooLong { line: 1, limit: 1 },
        CaptionError::BadLanguage { tag: "x".into() },
    ];
    let mut codes: Vec<&str> = all.iter().map(|e| e.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len(), "codes are distinct");
    for e in &all {
        assert!(e.code().starts_with("captions."));
        let zh = e.message(Lang::Zh);
        let en = e.message(Lang::En);
        assert!(
            zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{zh}"
        );
        assert!(en.is_ascii() && en != zh, "{en}");
    }
}

#[test]
fn language_tags_are_checked_and_written_in_their_usual_case() {
    assert_eq!(language_tag("zh-cn").unwrap(), "zh-CN");
    assert_eq!(language_tag("ZH_hans_cn").unwrap(), "zh-Hans-CN");
    assert_eq!(language_tag("en").unwrap(), "en");
    assert_eq!(language_tag("yue").unwrap(), "yue");
    for bad in [
        "",
        "c",
        "chinese",
        "zh-",
        "zh--CN",
        "zh CN",
        "zh-toolongsubtag",
        "../x",
    ] {
        assert!(
            matches!(language_tag(bad), Err(CaptionError::BadLanguage { .. })),
            "{bad}"
        );
    }
}
