//! Hostile inputs for the codec and the engine's byte entry points, and the tally of what
//! the engine made of them. Shared by the bounded fuzz test (`tests/fuzz_codec.rs`, part of
//! `cargo test`) and the fuzz runner (`examples/fuzz_codec.rs`, `make fuzz`).
//!
//! Inputs are made two ways from a real workload's inputs: generated (deep nesting at and
//! past `MAX_DEPTH` up to 100,000 levels, huge and wide fields, wrong types, unknown or
//! missing tags, random bytes) and mutated (truncated, trailing bytes, flipped, inserted or
//! deleted bytes, spliced inputs), each in JSON and in MessagePack. Every input must give a
//! rejection with a specific reason (or, when a mutation happened to stay valid, be
//! applied); a panic is a crash. A stack overflow aborts the process: the runner dies,
//! which fails the test or the run.

#![allow(dead_code)] // each of the two users takes what it needs

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use router_core::events::Decision;
use router_core::limits::{MAX_DEPTH, MAX_INPUT_BYTES, MAX_ITEMS, MAX_STRING_BYTES};
use router_core::workload::{generate, WorkloadSpec};
use router_core::{Config, Engine};
use serde_json::{json, Value};

/// splitmix64: small, seeded, the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What the engine made of the hostile inputs.
#[derive(Default)]
pub struct Tally {
    /// Hostile payloads handed to an entry point.
    pub inputs: u64,
    /// Panics caught (a crash of the embedding process).
    pub crashes: u64,
    /// Rejections without a code or message, and batch answers of the wrong shape.
    pub unspecific: u64,
    /// Mutations that stayed valid inputs and were applied.
    pub applied: u64,
    /// Rejections by code and reason (`malformed/max_depth`, `malformed/truncated`, ...).
    pub by_reason: BTreeMap<String, u64>,
}

impl Tally {
    fn reason(&mut self, key: String) {
        *self.by_reason.entry(key).or_default() += 1;
    }

    /// The counts as lines, for the runner's report.
    pub fn report(&self) -> String {
        let mut s = format!(
            "hostile inputs: {}\ncrashes: {}\nunspecific: {}\napplied (mutations that stayed valid): {}\nrejected by reason:\n",
            self.inputs, self.crashes, self.unspecific, self.applied
        );
        for (k, v) in &self.by_reason {
            s.push_str(&format!("  {k:<40} {v}\n"));
        }
        s
    }
}

/// The reason of a `malformed` rejection that went over no limit, from its message.
fn malformed_reason(message: &str) -> &'static str {
    const KINDS: [(&str, &str); 14] = [
        ("truncated", "truncated"),
        ("EOF", "truncated"),
        ("after the input", "trailing_bytes"),
        ("trailing", "trailing_bytes"),
        ("marker", "bad_marker"),
        ("unknown field", "unknown_field"),
        ("missing", "missing_field"),
        ("$.type", "unknown_type"),
        ("invalid type", "wrong_type"),
        ("Wrong type", "wrong_type"),
        ("Expected `", "out_of_range"),
        ("unknown variant", "unknown_value"),
        ("utf", "bad_utf8"),
        ("UTF", "bad_utf8"),
    ];
    for (needle, kind) in KINDS {
        if message.contains(needle) {
            return kind;
        }
    }
    "syntax"
}

/// Tally one input's decisions: a rejection must say which rule, and why.
fn classify(tally: &mut Tally, decisions: &[Decision]) {
    let Some(first) = decisions.first() else {
        tally.applied += 1;
        return;
    };
    let v = serde_json::to_value(first).unwrap_or(Value::Null);
    if v["type"] != "input_rejected" {
        tally.applied += 1;
        return;
    }
    let code = v["code"].as_str().unwrap_or("");
    let message = v["message"].as_str().unwrap_or("");
    if code.is_empty() || message.is_empty() || message.len() > 1024 {
        tally.unspecific += 1;
        return;
    }
    let why = match (code, v["limit"].as_str()) {
        (_, Some(limit)) => limit.to_string(),
        ("malformed", None) => malformed_reason(message).to_string(),
        _ => String::new(),
    };
    tally.reason(if why.is_empty() {
        code.to_string()
    } else {
        format!("{code}/{why}")
    });
}

