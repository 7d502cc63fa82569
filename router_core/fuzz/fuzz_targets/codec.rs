//! libFuzzer target: any bytes through the engine's byte entry points. The first byte picks
//! the entry point (JSON input, MessagePack input, MessagePack batch, snapshot restore);
//! the rest is the payload. The engine must never crash (a panic or a stack overflow
//! aborts and libFuzzer keeps the input), and a rejection always names its reason.

#![no_main]

use libfuzzer_sys::fuzz_target;
use router_core::{Config, Decision, Engine};

const CONFIG: &str = r#"{
    "tenants": [{"id": "energia"}],
    "queues": [{"id": "energia.service", "tenant": "energia", "channels": ["voice", "email"]}],
    "agents": [{"id": "aino", "capacity": {"voice": 1, "email": 2}}]
}"#;

fn check(decisions: &[Decision]) {
    for d in decisions {
        let v = serde_json::to_value(d).expect("decisions serialize");
        if v["type"] == "input_rejected" {
            assert!(!v["code"].as_str().unwrap_or("").is_empty(), "{v}");
            let message = v["message"].as_str().unwrap_or("");
            assert!(!message.is_empty() && message.len() <= 1024, "{v}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    let config = Config::from_json(CONFIG).expect("config");
    let mut engine = Engine::new(&config).expect("engine");
    let mut out = Vec::new();
    match which % 4 {
        0 => {
            engine.apply_json(payload, &mut out);
            check(&out);
        }
        1 => {
            engine.apply_msgpack(payload, &mut out);
            check(&out);
        }
        2 => {
            // One array of decisions per input, or one holding the batch's rejection.
            let answer = engine.apply_batch_msgpack(payload);
            let arrays: Vec<Vec<serde_json::Value>> =
                rmp_serde::from_slice(&answer).expect("the answer is an array of arrays");
            for d in arrays.iter().flatten() {
                if d["type"] == "input_rejected" {
                    assert!(!d["message"].as_str().unwrap_or("").is_empty(), "{d}");
                }
            }
        }
        _ => {
            let _ = Engine::restore(&config, payload);
        }
    }
});
