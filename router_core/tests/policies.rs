//! Queue policies on the core alone, in the domain's words: service hours, emergencies,
//! callbacks, caps and fair shares (docs/routing.md, 4b).

use router_core::events::Body;
use router_core::{Config, Decision, Engine};

/// A Finnish energy company's billing line, open weekdays 8-16 in Helsinki, closed on
/// Finnish holidays; a Swedish shop shares the agent Aino.
const CONFIG: &str = r#"{
  "routing": {"offer_timeout_seconds": 20, "decline_cooldown_seconds": 0},
  "tenants": [
    {"id": "energia", "timezone": "Europe/Helsinki", "holidays": "FI"},
    {"id": "shop", "timezone": "Europe/Stockholm", "fair_share_percent": 40}
  ],
  "queues": [
    {"id": "billing", "tenant": "energia", "channels": ["voice", "callback"],
     "announcement": "closed-fi",
     "hours": {"mon": ["08:00-16:00"], "tue": ["08:00-16:00"], "wed": ["08:00-16:00"],
               "thu": ["08:00-16:00"], "fri": ["08:00-16:00"], "outside": "close",
               "at_closing": "serve"},
     "callback_attempts": 2, "callback_retry_seconds": 600},
    {"id": "billing.capped", "tenant": "energia", "channels": ["voice", "callback"],
     "max_waiting": 1, "when_full": "callback"},
    {"id": "shop.chat", "tenant": "shop", "channels": ["chat"]},
    {"id": "energia.chat", "tenant": "energia", "channels": ["chat"], "priority": 100}
  ],
  "agents": [
    {"id": "aino", "capacity": {"voice": 1, "callback": 1, "chat": 1}}
  ]
}"#;

// Local times in Helsinki (UTC+2 in November), as UTC milliseconds.
const FRI_0900: i64 = 1_795_762_800_000;
const FRI_1555: i64 = 1_795_787_700_000;
const FRI_1605: i64 = 1_795_788_300_000;
const MON_0759: i64 = 1_796_018_340_000;
const MON_0800: i64 = 1_796_018_400_000;
const MIDSUMMER_EVE_1000: i64 = 1_781_852_400_000;

fn engine() -> Engine {
    Engine::new(&Config::from_json(CONFIG).expect("config")).expect("engine")
}

fn apply(e: &mut Engine, line: &str) -> Vec<Decision> {
    let mut out = Vec::new();
    e.apply_json(line.as_bytes(), &mut out);
    out
}

fn tick(e: &mut Engine, id: &str, ts: i64) -> Vec<Decision> {
    apply(
        e,
        &format!(r#"{{"type":"clock_tick","id":"{id}","ts":{ts}}}"#),
    )
}

fn call(e: &mut Engine, id: &str, contact: &str, queue: &str, ts: i64) -> Vec<Decision> {
    apply(
        e,
        &format!(
            r#"{{"type":"contact_arrived","id":"{id}","ts":{ts},"tenant":"energia","contact":"{contact}","queue":"{queue}","channel":"voice"}}"#
        ),
    )
}

fn types(ds: &[Decision]) -> Vec<&'static str> {
    ds.iter().map(|d| d.body.tag()).collect()
}

