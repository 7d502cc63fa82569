//! Scenarios on the core alone, in the domain's words. The full rule-by-rule comparison
//! against the reference model lives in the Python hypothesis tests.

use router_core::events::Body;
use router_core::workload::{generate, WorkloadSpec};
use router_core::{Config, Decision, Engine, RejectCode};

const CONFIG: &str = r#"{
  "routing": {"offer_timeout_seconds": 20, "decline_cooldown_seconds": 30},
  "tenants": [{"id": "energia"}, {"id": "shop"}],
  "queues": [
    {"id": "billing", "tenant": "energia", "channels": ["voice", "email"], "skills": {"billing": 5}},
    {"id": "shop.chat", "tenant": "shop", "channels": ["chat"]}
  ],
  "agents": [
    {"id": "aino", "skills": {"billing": 8}, "languages": ["fi"], "capacity": {"voice": 1, "email": 2}},
    {"id": "sven", "skills": {"billing": 6}, "languages": ["sv", "fi"], "capacity": {"voice": 1, "email": 2}}
  ]
}"#;

fn engine() -> Engine {
    Engine::new(&Config::from_json(CONFIG).expect("config")).expect("engine")
}

fn apply(e: &mut Engine, line: &str) -> Vec<Decision> {
    let mut out = Vec::new();
    e.apply_json(line.as_bytes(), &mut out);
    out
}

