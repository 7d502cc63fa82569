//! Bytes in, bytes out: decoding inputs (MessagePack or JSON) and encoding decisions, so
//! a whole batch crosses the Python boundary once. A payload that fails to decode becomes
//! an `input_rejected` decision; it never stops the batch. Every payload is first held to
//! the limits of [`crate::limits`] by a flat scan, so no decoder recurses on hostile bytes.

use serde::Serialize;

use crate::engine::Engine;
use crate::events::{Decision, Input, Salvage};
use crate::limits::{msgpack_value_end, scan_json, scan_msgpack, Limit, Limits};

/// Split a MessagePack array into the byte ranges of its elements (measured in a flat
/// loop: no element's nesting can exhaust the stack).
fn split_msgpack_array(buf: &[u8]) -> Result<Vec<(usize, usize)>, String> {
    let bad = |m: String| m;
    if buf.is_empty() {
        return Err(bad("empty batch".into()));
    }
    let (n, mut at) = match buf[0] {
        m @ 0x90..=0x9f => ((m & 0x0f) as usize, 1),
        0xdc if buf.len() >= 3 => (u16::from_be_bytes([buf[1], buf[2]]) as usize, 3),
        0xdd if buf.len() >= 5 => (
            u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize,
            5,
        ),
        _ => return Err(bad("a batch must be a MessagePack array of inputs".into())),
    };
    // Each input takes at least a byte: a claim past the bytes is refused before any
    // allocation is sized by it (a 5-byte batch may claim 4 billion inputs).
    if n > buf.len() - at {
        return Err(bad(format!(
            "the batch claims {n} inputs in {} bytes",
            buf.len()
        )));
    }
    let mut spans = Vec::with_capacity(n);
    for _ in 0..n {
        let end = msgpack_value_end(buf, at).map_err(|v| bad(v.message))?;
        spans.push((at, end));
        at = end;
    }
    if at != buf.len() {
        return Err(bad(format!("{} bytes after the batch", buf.len() - at)));
    }
    Ok(spans)
}

/// The decode error of a MessagePack input with the field it happened at, as msgspec
/// words it (`... - at `$.ts``). Decoding again with path tracking costs only on this,
/// the error path; the fast path stays untracked.
fn msgpack_error_with_path(payload: &[u8]) -> Option<String> {
    let mut de = rmp_serde::Deserializer::from_read_ref(payload);
    let err = serde_path_to_error::deserialize::<_, Input>(&mut de).err()?;
    let path = err.path().to_string();
    let inner = match err.inner().to_string() {
        m if m.starts_with("wrong msgpack marker ") => {
            format!(
                "Wrong type: got {}",
                marker_kind(&m["wrong msgpack marker ".len()..])
            )
        }
        m => m,
    };
    if path.is_empty() || path == "." || path == "?" {
        Some(inner)
    } else {
        Some(format!("{inner} - at `$.{path}`"))
    }
}

/// A MessagePack marker's name (`FixStr(4)`, `U8`, ...) as the value type people know.
fn marker_kind(marker: &str) -> &'static str {
    let name = marker.split('(').next().unwrap_or("");
    match name {
        "FixStr" | "Str8" | "Str16" | "Str32" => "`str`",
        "FixPos" | "FixNeg" | "U8" | "U16" | "U32" | "U64" | "I8" | "I16" | "I32" | "I64" => {
            "`int`"
        }
        "F32" | "F64" => "`float`",
        "True" | "False" => "`bool`",
        "Null" => "`null`",
        "FixArray" | "Array16" | "Array32" => "`array`",
        "FixMap" | "Map16" | "Map32" => "`object`",
        "Bin8" | "Bin16" | "Bin32" => "`bytes`",
        _ => "a value of another type",
    }
}

/// An input decoded from its payload, or what could be salvaged from one that did not
/// decode.
pub enum Decoded {
    Input(Input),
    Malformed {
        id: Option<String>,
        kind: Option<String>,
        message: String,
        /// The limit the payload went over, if that is why (it was not read then).
        limit: Option<Limit>,
    },
}

/// Decode one MessagePack input.
pub fn decode_msgpack(payload: &[u8]) -> Decoded {
    if let Err(v) = scan_msgpack(payload, &Limits::INPUT) {
        // Over a limit, the payload is not read at all. Broken structure (truncated, bytes
        // after the value) was scanned within the limits up to the break: its id and type
        // can still be read for the rejection.
        let s: Salvage = match v.limit {
            None => rmp_serde::from_slice(payload).unwrap_or_default(),
            Some(_) => Salvage::default(),
        };
        return Decoded::Malformed {
            id: s.id,
            kind: s.kind,
            message: v.message,
            limit: v.limit,
        };
    }
    match rmp_serde::from_slice::<Input>(payload) {
        Ok(input) => Decoded::Input(input),
        Err(e) => {
            let s: Salvage = rmp_serde::from_slice(payload).unwrap_or_default();
            let message = msgpack_error_with_path(payload).unwrap_or_else(|| e.to_string());
            Decoded::Malformed {
                id: s.id,
                kind: s.kind,
                message,
                limit: None,
            }
        }
    }
}

/// Decode one JSON input.
pub fn decode_json(payload: &[u8]) -> Decoded {
    if let Err(v) = scan_json(payload, &Limits::INPUT) {
        return Decoded::Malformed {
            id: None,
            kind: None,
            message: v.message,
            limit: v.limit,
        };
    }
    match serde_json::from_slice::<Input>(payload) {
        Ok(input) => Decoded::Input(input),
        Err(e) => {
            let s: Salvage = serde_json::from_slice(payload).unwrap_or_default();
            Decoded::Malformed {
                id: s.id,
                kind: s.kind,
                message: e.to_string(),
                limit: None,
            }
        }
    }
}

