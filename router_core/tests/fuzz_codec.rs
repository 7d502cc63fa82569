//! A short bounded fuzz run, part of `cargo test`: hostile inputs (tests/hostile) through
//! every byte entry point of the engine; none may crash it, each rejection says why.
//! `make fuzz` runs the same maker for longer (examples/fuzz_codec.rs).

mod hostile;

use hostile::{Fuzzer, Tally};

#[test]
fn hostile_inputs_never_crash_and_always_get_a_specific_reason() {
    let mut tally = Tally::default();
    Fuzzer::new(13).run(20_000, &mut tally);
    assert_eq!(tally.crashes, 0, "{}", tally.report());
    assert_eq!(tally.unspecific, 0, "{}", tally.report());
    // Each kind of hostility was met and named.
    for reason in [
        "malformed/max_depth",
        "malformed/max_string_bytes",
        "malformed/max_items",
        "malformed/max_input_bytes",
        "malformed/truncated",
        "malformed/trailing_bytes",
        "malformed/unknown_type",
        "snapshot refused",
    ] {
        assert!(
            tally.by_reason.get(reason).copied().unwrap_or(0) > 0,
            "no {reason}: {}",
            tally.report()
        );
    }
}
