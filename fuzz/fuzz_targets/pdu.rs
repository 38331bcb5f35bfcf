//! Framing + PDU decode of a byte stream; every PDU must round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegate_smpp::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::frame_and_decode(data);
});