/// The hostile-input maker and the engine it feeds.
pub struct Fuzzer {
    rng: Rng,
    config: Config,
    engine: Engine,
    values: Vec<Value>,
    json: Vec<Vec<u8>>,
    msgpack: Vec<Vec<u8>>,
    snapshot: Vec<u8>,
    since_reset: usize,
    pool: Vec<Vec<Rc<[u8]>>>,
}

/// Heavy payloads kept per kind and encoding.
const POOL: usize = 128;

fn to_msgpack(v: &Value) -> Vec<u8> {
    rmp_serde::to_vec_named(v).expect("a JSON value always encodes")
}

impl Fuzzer {
    /// A fuzzer seeded with `seed`: its corpus is a small real workload's inputs.
    pub fn new(seed: u64) -> Fuzzer {
        let w = generate(&WorkloadSpec::standard(40, 1_500, seed));
        let values: Vec<Value> = w
            .inputs
            .iter()
            .map(|i| serde_json::to_value(i).expect("inputs serialize"))
            .collect();
        let json = values.iter().map(|v| v.to_string().into_bytes()).collect();
        let msgpack = values.iter().map(to_msgpack).collect();
        let mut engine = Engine::new(&w.config).expect("workload config");
        let mut out = Vec::new();
        for i in &w.inputs[..500] {
            out.clear();
            engine.apply(i, &mut out);
        }
        let snapshot = engine.snapshot();
        Fuzzer {
            rng: Rng(seed),
            engine: Engine::new(&w.config).expect("workload config"),
            config: w.config,
            values,
            json,
            msgpack,
            snapshot,
            since_reset: 0,
            pool: vec![Vec::new(); 22],
        }
    }

    fn sample(&mut self, as_json: bool) -> Vec<u8> {
        let i = self.rng.below(self.json.len());
        if as_json {
            self.json[i].clone()
        } else {
            self.msgpack[i].clone()
        }
    }

    fn encode(v: &Value, as_json: bool) -> Vec<u8> {
        if as_json {
            v.to_string().into_bytes()
        } else {
            to_msgpack(v)
        }
    }

    /// A list or map nested `levels` deep, as bytes (built flat: no recursion here either).
    fn deep(&mut self, levels: usize, as_json: bool, closed: bool) -> Vec<u8> {
        let map = self.rng.below(2) == 0;
        let mut b = Vec::with_capacity(levels * 5 + 2);
        for _ in 0..levels {
            match (as_json, map) {
                (true, false) => b.push(b'['),
                (true, true) => b.extend_from_slice(b"{\"k\":"),
                (false, false) => b.push(0x91),
                (false, true) => b.extend_from_slice(b"\x81\xa1k"),
            }
        }
        if as_json {
            b.push(b'1');
            if closed {
                let close = if map { b'}' } else { b']' };
                b.extend(std::iter::repeat_n(close, levels));
            }
        } else {
            b.push(0x01);
        }
        b
    }

