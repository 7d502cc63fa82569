//! Events per second through the core alone: decoded inputs (`apply`) and the bytes path
//! (`apply_batch_msgpack`: decode, route, encode), at 1,000 / 10,000 / 100,000 agents.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use router_core::workload::{generate, WorkloadSpec};
use router_core::Engine;

/// As in the extension module (router_py).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EVENTS: usize = 200_000;

fn bench(c: &mut Criterion) {
    for agents in [1_000usize, 10_000, 100_000] {
        let w = generate(&WorkloadSpec::standard(agents, EVENTS, 42));
        let bytes = w.inputs_msgpack();
        let mut g = c.benchmark_group(format!("agents_{agents}"));
        g.sample_size(10).measurement_time(Duration::from_secs(8));
        g.throughput(Throughput::Elements(w.inputs.len() as u64));
        g.bench_function("apply", |b| {
            b.iter_batched(
                || Engine::new(&w.config).expect("config"),
                |mut e| {
                    let mut out = Vec::with_capacity(64);
                    for i in &w.inputs {
                        out.clear();
                        e.apply(i, &mut out);
                    }
                    e
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function("apply_batch_msgpack", |b| {
            b.iter_batched(
                || Engine::new(&w.config).expect("config"),
                |mut e| {
                    let out = e.apply_batch_msgpack(&bytes);
                    (e, out)
                },
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
