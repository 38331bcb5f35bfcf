//! Text decoding by data_coding (first octet), re-encoding and splitting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegate_smpp::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::text(data);
});
