//! Delivery receipt, receipt date and SMPP time parsing and round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegate_smpp::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::receipt(data);
});
