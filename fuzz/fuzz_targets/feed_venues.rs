//! The venue decoders and their books on one arbitrary packet: IEX-TP (TOPS, DEEP), ITCH 5.0
//! over MoldUDP64 and the binary-file framing, CME MDP 3.0.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mam_feed::every_venue::decode_every_venue;

fuzz_target!(|p: &[u8]| decode_every_venue(p));