fn login(e: &mut Engine, id: &str, agent: &str, ts: i64) {
    apply(
        e,
        &format!(r#"{{"type":"agent_logged_in","id":"{id}","ts":{ts},"agent":"{agent}"}}"#),
    );
}

fn arrive(e: &mut Engine, id: &str, contact: &str, ts: i64, lang: &str) -> Vec<Decision> {
    apply(
        e,
        &format!(
            r#"{{"type":"contact_arrived","id":"{id}","ts":{ts},"tenant":"energia","contact":"{contact}","queue":"billing","channel":"voice","language":"{lang}"}}"#
        ),
    )
}

fn offered_to(ds: &[Decision]) -> Option<String> {
    ds.iter().find_map(|d| match &d.body {
        Body::OfferMade { agent, .. } => Some(agent.to_string()),
        _ => None,
    })
}

#[test]
fn a_swedish_caller_waits_for_the_swedish_agent() {
    let mut e = engine();
    login(&mut e, "e1", "aino", 1_000);
    let ds = arrive(&mut e, "e2", "c1", 2_000, "sv");
    assert!(
        matches!(ds[0].body, Body::ContactQueued { .. }),
        "the Finnish-only agent is not offered it"
    );
    login(&mut e, "e3", "sven", 3_000);
    let ds = apply(&mut e, r#"{"type":"clock_tick","id":"e4","ts":3000}"#);
    assert!(ds.is_empty());
    // Sven's login drained the queue at once: the offer came with the login.
    assert_eq!(e.waiting_count(), 0);
}

#[test]
fn the_longest_idle_agent_gets_the_call() {
    let mut e = engine();
    login(&mut e, "e1", "sven", 1_000);
    login(&mut e, "e2", "aino", 2_000);
    let ds = arrive(&mut e, "e3", "c1", 5_000, "fi");
    assert_eq!(offered_to(&ds).as_deref(), Some("sven"));
}

#[test]
fn a_duplicate_changes_nothing_and_another_tenants_contact_is_unknown() {
    let mut e = engine();
    login(&mut e, "e1", "aino", 1_000);
    let first = arrive(&mut e, "e2", "c1", 2_000, "fi");
    assert_eq!(offered_to(&first).as_deref(), Some("aino"));
    let dup = arrive(&mut e, "e2", "c1", 9_000, "fi");
    assert!(matches!(
        dup[0].body,
        Body::InputRejected {
            code: RejectCode::DuplicateEvent,
            ..
        }
    ));
    assert_eq!(e.clock(), 2_000, "a duplicate does not move the clock");
    let nosy = apply(
        &mut e,
        r#"{"type":"offer_accepted","id":"e3","ts":3000,"tenant":"shop","contact":"c1","agent":"aino"}"#,
    );
    assert!(matches!(
        nosy[0].body,
        Body::InputRejected {
            code: RejectCode::UnknownContact,
            ..
        }
    ));
}

#[test]
fn an_unanswered_offer_expires_and_moves_on() {
    let mut e = engine();
    login(&mut e, "e1", "aino", 1_000);
    login(&mut e, "e2", "sven", 2_000);
    let ds = arrive(&mut e, "e3", "c1", 3_000, "fi");
    assert_eq!(offered_to(&ds).as_deref(), Some("aino"));
    let ds = apply(&mut e, r#"{"type":"clock_tick","id":"e4","ts":30000}"#);
    assert!(matches!(ds[0].body, Body::OfferExpired { .. }));
    assert_eq!(
        offered_to(&ds).as_deref(),
        Some("sven"),
        "the next best agent, keeping the contact's age"
    );
}

#[test]
fn malformed_input_is_rejected_and_the_engine_goes_on() {
    let mut e = engine();
    let ds = apply(&mut e, "not json");
    assert!(matches!(
        ds[0].body,
        Body::InputRejected {
            code: RejectCode::Malformed,
            ..
        }
    ));
    login(&mut e, "e1", "aino", 1_000);
    assert_eq!(e.available_agents(), 1);
}

#[test]
fn snapshot_restore_continue_equals_never_snapshotting() {
    let w = generate(&WorkloadSpec::standard(200, 6_000, 7));
    let (head, tail) = w.inputs.split_at(3_000);
    let mut straight = Engine::new(&w.config).expect("engine");
    let mut out = Vec::new();
    for i in head {
        straight.apply(i, &mut out);
    }
    let snap = straight.snapshot();
    let mut restored = Engine::restore(&w.config, &snap).expect("restore");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in tail {
        straight.apply(i, &mut a);
        restored.apply(i, &mut b);
    }
    assert_eq!(a, b);
    assert_eq!(straight.snapshot(), restored.snapshot());
}

/// A snapshot written slowly, resting between slices so routing keeps the cores, is the
/// same snapshot; told to hurry, it stops resting.
#[test]
fn a_paced_snapshot_is_the_same_snapshot_and_hurries_when_told() {
    use router_core::snapshot::Pace;
    use std::time::{Duration, Instant};

    let w = generate(&WorkloadSpec::standard(200, 20_000, 5));
    let mut e = Engine::new(&w.config).expect("engine");
    let mut out = Vec::new();
    for i in &w.inputs {
        e.apply(i, &mut out);
    }
    let full = e.snapshot();
    // Rest 2 ms at every look at the clock: thousands of remembered ids make several.
    let slow = Pace::new(Duration::ZERO, Duration::from_millis(2));
    let t0 = Instant::now();
    assert_eq!(e.snapshot_job().encode_paced(&slow), full);
    let rested = t0.elapsed();
    assert!(rested >= Duration::from_millis(4), "it rested: {rested:?}");
    let hurried = Pace::new(Duration::ZERO, Duration::from_secs(3600));
    hurried.hurry();
    assert_eq!(e.snapshot_job().encode_paced(&hurried), full);
}

/// A snapshot written into the last one's buffer is the same snapshot, in the same
/// memory when the buffer has room; a buffer without room is left for a new one.
#[test]
fn a_snapshot_written_into_the_last_ones_buffer_reuses_its_memory() {
    use router_core::snapshot::Pace;

    let w = generate(&WorkloadSpec::standard(200, 20_000, 5));
    let mut e = Engine::new(&w.config).expect("engine");
    let mut out = Vec::new();
    let (first, second) = w.inputs.split_at(w.inputs.len() * 9 / 10);
    for i in first {
        e.apply(i, &mut out);
    }
    let last = e
        .snapshot_job()
        .encode_paced_into(&Pace::full(), Vec::new());
    let (at, room) = (last.as_ptr(), last.capacity());
    for i in second {
        e.apply(i, &mut out);
    }
    let full = e.snapshot();
    let again = e.snapshot_job().encode_paced_into(&Pace::full(), last);
    assert_eq!(again, full);
    assert_eq!(
        (again.as_ptr(), again.capacity()),
        (at, room),
        "the same block"
    );
    let small = Vec::with_capacity(16);
    assert_eq!(
        e.snapshot_job().encode_paced_into(&Pace::full(), small),
        full
    );
}

#[test]
fn the_same_log_gives_the_same_bytes() {
    let w = generate(&WorkloadSpec::standard(100, 3_000, 3));
    let bytes = w.inputs_msgpack();
    let one = Engine::new(&w.config)
        .expect("engine")
        .apply_batch_msgpack(&bytes);
    let two = Engine::new(&w.config)
        .expect("engine")
        .apply_batch_msgpack(&bytes);
    assert_eq!(one, two);
}

/// The acceptance that makes an agent a customer's last is written to the continuity
/// memory only at the next input; a snapshot taken in between must still hold it.
#[test]
fn a_returning_caller_waits_for_the_agent_who_took_their_last_call_across_a_restart() {
    let config = Config::from_json(&CONFIG.replace(
        r#""skills": {"billing": 5}}"#,
        r#""skills": {"billing": 5}, "continuity_seconds": 60}"#,
    ))
    .expect("config");
    let mut straight = Engine::new(&config).expect("engine");
    let call = |id: &str, contact: &str, ts: i64| {
        format!(
            r#"{{"type":"contact_arrived","id":"{id}","ts":{ts},"tenant":"energia","contact":"{contact}","queue":"billing","channel":"voice","customer":"cust-7"}}"#
        )
    };
    let mut first = Vec::new();
    for line in [
        r#"{"type":"agent_logged_in","id":"e1","ts":1000,"agent":"aino"}"#.to_string(),
        r#"{"type":"agent_logged_in","id":"e2","ts":1500,"agent":"sven"}"#.to_string(),
        call("e3", "c1", 2_000),
        r#"{"type":"offer_accepted","id":"e4","ts":3000,"tenant":"energia","contact":"c1","agent":"aino"}"#.to_string(),
    ] {
        first = apply(&mut straight, &line);
    }
    assert!(matches!(first[0].body, Body::ContactAssigned { .. }));
    let mut restored = Engine::restore(&config, &straight.snapshot()).expect("restore");
    for e in [&mut straight, &mut restored] {
        // Aino is on the first call; Sven is free, but the customer is kept for Aino.
        let ds = apply(e, &call("e5", "c2", 10_000));
        assert_eq!(offered_to(&ds), None, "{ds:?}");
        let ds = apply(
            e,
            r#"{"type":"contact_completed","id":"e6","ts":20000,"tenant":"energia","contact":"c1","agent":"aino"}"#,
        );
        assert_eq!(offered_to(&ds).as_deref(), Some("aino"), "{ds:?}");
        let reason = ds.iter().find_map(|d| match &d.body {
            Body::OfferMade { reason, .. } => Some(reason.strategy),
            _ => None,
        });
        assert_eq!(reason, Some("continuity"));
    }
    assert_eq!(straight.snapshot(), restored.snapshot());
}
