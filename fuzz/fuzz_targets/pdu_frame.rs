//! One PDU with command_length patched to the input length, so the fuzzer reaches body parsing fast.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegate_smpp::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::decode_patched(data);
});