    /// One hostile payload and whether it is JSON.
    pub fn make(&mut self) -> (Rc<[u8]>, bool) {
        let as_json = self.rng.below(2) == 0;
        let kind = self.rng.below(11);
        // Deep, huge and wide payloads are costly to make and cheap to refuse: the first
        // POOL of each kind and encoding are kept and drawn from again.
        let heavy = matches!(kind, 0 | 1 | 7);
        let slot = kind * 2 + usize::from(as_json);
        if heavy && self.pool[slot].len() >= POOL {
            let i = self.rng.below(POOL);
            return (Rc::clone(&self.pool[slot][i]), as_json);
        }
        let payload = match kind {
            // Deep nesting, bare or as the value of a field of a real input.
            0 => {
                let levels = *self.rng.pick(&[
                    MAX_DEPTH - 2,
                    MAX_DEPTH - 1,
                    MAX_DEPTH,
                    MAX_DEPTH + 1,
                    64,
                    1_000,
                    20_000,
                    100_000,
                ]);
                let closed = self.rng.below(4) != 0;
                let inner = self.deep(levels, as_json, closed);
                if self.rng.below(2) == 0 {
                    inner
                } else {
                    let mut v = self.values[self.rng.below(self.values.len())].clone();
                    v["x"] = json!(0);
                    let mut b = Self::encode(&v, as_json);
                    // Replace the placeholder 0 (the last value written) by the nesting.
                    if as_json {
                        let at = b.len() - 2; // `0}` ends the map (x was added last)
                        if let Some(pos) = b[..=at].iter().rposition(|c| *c == b'0') {
                            b.splice(pos..pos + 1, inner);
                        }
                    } else if let Some(pos) = b.iter().rposition(|c| *c == 0x00) {
                        b.splice(pos..pos + 1, inner);
                    }
                    b
                }
            }
            // A huge or just over-long string, in a known field or a new one.
            1 => {
                let len = *self.rng.pick(&[
                    201,
                    MAX_STRING_BYTES,
                    MAX_STRING_BYTES + 1,
                    MAX_INPUT_BYTES + 1,
                    1 << 20,
                ]);
                let mut v = self.values[self.rng.below(self.values.len())].clone();
                let field = *self
                    .rng
                    .pick(&["id", "tenant", "agent", "contact", "reason", "zz"]);
                v[field] = json!("é".repeat(len / 2));
                Self::encode(&v, as_json)
            }
            // Truncated.
            2 => {
                let b = self.sample(as_json);
                let cut = self.rng.below(b.len());
                b[..cut].to_vec()
            }
            // Trailing bytes.
            3 => {
                let mut b = self.sample(as_json);
                for _ in 0..1 + self.rng.below(16) {
                    b.push(self.rng.next() as u8);
                }
                b
            }
            // A field of the wrong type or out of range.
            4 => {
                let mut v = self.values[self.rng.below(self.values.len())].clone();
                let keys: Vec<String> = v
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                let key = self.rng.pick(&keys).clone();
                v[key.as_str()] = self
                    .rng
                    .pick(&[
                        json!(null),
                        json!(true),
                        json!(-1),
                        json!(i64::MAX),
                        json!(u64::MAX),
                        json!(1.5),
                        json!(""),
                        json!([]),
                        json!({}),
                        json!([1, [2, [3]]]),
                        json!({"a": {"b": 1}}),
                        json!("contact_arrived"),
                    ])
                    .clone();
                Self::encode(&v, as_json)
            }
            // Random bytes.
            5 => (0..self.rng.below(64))
                .map(|_| self.rng.next() as u8)
                .collect(),
            // Flipped, inserted and deleted bytes.
            6 => {
                let mut b = self.sample(as_json);
                for _ in 0..1 + self.rng.below(8) {
                    if b.is_empty() {
                        break;
                    }
                    let at = self.rng.below(b.len());
                    match self.rng.below(3) {
                        0 => b[at] ^= 1 << self.rng.below(8),
                        1 => b.insert(at, self.rng.next() as u8),
                        _ => {
                            b.remove(at);
                        }
                    }
                }
                b
            }
            // Wide lists and maps.
            7 => {
                let n = *self.rng.pick(&[MAX_ITEMS, MAX_ITEMS + 1, 20_000]);
                let mut v = self.values[self.rng.below(self.values.len())].clone();
                v["tags"] = if self.rng.below(2) == 0 {
                    Value::Array((0..n).map(|i| json!(i)).collect())
                } else {
                    Value::Object((0..n).map(|i| (i.to_string(), json!(1))).collect())
                };
                Self::encode(&v, as_json)
            }
            // Two inputs spliced.
            8 => {
                let a = self.sample(as_json);
                let b = self.sample(as_json);
                let (i, j) = (self.rng.below(a.len()), self.rng.below(b.len()));
                [&a[..i], &b[j..]].concat()
            }
            // The tag: unknown, missing, not first, not a string.
            9 => {
                let v = self.values[self.rng.below(self.values.len())].clone();
                let mut m = v.as_object().cloned().unwrap_or_default();
                let tag = m.remove("type").unwrap_or(Value::Null);
                match self.rng.below(4) {
                    0 => {
                        m.insert("type".into(), json!("contact_teleported"));
                    }
                    1 => {}
                    2 => {
                        // serde_json's map keeps keys sorted: `type` lands after `tenant`.
                        m.insert("type".into(), tag);
                    }
                    _ => {
                        m.insert("type".into(), json!(7));
                    }
                }
                Self::encode(&Value::Object(m), as_json)
            }
            // A valid input, unchanged: the control (it must simply be applied or refused
            // by a state rule).
            _ => self.sample(as_json),
        };
        let payload: Rc<[u8]> = payload.into();
        if heavy {
            self.pool[slot].push(Rc::clone(&payload));
        }
        (payload, as_json)
    }

