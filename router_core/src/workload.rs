//! A seeded generator of realistic event streams for benchmarks: tenants with queues on
//! five channels, skills with proficiency, agents drawn from a fixed set of profiles, and
//! traffic that keeps them about 85 % busy.
//!
//! The stream is made closed-loop: the generator runs an engine and answers its
//! decisions as agents and customers would (accept or reject offers, finish contacts,
//! abandon after their patience), so every input in the stream is one a real centre could
//! send. Replaying the stream into a fresh engine gives the same decisions.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use rustc_hash::FxHashMap;
use serde_json::json;

use crate::channels::Channel;
use crate::config::Config;
use crate::engine::Engine;
use crate::events::*;

/// The shape of a generated workload.
#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    pub agents: usize,
    pub events: usize,
    pub seed: u64,
    pub tenants: usize,
    pub queues: usize,
    pub skills: usize,
    pub profiles: usize,
}

impl WorkloadSpec {
    /// The benchmark shape: 50 skills, 200 queues, 5 channels, 20 tenants and 64
    /// agent profiles.
    pub fn standard(agents: usize, events: usize, seed: u64) -> WorkloadSpec {
        WorkloadSpec {
            agents,
            events,
            seed,
            tenants: 20,
            queues: 200,
            skills: 50,
            profiles: 64,
        }
    }
}

/// SplitMix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Exponential with the given mean, in milliseconds.
    fn exp_ms(&mut self, mean_ms: f64) -> i64 {
        (-(1.0 - self.unit()).ln() * mean_ms) as i64 + 1
    }
}

const CHANNELS: [Channel; 5] = [
    Channel::Voice,
    Channel::Chat,
    Channel::Email,
    Channel::WebForm,
    Channel::Social,
];
const LANGS: [&str; 3] = ["fi", "sv", "en"];

