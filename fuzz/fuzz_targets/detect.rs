#![no_main]
// Detection looks at any bytes, then the detected parser reads them: never a panic.
use libfuzzer_sys::fuzz_target;
use saldo_import::Collect;

fuzz_target!(|data: &[u8]| {
    if let Some(format) = saldo_import::detect::detect(Some("input"), data) {
        let mut sink = Collect::default();
        let _ = saldo_import::parse(format, data, &mut sink);
    }
});
