#![no_main]
// Any bytes: the parser returns content or an error, and never panics.
use libfuzzer_sys::fuzz_target;
use saldo_import::{Collect, Format};

fuzz_target!(|data: &[u8]| {
    let mut sink = Collect::default();
    let _ = saldo_import::parse(Format::Mt940, data, &mut sink);
});
