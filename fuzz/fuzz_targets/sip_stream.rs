//! SIP stream framing: chunked and whole input must decode alike, and
//! every decoded message must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegate_sip::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::stream(data);
});
