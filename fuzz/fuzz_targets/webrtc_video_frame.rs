//! libFuzzer entry point for [`yanxiu_fuzz::webrtc_video_frame`]; see `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yanxiu_fuzz::webrtc_video_frame(data));
