//! libFuzzer entry point for the `stream` target (coverage-guided; see `run-libfuzzer.sh`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = provmark_fuzz::stream_target(data);
});
