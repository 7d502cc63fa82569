//! The fuzz runner of `make fuzz`: hostile inputs (generated and mutated, JSON and
//! MessagePack; see tests/hostile/mod.rs) through the engine's byte entry points for a
//! bounded time, then the counts: inputs, crashes, rejections by reason.
//!
//! `cargo run --release --example fuzz_codec -p router_core -- --seconds 60 [--seed 1]
//! [--min-inputs 1000000]` exits non-zero on any crash, any rejection without a specific
//! reason, or fewer inputs than `--min-inputs`.

#[path = "../tests/hostile/mod.rs"]
mod hostile;

use std::time::{Duration, Instant};

use hostile::{Fuzzer, Tally};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

fn main() {
    let seconds = arg("--seconds", 60);
    let seed = arg("--seed", 1);
    let min_inputs = arg("--min-inputs", 0);
    // A caught panic prints its message; the tally counts it, so keep the output short.
    std::panic::set_hook(Box::new(|info| eprintln!("CRASH: {info}")));
    let mut fuzzer = Fuzzer::new(seed);
    let mut tally = Tally::default();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        fuzzer.run(10_000, &mut tally);
    }
    let elapsed = started.elapsed().as_secs_f64();
    print!("{}", tally.report());
    println!(
        "seed {seed}: {} inputs in {elapsed:.1} s ({:.0}/s)",
        tally.inputs,
        tally.inputs as f64 / elapsed
    );
    if tally.crashes > 0 || tally.unspecific > 0 || tally.inputs < min_inputs {
        eprintln!("FAILED: crashes, unspecific rejections, or fewer than {min_inputs} inputs");
        std::process::exit(1);
    }
}
