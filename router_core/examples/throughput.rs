//! Quick figures without criterion: `cargo run --release --example throughput -p router_core`.

use std::time::Instant;

use router_core::workload::{generate, WorkloadSpec};
use router_core::Engine;

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let sizes: Vec<usize> = match std::env::args().nth(2) {
        Some(s) => s.split(',').filter_map(|x| x.parse().ok()).collect(),
        None => vec![1_000, 10_000, 100_000],
    };
    for agents in sizes {
        let t0 = Instant::now();
        let w = generate(&WorkloadSpec::standard(agents, events, 42));
        let gen = t0.elapsed();
        let bytes = w.inputs_msgpack();
        let mut e = Engine::new(&w.config).expect("config");
        let mut out = Vec::new();
        let t1 = Instant::now();
        let mut decisions = 0usize;
        for i in &w.inputs {
            out.clear();
            e.apply(i, &mut out);
            decisions += out.len();
        }
        let core = t1.elapsed();
        let mut e2 = Engine::new(&w.config).expect("config");
        let t2 = Instant::now();
        let encoded = e2.apply_batch_msgpack(&bytes).expect("batch");
        let batch = t2.elapsed();
        let n = w.inputs.len() as f64;
        println!(
            "agents {agents:>6}: {} inputs, {decisions} decisions, generated in {:.1?}; core {:.2} M events/s; bytes path {:.2} M events/s ({} KiB out); stats {:?}",
            w.inputs.len(),
            gen,
            n / core.as_secs_f64() / 1e6,
            n / batch.as_secs_f64() / 1e6,
            encoded.len() / 1024,
            e.stats()
        );
    }
}
