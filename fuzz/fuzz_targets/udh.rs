//! User Data Header parse / encode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegate_smpp::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::udh(data);
});