impl Engine {
    /// Apply one decoded input (or reject what did not decode).
    pub fn apply_decoded(&mut self, decoded: Decoded, out: &mut Vec<Decision>) {
        match decoded {
            Decoded::Input(input) => self.apply(&input, out),
            Decoded::Malformed {
                id,
                kind,
                message,
                limit,
            } => self.reject_malformed(id.as_deref(), kind.as_deref(), message, limit, out),
        }
    }

    /// Decode and apply one MessagePack input.
    pub fn apply_msgpack(&mut self, payload: &[u8], out: &mut Vec<Decision>) {
        self.apply_decoded(decode_msgpack(payload), out);
    }

    /// Decode and apply one JSON input.
    pub fn apply_json(&mut self, payload: &[u8], out: &mut Vec<Decision>) {
        self.apply_decoded(decode_json(payload), out);
    }

    /// Apply payloads in order, handing each one's decisions to `each`. Each payload is
    /// decoded one ahead of the input being applied (decoding does not depend on the
    /// engine), so that the next input's first memory access is already on its way
    /// ([`Engine::prefetch`]). The decisions are those of applying the payloads one by one.
    pub fn apply_each<'p>(
        &mut self,
        payloads: impl IntoIterator<Item = &'p [u8]>,
        decode: fn(&[u8]) -> Decoded,
        mut each: impl FnMut(&[Decision]),
    ) {
        let mut inputs = payloads.into_iter().map(decode).peekable();
        let mut decisions = Vec::new();
        while let Some(current) = inputs.next() {
            if let Some(Decoded::Input(next)) = inputs.peek() {
                self.prefetch(next);
            }
            decisions.clear();
            self.apply_decoded(current, &mut decisions);
            each(&decisions);
        }
    }

    /// Apply a MessagePack array of inputs; returns a MessagePack array holding one array
    /// of decisions per input. A batch that is not an array of whole values is one
    /// malformed input: nothing in it is applied, and the answer is one array holding its
    /// `input_rejected`.
    pub fn apply_batch_msgpack(&mut self, batch: &[u8]) -> Vec<u8> {
        let spans = match split_msgpack_array(batch) {
            Ok(spans) => spans,
            Err(why) => {
                let mut out = Vec::new();
                let message = format!("the batch is not a MessagePack array of inputs: {why}");
                self.reject_malformed(None, None, message, None, &mut out);
                let mut buf = Vec::with_capacity(256);
                write_array_len(&mut buf, 1);
                encode_msgpack_into(&mut buf, &out);
                return buf;
            }
        };
        let mut buf = Vec::with_capacity(batch.len() * 2);
        write_array_len(&mut buf, spans.len());
        let payloads = spans.iter().map(|&(a, b)| &batch[a..b]);
        self.apply_each(payloads, decode_msgpack, |decisions| {
            encode_msgpack_into(&mut buf, decisions)
        });
        buf
    }

    /// Apply JSON lines of inputs; returns JSON lines of decisions. Blank lines are skipped.
    pub fn apply_jsonl(&mut self, data: &[u8]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(data.len() * 2);
        let lines = data
            .split(|b| *b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace));
        self.apply_each(lines, decode_json, |decisions| {
            for d in decisions {
                // Writing into a Vec cannot fail, and decisions always serialize.
                let _ = serde_json::to_writer(&mut buf, d);
                buf.push(b'\n');
            }
        });
        buf
    }
}

fn write_array_len(buf: &mut Vec<u8>, n: usize) {
    // Writing into a Vec cannot fail.
    let _ = rmp::encode::write_array_len(buf, n as u32);
}

/// Append a MessagePack array of decisions (maps with field names) to `buf`.
pub fn encode_msgpack_into(buf: &mut Vec<u8>, decisions: &[Decision]) {
    write_array_len(buf, decisions.len());
    for d in decisions {
        let mut ser = rmp_serde::Serializer::new(&mut *buf).with_struct_map();
        let _ = d.serialize(&mut ser);
    }
}

/// A JSON array of decisions.
pub fn encode_json(decisions: &[Decision]) -> Vec<u8> {
    serde_json::to_vec(decisions).unwrap_or_else(|_| b"[]".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_lengths_cover_nested_values() {
        let v = rmp_serde::to_vec_named(&serde_json::json!({
            "a": [1, 2, {"b": "xyz"}], "c": null, "ts": 1_767_600_000_000i64, "n": -70000,
            "f": 1.5, "u8": 200, "u16": 60000, "i8": -100, "s": "x".repeat(300)
        }))
        .unwrap();
        assert_eq!(msgpack_value_end(&v, 0).unwrap(), v.len());
        let arr = rmp_serde::to_vec(&vec![1u8, 2, 3]).unwrap();
        assert_eq!(split_msgpack_array(&arr).unwrap().len(), 3);
        assert!(split_msgpack_array(&v).is_err());
        assert!(msgpack_value_end(&v[..v.len() - 1], 0).is_err());
        assert!(split_msgpack_array(&[&arr[..], b"junk"].concat()).is_err());
        // Found by libFuzzer: a claim of 2.2 billion inputs once sized a 34 GB allocation.
        assert!(split_msgpack_array(b"\xdd\x81\xbc\x06\x00").is_err());
    }
}
