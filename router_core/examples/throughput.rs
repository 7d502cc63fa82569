//! Quick figures without criterion: `cargo run --release --example throughput -p router_core`.
//!
//! Arguments: events (default 1000000), agent counts (default 1000,10000,100000), seeds
//! (default 42). Each run also prints an FNV-1a digest of the generated inputs and of the
//! encoded decisions, so a performance change can be checked to leave every decision
//! byte-for-byte as it was.
//!
//! `THROUGHPUT_PATHS=core` (or `batch`) runs one path only, for a profiler.
//! `THROUGHPUT_REPEAT=N` runs each path N times, each on a fresh engine, and reports the
//! fastest.

use std::time::{Duration, Instant};

use router_core::events::{Decision, Input};
use router_core::workload::{generate, WorkloadSpec};
use router_core::Engine;

/// As in the extension module (router_py).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// This thread's time on a CPU: on a shared machine it varies less than wall time.
fn cpu_ns() -> Option<u64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    ok.then(|| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

/// Inputs handed to the core at a time, freshly built, as the decoder of the batch path
/// and of the service hands them over: the core reads each input just after it was
/// made, not from a million-input array built up front, whose cache misses are the
/// harness's, not the core's.
const HANDOVER: usize = 256;

/// The core path alone: wall and CPU time spent in `Engine::apply` only, and the number
/// of decisions.
fn run_core(e: &mut Engine, inputs: &[Input]) -> (Duration, Option<u64>, usize) {
    let mut out = Vec::new();
    let (mut wall, mut cpu, mut decisions) = (Duration::ZERO, Some(0u64), 0usize);
    for chunk in inputs.chunks(HANDOVER) {
        let fresh = chunk.to_vec();
        let (c, t) = (cpu_ns(), Instant::now());
        decisions += apply_all(e, &fresh, &mut out);
        wall += t.elapsed();
        cpu = cpu.zip(cpu_ns().zip(c)).map(|(sum, (b, a))| sum + (b - a));
    }
    (wall, cpu, decisions)
}

/// In its own frame so a profiler can measure just this
/// (`valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*apply_all*'`).
#[inline(never)]
fn apply_all(e: &mut Engine, inputs: &[Input], out: &mut Vec<Decision>) -> usize {
    let mut decisions = 0usize;
    for (n, i) in inputs.iter().enumerate() {
        if let Some(next) = inputs.get(n + 1) {
            e.prefetch(next);
        }
        out.clear();
        e.apply(i, out);
        decisions += out.len();
    }
    decisions
}

fn list(arg: Option<String>, default: &[u64]) -> Vec<u64> {
    match arg {
        Some(s) => s.split(',').filter_map(|x| x.parse().ok()).collect(),
        None => default.to_vec(),
    }
}

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let sizes = list(std::env::args().nth(2), &[1_000, 10_000, 100_000]);
    let seeds = list(std::env::args().nth(3), &[42]);
    let paths = std::env::var("THROUGHPUT_PATHS").unwrap_or_else(|_| "core,batch".into());
    let (run_core_path, run_batch_path) = (paths.contains("core"), paths.contains("batch"));
    let repeat: usize = std::env::var("THROUGHPUT_REPEAT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    for seed in seeds {
        for &agents in &sizes {
            let agents = agents as usize;
            let t0 = Instant::now();
            let w = generate(&WorkloadSpec::standard(agents, events, seed));
            let bytes = w.inputs_msgpack();
            let n = w.inputs.len() as f64;
            println!(
                "agents {agents:>6}: {} inputs, generated in {:.1?}",
                w.inputs.len(),
                t0.elapsed()
            );
            // Events per second by wall time and, where Linux reports it, by CPU time.
            let rates = |wall: Duration, cpu: Option<u64>| {
                let by_cpu =
                    cpu.map_or("-".to_string(), |ns| format!("{:.3}", n / ns as f64 * 1e3));
                format!(
                    "{:.3} M events/s (cpu time {by_cpu})",
                    n / wall.as_secs_f64() / 1e6
                )
            };
            // Each run starts from a fresh engine; the fastest is reported, since on a
            // shared machine only the slow side of a timing is noise.
            let best_of = |run: &mut dyn FnMut() -> (Duration, Option<u64>, String)| {
                let mut best: Option<(u64, Duration, Option<u64>, String)> = None;
                for _ in 0..repeat {
                    let (wall, cpu, what) = run();
                    let rank = cpu.unwrap_or(wall.as_nanos() as u64);
                    if best.as_ref().is_none_or(|b| rank < b.0) {
                        best = Some((rank, wall, cpu, what));
                    }
                }
                let (_, wall, cpu, what) = best.expect("at least one run");
                (rates(wall, cpu), what)
            };
            let runs = if repeat > 1 {
                format!(" (best of {repeat})")
            } else {
                String::new()
            };
            if run_core_path {
                let (rate, what) = best_of(&mut || {
                    let mut e = Engine::new(&w.config).expect("config");
                    let (wall, cpu, decisions) = run_core(&mut e, &w.inputs);
                    let what = format!("{decisions} decisions; stats {:?}", e.stats());
                    (wall, cpu, what)
                });
                println!("agents {agents:>6} core: {rate}{runs}; {what}");
            }
            let mut digest = format!("inputs {:016x}", fnv1a(&bytes));
            if run_batch_path {
                let mut encoded = Vec::new();
                let (rate, _) = best_of(&mut || {
                    let mut e = Engine::new(&w.config).expect("config");
                    let (c, t) = (cpu_ns(), Instant::now());
                    encoded = e.apply_batch_msgpack(&bytes);
                    let (wall, cpu) = (t.elapsed(), cpu_ns().zip(c).map(|(b, a)| b - a));
                    (wall, cpu, String::new())
                });
                println!(
                    "agents {agents:>6} bytes path: {rate}{runs}; {} KiB out",
                    encoded.len() / 1024
                );
                digest.push_str(&format!(" decisions {:016x}", fnv1a(&encoded)));
            }
            println!("digest seed {seed} agents {agents}: {digest}");
        }
    }
}