    fn reset_now_and_then(&mut self) {
        self.since_reset += 1;
        if self.since_reset >= 20_000 {
            self.engine = Engine::new(&self.config).expect("workload config");
            self.since_reset = 0;
        }
    }

    /// Make one hostile payload, apply it, and tally the outcome.
    pub fn one(&mut self, tally: &mut Tally) {
        self.reset_now_and_then();
        let (payload, as_json) = self.make();
        tally.inputs += 1;
        let engine = &mut self.engine;
        let got = catch_unwind(AssertUnwindSafe(|| {
            let mut out = Vec::new();
            if as_json {
                engine.apply_json(&payload, &mut out);
            } else {
                engine.apply_msgpack(&payload, &mut out);
            }
            out
        }));
        match got {
            Ok(decisions) => classify(tally, &decisions),
            Err(_) => {
                tally.crashes += 1;
                self.engine = Engine::new(&self.config).expect("workload config");
            }
        }
    }

    /// A batch of `n` hostile MessagePack payloads through `apply_batch_msgpack`: one
    /// array of decisions per payload, each tallied.
    pub fn batch(&mut self, n: usize, tally: &mut Tally) {
        let mut payloads = Vec::with_capacity(n);
        while payloads.len() < n {
            let (p, as_json) = self.make();
            if !as_json {
                payloads.push(p);
            }
        }
        let mut batch = Vec::new();
        rmp::encode::write_array_len(&mut batch, n as u32).expect("vec write");
        for p in &payloads {
            batch.extend_from_slice(p);
        }
        tally.inputs += n as u64;
        let engine = &mut self.engine;
        let got = catch_unwind(AssertUnwindSafe(|| engine.apply_batch_msgpack(&batch)));
        let Ok(out) = got else {
            tally.crashes += 1;
            self.engine = Engine::new(&self.config).expect("workload config");
            return;
        };
        // The payloads are concatenated: a broken one breaks the container, whose answer
        // is then one rejection of the whole batch.
        match rmp_serde::from_slice::<Vec<Vec<Value>>>(&out) {
            Ok(arrays) if arrays.len() == n || arrays.len() == 1 => {
                for a in arrays {
                    match a.first() {
                        Some(d) if d["type"] == "input_rejected" => {
                            let limit = d["limit"].as_str().map(str::to_string);
                            let message = d["message"].as_str().unwrap_or("");
                            let why = limit.unwrap_or_else(|| malformed_reason(message).into());
                            let code = d["code"].as_str().unwrap_or("");
                            tally.reason(match code {
                                "malformed" => format!("batch malformed/{why}"),
                                _ => format!("batch {code}"),
                            });
                        }
                        _ => tally.applied += 1,
                    }
                }
            }
            _ => tally.unspecific += 1,
        }
    }

    /// Damaged snapshot bytes through `Engine::restore`: refused or restored, never a crash.
    pub fn restore(&mut self, tally: &mut Tally) {
        let mut b = self.snapshot.clone();
        match self.rng.below(4) {
            0 => b.truncate(self.rng.below(b.len())),
            1 => {
                for _ in 0..1 + self.rng.below(16) {
                    let at = self.rng.below(b.len());
                    b[at] = self.rng.next() as u8;
                }
            }
            2 => {
                let at = self.rng.below(b.len());
                let levels = 1 + self.rng.below(100_000);
                b.splice(at..at, std::iter::repeat_n(0x91u8, levels));
            }
            _ => b.extend_from_slice(b"\x00junk"),
        }
        tally.inputs += 1;
        let config = &self.config;
        match catch_unwind(AssertUnwindSafe(|| Engine::restore(config, &b).is_ok())) {
            Ok(true) => tally.applied += 1,
            Ok(false) => tally.reason("snapshot refused".into()),
            Err(_) => tally.crashes += 1,
        }
    }

    /// `n` hostile inputs: single payloads, with a batch and a damaged snapshot now and then.
    pub fn run(&mut self, n: u64, tally: &mut Tally) {
        let start = tally.inputs;
        while tally.inputs - start < n {
            match self.rng.below(512) {
                0 => self.restore(tally),
                1..=8 => {
                    let n = 1 + self.rng.below(16);
                    self.batch(n, tally)
                }
                _ => self.one(tally),
            }
        }
    }
}
