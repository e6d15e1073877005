#![no_main]
// Any bytes, detected or read with a detected layout: content or an error, never a panic.
use libfuzzer_sys::fuzz_target;
use saldo_import::Collect;

fuzz_target!(|data: &[u8]| {
    let mut sink = Collect::default();
    if let Ok(profile) = saldo_import::csv::parse(data, None, &mut sink) {
        let mut again = Collect::default();
        let _ = saldo_import::csv::parse(data, Some(&profile), &mut again);
    }
});
