//! SIP / tel / other URI parsing; a URI that parses must parse again to
//! the same value and be consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegate_sip::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::uri(data);
});