/// The configuration as JSON in the shape of `ccroute.config.Config`.
fn make_config(spec: &WorkloadSpec, rng: &mut Rng) -> serde_json::Value {
    let tenants: Vec<_> = (0..spec.tenants)
        .map(|t| json!({"id": format!("t{t}")}))
        .collect();
    let strategies = [
        "longest_idle",
        "best_proficiency",
        "most_spare_capacity",
        "round_robin",
    ];
    let queues: Vec<_> = (0..spec.queues)
        .map(|q| {
            let ch1 = CHANNELS[q % 5];
            let ch2 = CHANNELS[(q / 5 + 2) % 5];
            let chans: Vec<&str> = if ch1 == ch2 {
                vec![ch1.as_str()]
            } else {
                vec![ch1.as_str(), ch2.as_str()]
            };
            let strategy = if q % 10 < 7 {
                strategies[0]
            } else {
                strategies[1 + q % 3]
            };
            json!({
                "id": format!("q{q}"),
                "tenant": format!("t{}", q % spec.tenants),
                "channels": chans,
                "skills": {format!("s{}", q % spec.skills): 1 + rng.below(4)},
                "priority": (q % 3) as i64,
                "strategy": strategy,
                "wrap_up_seconds": if ch1 == Channel::Voice { 30 } else { 0 },
                "interruptible": ch1 == Channel::Email && q % 2 == 0,
            })
        })
        .collect();
    // Profiles: each covers a band of skills and tenants so that every queue is served.
    let profiles: Vec<serde_json::Value> = (0..spec.profiles)
        .map(|p| {
            let mut skills = BTreeMap::new();
            for k in 0..8 {
                let s = (p * 7 + k * 3) % spec.skills;
                skills.insert(format!("s{s}"), 4 + rng.below(7));
            }
            let tenants: Vec<String> = if p % 8 == 0 {
                vec!["*".into()]
            } else {
                (0..6)
                    .map(|k| format!("t{}", (p * 3 + k) % spec.tenants))
                    .collect()
            };
            let mut langs = vec!["fi"];
            if p % 2 == 0 {
                langs.push("sv");
            }
            if p % 3 != 2 {
                langs.push("en");
            }
            let capacity = match p % 4 {
                0 => json!({"voice": 1, "email": 2}),
                1 => json!({"chat": 3, "email": 2, "social": 2}),
                2 => json!({"voice": 1, "chat": 2, "web_form": 2}),
                _ => json!({"voice": 1, "chat": 2, "email": 2, "web_form": 1, "social": 1}),
            };
            json!({"skills": skills, "languages": langs, "tenants": tenants, "capacity": capacity})
        })
        .collect();
    let agents: Vec<_> = (0..spec.agents)
        .map(|i| {
            let mut a = profiles[i % profiles.len()].clone();
            a["id"] = json!(format!("a{i}"));
            a
        })
        .collect();
    json!({
        "routing": {"offer_timeout_seconds": 15, "decline_cooldown_seconds": 10},
        "tenants": tenants,
        "queues": queues,
        "agents": agents,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Track {
    Waiting,
    Offered,
    Assigned,
    Done,
}

/// Pending actions of customers and agents, by time.
enum Pending {
    Arrival,
    Tick,
    Answer { contact: u64, agent: String },
    Complete { contact: u64, agent: String },
    FinishWrap { contact: u64, agent: String },
    Abandon { contact: u64 },
    Pause { agent: usize },
    Resume { agent: usize },
}

/// A generated workload: the configuration (JSON, `ccroute.config.Config` shape) and the
/// input stream in order.
pub struct Workload {
    pub config_json: String,
    pub config: Config,
    pub inputs: Vec<Input>,
}

impl Workload {
    /// The inputs as one MessagePack array (what `Engine::apply_batch_msgpack` takes).
    pub fn inputs_msgpack(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(&self.inputs).expect("inputs serialize")
    }
}

pub fn generate(spec: &WorkloadSpec) -> Workload {
    let mut rng = Rng(spec.seed);
    let cfg_value = make_config(spec, &mut rng);
    let config_json = cfg_value.to_string();
    let config = Config::from_json(&config_json).expect("generated config is valid");
    let mut engine = Engine::new(&config).expect("generated config builds");
    let mut inputs: Vec<Input> = Vec::with_capacity(spec.events + spec.agents);
    let mut out = Vec::new();
    let mut seq: u64 = 0;
    let mut next_id = || {
        seq += 1;
        format!("g{seq}")
    };

    // Everyone logs in at the start of the day.
    let start: i64 = 1_767_600_000_000; // a Monday morning, UTC ms
    for i in 0..spec.agents {
        inputs.push(Input::AgentLoggedIn(AgentLoggedIn {
            id: next_id(),
            ts: start,
            v: 1,
            agent: format!("a{i}"),
            state: LoginState::Available,
            reason: None,
        }));
    }
    for inp in &inputs {
        engine.apply(inp, &mut out);
    }
    out.clear();

    // Offered load: about 85 % of agents busy with a mean handle time of 150 s.
    let aht_ms = 150_000.0;
    let rate_per_ms = (spec.agents as f64 * 0.85) / aht_ms;
    let mut heap: BinaryHeap<Reverse<(i64, u64, usize)>> = BinaryHeap::new();
    let mut pending: Vec<Option<Pending>> = Vec::new();
    let mut order: u64 = 0;
    let mut push =
        |heap: &mut BinaryHeap<_>, pending: &mut Vec<Option<Pending>>, t: i64, p: Pending| {
            order += 1;
            pending.push(Some(p));
            heap.push(Reverse((t, order, pending.len() - 1)));
        };
    push(&mut heap, &mut pending, start + 1, Pending::Arrival);
    push(&mut heap, &mut pending, start + 1000, Pending::Tick);
    for a in 0..spec.agents.min(64) {
        push(
            &mut heap,
            &mut pending,
            start + 600_000 + rng.below(3_600_000) as i64,
            Pending::Pause {
                agent: a * 7 % spec.agents,
            },
        );
    }

    let mut track: FxHashMap<u64, Track> = FxHashMap::default();
    let mut contact_names: FxHashMap<String, u64> = FxHashMap::default();
    let mut contact_meta: FxHashMap<u64, (String, Channel)> = FxHashMap::default();
    let mut offered_to: FxHashMap<u64, String> = FxHashMap::default();
    let mut next_contact: u64 = 0;
    let queue_count = spec.queues;

    while inputs.len() < spec.events + spec.agents {
        let Some(Reverse((t, _, slot))) = heap.pop() else {
            break;
        };
        let Some(p) = pending[slot].take() else {
            continue;
        };
        let input = match p {
            Pending::Arrival => {
                let gap = rng.exp_ms(1.0 / rate_per_ms);
                push(&mut heap, &mut pending, t + gap, Pending::Arrival);
                next_contact += 1;
                let c = next_contact;
                let q = rng.below(queue_count as u64) as usize;
                let qv = &cfg_value["queues"][q];
                let chans = qv["channels"].as_array().expect("channels");
                let ch_name = chans[rng.below(chans.len() as u64) as usize]
                    .as_str()
                    .unwrap_or("voice");
                let ch = CHANNELS
                    .iter()
                    .copied()
                    .find(|c| c.as_str() == ch_name)
                    .unwrap_or(Channel::Voice);
                let name = format!("c{c}");
                track.insert(c, Track::Waiting);
                contact_names.insert(name.clone(), c);
                let tenant = qv["tenant"].as_str().unwrap_or("t0").to_string();
                contact_meta.insert(c, (tenant.clone(), ch));
                let patience = if ch.is_live() {
                    rng.exp_ms(120_000.0)
                } else {
                    rng.exp_ms(3_600_000.0)
                };
                push(
                    &mut heap,
                    &mut pending,
                    t + patience,
                    Pending::Abandon { contact: c },
                );
                let language = if rng.below(10) < 7 {
                    Some("fi".to_string())
                } else {
                    Some(LANGS[rng.below(3) as usize].to_string())
                };
                Input::ContactArrived(ContactArrived {
                    id: next_id(),
                    ts: t,
                    v: 1,
                    tenant,
                    contact: name,
                    queue: format!("q{q}"),
                    channel: ch,
                    priority: if rng.below(20) == 0 { 5 } else { 0 },
                    language,
                    skills: Vec::new(),
                    customer: Some(format!("cust{}", rng.below(100_000))),
                    page: None,
                    attributes: BTreeMap::new(),
                    tags: Vec::new(),
                })
            }
            Pending::Tick => {
                push(&mut heap, &mut pending, t + 1000, Pending::Tick);
                Input::ClockTick(ClockTick {
                    id: format!("tick-{t}"),
                    ts: t,
                    v: 1,
                })
            }
            Pending::Answer { contact, agent } => {
                if track.get(&contact) != Some(&Track::Offered)
                    || offered_to.get(&contact) != Some(&agent)
                {
                    continue;
                }
                let (tenant, _) = contact_meta[&contact].clone();
                let name = format!("c{contact}");
                if rng.below(20) == 0 {
                    Input::OfferRejected(OfferRejected {
                        id: next_id(),
                        ts: t,
                        v: 1,
                        tenant,
                        contact: name,
                        agent,
                        reason: Some("busy".into()),
                    })
                } else {
                    Input::OfferAccepted(ContactAgent {
                        id: next_id(),
                        ts: t,
                        v: 1,
                        tenant,
                        contact: name,
                        agent,
                    })
                }
            }
            Pending::Complete { contact, agent } => {
                let (tenant, _) = contact_meta[&contact].clone();
                Input::ContactCompleted(ContactCompleted {
                    id: next_id(),
                    ts: t,
                    v: 1,
                    tenant,
                    contact: format!("c{contact}"),
                    agent,
                    wrap_up_code: Some("solved".into()),
                    tags: Vec::new(),
                    resolved: Some(true),
                })
            }
            Pending::FinishWrap { contact, agent } => {
                let (tenant, _) = contact_meta[&contact].clone();
                Input::WrapUpFinished(ContactAgent {
                    id: next_id(),
                    ts: t,
                    v: 1,
                    tenant,
                    contact: format!("c{contact}"),
                    agent,
                })
            }
            Pending::Abandon { contact } => {
                match track.get(&contact) {
                    Some(Track::Waiting) | Some(Track::Offered) => {}
                    _ => continue,
                }
                let (tenant, _) = contact_meta[&contact].clone();
                Input::ContactAbandoned(ContactRef {
                    id: next_id(),
                    ts: t,
                    v: 1,
                    tenant,
                    contact: format!("c{contact}"),
                })
            }
            Pending::Pause { agent } => {
                push(
                    &mut heap,
                    &mut pending,
                    t + 300_000 + rng.below(600_000) as i64,
                    Pending::Resume { agent },
                );
                Input::AgentStateChanged(AgentStateChanged {
                    id: next_id(),
                    ts: t,
                    v: 1,
                    agent: format!("a{agent}"),
                    state: RequestedState::Paused,
                    reason: Some("break".into()),
                })
            }
            Pending::Resume { agent } => {
                push(
                    &mut heap,
                    &mut pending,
                    t + 1_800_000 + rng.below(3_600_000) as i64,
                    Pending::Pause { agent },
                );
                Input::AgentStateChanged(AgentStateChanged {
                    id: next_id(),
                    ts: t,
                    v: 1,
                    agent: format!("a{agent}"),
                    state: RequestedState::Available,
                    reason: None,
                })
            }
        };
        out.clear();
        engine.apply(&input, &mut out);
        inputs.push(input);
        for d in &out {
            match &d.body {
                Body::OfferMade { contact, agent, .. } => {
                    let c = contact_names[&**contact];
                    track.insert(c, Track::Offered);
                    offered_to.insert(c, agent.to_string());
                    let delay = 500 + rng.below(4000) as i64;
                    push(
                        &mut heap,
                        &mut pending,
                        d.head.ts + delay,
                        Pending::Answer {
                            contact: c,
                            agent: agent.to_string(),
                        },
                    );
                }
                Body::ContactAssigned {
                    contact,
                    agent,
                    channel,
                    ..
                } => {
                    let c = contact_names[&**contact];
                    track.insert(c, Track::Assigned);
                    let mean = match channel {
                        Channel::Voice => 180_000.0,
                        Channel::Chat => 150_000.0,
                        _ => 120_000.0,
                    };
                    push(
                        &mut heap,
                        &mut pending,
                        d.head.ts + rng.exp_ms(mean),
                        Pending::Complete {
                            contact: c,
                            agent: agent.to_string(),
                        },
                    );
                }
                Body::WrapUpStarted { contact, agent, .. } => {
                    let c = contact_names[&**contact];
                    push(
                        &mut heap,
                        &mut pending,
                        d.head.ts + 5_000 + rng.below(20_000) as i64,
                        Pending::FinishWrap {
                            contact: c,
                            agent: agent.to_string(),
                        },
                    );
                }
                Body::ContactQueued { contact, .. }
                | Body::OfferRevoked { contact, .. }
                | Body::OfferExpired { contact, .. } => {
                    if let Some(&c) = contact_names.get(&**contact) {
                        if track.get(&c) != Some(&Track::Done) {
                            track.insert(c, Track::Waiting);
                        }
                    }
                }
                Body::ContactClosed { contact, .. } => {
                    if let Some(c) = contact_names.remove(&**contact) {
                        track.insert(c, Track::Done);
                    }
                }
                _ => {}
            }
        }
    }
    Workload {
        config_json,
        config,
        inputs,
    }
}
