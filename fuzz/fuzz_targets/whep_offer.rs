//! libFuzzer entry point for [`yanxiu_fuzz::whep_offer`]; see `fuzz/README.md`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| yanxiu_fuzz::whep_offer(data));
