//! libFuzzer entry point for [`yanxiu_fuzz::flv_video_tag`]; see `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yanxiu_fuzz::flv_video_tag(data));
