//! libFuzzer entry point for [`yanxiu_fuzz::rtmp_server_session_after_handshake`]; see `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yanxiu_fuzz::rtmp_server_session_after_handshake(data));
