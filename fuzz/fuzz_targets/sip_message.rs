//! SIP datagram parse; every message that parses must encode and parse
//! again to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegate_sip::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::message(data);
});
