#![no_main]
// The csv reader on any bytes: an error is fine, a panic, hang or huge allocation is not.
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = smalldata::readers::csv(bytes);
});