#[test]
fn a_caller_after_friday_closing_hears_the_closed_announcement() {
    let mut e = engine();
    // The first input fixes the starting state silently: open on Friday morning.
    assert!(tick(&mut e, "t0", FRI_0900).is_empty());
    let ds = tick(&mut e, "t1", FRI_1555);
    assert!(ds.is_empty());
    let ds = call(&mut e, "c1", "late-caller", "billing", FRI_1605);
    assert_eq!(types(&ds), ["queue_status", "contact_closed"]);
    match &ds[0].body {
        Body::QueueStatus { open, reason, .. } => {
            assert!(!open);
            assert_eq!(*reason, "schedule");
        }
        other => panic!("{other:?}"),
    }
    // The closing happened at 16:00 sharp, not when the caller came.
    assert_eq!(ds[0].head.ts, FRI_1555 + 5 * 60_000);
    match &ds[1].body {
        Body::ContactClosed {
            outcome,
            reason,
            announcement,
            ..
        } => {
            assert_eq!(*outcome, "closed");
            assert_eq!(*reason, Some("outside_hours"));
            assert_eq!(announcement.as_deref(), Some("closed-fi"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_callback_asked_before_closing_is_dialled_monday_morning_not_after_hours() {
    let mut e = engine();
    tick(&mut e, "t0", FRI_0900);
    let ds = call(&mut e, "c1", "anna", "billing", FRI_1555);
    assert_eq!(types(&ds), ["contact_queued"], "nobody is logged in");
    let ds = apply(
        &mut e,
        &format!(
            r#"{{"type":"callback_requested","id":"r1","ts":{},"tenant":"energia","contact":"anna"}}"#,
            FRI_1555 + 1000
        ),
    );
    assert_eq!(types(&ds), ["callback_scheduled"]);
    // Aino logs in after closing: the callback is parked, not offered.
    let ds = apply(
        &mut e,
        &format!(r#"{{"type":"agent_logged_in","id":"l1","ts":{FRI_1605},"agent":"aino"}}"#),
    );
    assert_eq!(types(&ds), ["queue_status", "agent_state_set"]);
    assert_eq!(e.waiting_count(), 1, "the callback keeps its place in line");
    assert!(tick(&mut e, "t1", MON_0759).is_empty());
    let ds = tick(&mut e, "t2", MON_0800);
    assert_eq!(types(&ds), ["queue_status", "offer_made"]);
    assert_eq!(ds[1].head.ts, MON_0800);
    match &ds[1].body {
        Body::OfferMade { channel, agent, .. } => {
            assert_eq!(channel.as_str(), "callback");
            assert_eq!(&**agent, "aino");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unanswered_callback_is_retried_then_given_up() {
    let mut e = engine();
    tick(&mut e, "t0", FRI_0900);
    apply(
        &mut e,
        &format!(r#"{{"type":"agent_logged_in","id":"l1","ts":{FRI_0900},"agent":"aino"}}"#),
    );
    call(&mut e, "c1", "anna", "billing", FRI_0900 + 1000);
    let ev = |kind: &str, id: &str, ts: i64, extra: &str| {
        format!(
            r#"{{"type":"{kind}","id":"{id}","ts":{ts},"tenant":"energia","contact":"anna"{extra}}}"#
        )
    };
    let ds = apply(&mut e, &ev("callback_requested", "r1", FRI_0900 + 2000, ""));
    assert_eq!(
        types(&ds),
        ["offer_revoked", "callback_scheduled", "offer_made"]
    );
    apply(
        &mut e,
        &ev(
            "offer_accepted",
            "a1",
            FRI_0900 + 3000,
            r#","agent":"aino""#,
        ),
    );
    let ds = apply(
        &mut e,
        &ev(
            "callback_result",
            "x1",
            FRI_0900 + 60_000,
            r#","agent":"aino","outcome":"no_answer""#,
        ),
    );
    assert_eq!(types(&ds), ["callback_attempted", "callback_scheduled"]);
    // Ten minutes later the retry is offered again.
    let ds = tick(&mut e, "t1", FRI_0900 + 60_000 + 600_000);
    assert_eq!(types(&ds), ["offer_made"]);
    apply(
        &mut e,
        &ev(
            "offer_accepted",
            "a2",
            FRI_0900 + 661_000,
            r#","agent":"aino""#,
        ),
    );
    let ds = apply(
        &mut e,
        &ev(
            "callback_result",
            "x2",
            FRI_0900 + 700_000,
            r#","agent":"aino","outcome":"busy""#,
        ),
    );
    assert_eq!(types(&ds), ["callback_attempted", "contact_closed"]);
    match &ds[1].body {
        Body::ContactClosed { outcome, .. } => assert_eq!(*outcome, "callback_unreached"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_billing_line_is_closed_on_midsummer_eve() {
    let mut e = engine();
    tick(&mut e, "t0", MIDSUMMER_EVE_1000 - 86_400_000);
    let ds = tick(&mut e, "t1", MIDSUMMER_EVE_1000);
    // Thursday closed at 16:00; Friday (Midsummer Eve) never opened.
    assert_eq!(types(&ds), ["queue_status"]);
    let ds = call(&mut e, "c1", "late", "billing", MIDSUMMER_EVE_1000 + 1);
    assert_eq!(types(&ds), ["contact_closed"]);
}

#[test]
fn an_emergency_closes_the_line_at_once_and_ends_as_ordered() {
    let mut e = engine();
    tick(&mut e, "t0", FRI_0900);
    let ds = apply(
        &mut e,
        &format!(
            r#"{{"type":"queue_emergency","id":"x1","ts":{},"tenant":"energia","queue":"billing","mode":"close","announcement":"outage"}}"#,
            FRI_0900 + 1000
        ),
    );
    assert_eq!(types(&ds), ["queue_status"]);
    let ds = call(&mut e, "c1", "during-outage", "billing", FRI_0900 + 2000);
    match &ds[0].body {
        Body::ContactClosed {
            reason,
            announcement,
            ..
        } => {
            assert_eq!(*reason, Some("emergency"));
            assert_eq!(announcement.as_deref(), Some("outage"));
        }
        other => panic!("{other:?}"),
    }
    let ds = apply(
        &mut e,
        &format!(
            r#"{{"type":"queue_emergency","id":"x2","ts":{},"tenant":"energia","queue":"billing","mode":"off"}}"#,
            FRI_0900 + 3000
        ),
    );
    assert_eq!(types(&ds), ["queue_status"]);
    let ds = call(&mut e, "c2", "after", "billing", FRI_0900 + 4000);
    assert_eq!(types(&ds), ["contact_queued"]);
}

#[test]
fn a_full_queue_turns_the_next_caller_into_a_callback() {
    let mut e = engine();
    tick(&mut e, "t0", FRI_0900);
    assert_eq!(
        types(&call(&mut e, "c1", "first", "billing.capped", FRI_0900 + 1)),
        ["contact_queued"]
    );
    let ds = call(&mut e, "c2", "second", "billing.capped", FRI_0900 + 2);
    assert_eq!(types(&ds), ["callback_scheduled"]);
    match &ds[0].body {
        Body::CallbackScheduled { reason, .. } => assert_eq!(*reason, "queue_full"),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.waiting_count(), 2);
}

#[test]
fn a_shared_agent_gives_the_small_client_its_share() {
    let mut e = engine();
    tick(&mut e, "t0", FRI_0900);
    let chat = |tenant: &str, queue: &str, contact: &str, id: &str, ts: i64| {
        format!(
            r#"{{"type":"contact_arrived","id":"{id}","ts":{ts},"tenant":"{tenant}","contact":"{contact}","queue":"{queue}","channel":"chat"}}"#
        )
    };
    // Energia's chats outrank the shop's by queue priority; the shop has a 40 % share.
    for i in 0..3 {
        apply(
            &mut e,
            &chat(
                "energia",
                "energia.chat",
                &format!("e{i}"),
                &format!("ae{i}"),
                FRI_0900 + i,
            ),
        );
        apply(
            &mut e,
            &chat(
                "shop",
                "shop.chat",
                &format!("s{i}"),
                &format!("as{i}"),
                FRI_0900 + 10 + i,
            ),
        );
    }
    let mut served = Vec::new();
    let mut ts = FRI_0900 + 100;
    let ds = apply(
        &mut e,
        &format!(r#"{{"type":"agent_logged_in","id":"l1","ts":{ts},"agent":"aino"}}"#),
    );
    let mut next = ds.iter().find_map(|d| match &d.body {
        Body::OfferMade {
            contact, tenant, ..
        } => Some((tenant.to_string(), contact.to_string())),
        _ => None,
    });
    while let Some((tenant, contact)) = next.take() {
        served.push(tenant.clone());
        ts += 1000;
        let accept = format!(
            r#"{{"type":"offer_accepted","id":"acc-{contact}","ts":{ts},"tenant":"{tenant}","contact":"{contact}","agent":"aino"}}"#
        );
        apply(&mut e, &accept);
        ts += 1000;
        let done = format!(
            r#"{{"type":"contact_completed","id":"done-{contact}","ts":{ts},"tenant":"{tenant}","contact":"{contact}","agent":"aino"}}"#
        );
        next = apply(&mut e, &done).iter().find_map(|d| match &d.body {
            Body::OfferMade {
                contact, tenant, ..
            } => Some((tenant.to_string(), contact.to_string())),
            _ => None,
        });
    }
    // Without the share the shop would wait for all three energia chats.
    assert_eq!(
        served,
        ["energia", "shop", "energia", "shop", "energia", "shop"]
    );
}
