//! The limits every input is held to before anything recursive reads it.
//!
//! Decoders recurse: serde, msgspec and a naive MessagePack walker each take a stack frame
//! per level of nesting, so a 2 KB payload nested a thousand levels deep once crashed the
//! service (a `RecursionError`) and the embedded engine (a stack overflow). The scanners
//! here are flat loops over the bytes with a fixed-size stack: they measure size, nesting,
//! string length and entries per list or map, and only a payload within every limit goes
//! on to the real decoder. Over a limit it is rejected as `malformed`, with the limit's name
//! (`input_rejected.limit`), and never read further.
//!
//! The numbers are those of `python/ccroute/limits.py` (`tests/test_limits.py` holds them
//! equal) and are documented in `docs/events.md`, section "Limits".

use std::borrow::Cow;
use std::fmt;

/// Most bytes in one encoded input (JSON or MessagePack).
pub const MAX_INPUT_BYTES: usize = 65_536;
/// Deepest nesting of lists and maps; the input's own map is level 1. A valid input needs
/// 3 (`contact_arrived.skills[i]`).
pub const MAX_DEPTH: usize = 8;
/// Most encoded bytes in one string (a key or a value; in JSON between the quotes, escapes
/// as written).
pub const MAX_STRING_BYTES: usize = 4_096;
/// Most entries in one list or map.
pub const MAX_ITEMS: usize = 1_000;
/// Most bytes of an over-long value a rejection echoes (`cause`, `message`).
pub const MAX_ECHO_BYTES: usize = 128;
/// Most bytes of a rejection's message before it is cut (it may quote a value).
pub const MAX_MESSAGE_BYTES: usize = 512;
/// The default of `routing.max_agents`: most agents an engine holds, configured and
/// created by `agent_profile_changed` together (each costs about 250 bytes of snapshot).
pub const DEFAULT_MAX_AGENTS: i64 = 100_000;
/// Deepest nesting a snapshot or configuration may have (they are the engine's own
/// bytes, but restoring must not crash on a damaged or hostile file either).
pub const MAX_STATE_DEPTH: usize = 48;

/// Bounds for one scan. The fixed stack of the scanner holds `max_depth` levels at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_string_bytes: usize,
    pub max_items: usize,
}

const STACK: usize = 64;

impl Limits {
    /// The limits of one input.
    pub const INPUT: Limits = Limits {
        max_bytes: MAX_INPUT_BYTES,
        max_depth: MAX_DEPTH,
        max_string_bytes: MAX_STRING_BYTES,
        max_items: MAX_ITEMS,
    };
    /// The limits of a snapshot or configuration: nesting only.
    pub const STATE: Limits = Limits {
        max_bytes: usize::MAX,
        max_depth: MAX_STATE_DEPTH,
        max_string_bytes: usize::MAX,
        max_items: usize::MAX,
    };

    fn depth(&self) -> usize {
        self.max_depth.min(STACK - 1)
    }
}

/// Which limit an input went over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    InputBytes,
    Depth,
    StringBytes,
    Items,
}

impl Limit {
    /// The limit's documented name, as `input_rejected.limit` and `Ccroute-Limit` give it.
    pub fn name(self) -> &'static str {
        match self {
            Limit::InputBytes => "max_input_bytes",
            Limit::Depth => "max_depth",
            Limit::StringBytes => "max_string_bytes",
            Limit::Items => "max_items",
        }
    }
}

/// Why a payload was refused before decoding: a limit (`limit`), or a MessagePack
/// structure that is not one whole value (truncated, a bad marker, bytes after it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub limit: Option<Limit>,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn over(limit: Limit, message: String) -> Violation {
    Violation {
        limit: Some(limit),
        message,
    }
}

fn broken(message: String) -> Violation {
    Violation {
        limit: None,
        message,
    }
}

fn too_large(n: usize, l: &Limits) -> Violation {
    over(
        Limit::InputBytes,
        format!(
            "the input is {n} bytes; the limit is {} (max_input_bytes)",
            l.max_bytes
        ),
    )
}

fn too_deep(at: usize, l: &Limits) -> Violation {
    over(
        Limit::Depth,
        format!(
            "the input nests deeper than {} levels at byte {at} (max_depth)",
            l.depth()
        ),
    )
}

fn too_long(n: usize, at: usize, l: &Limits) -> Violation {
    over(
        Limit::StringBytes,
        format!(
            "a string of {n} bytes at byte {at}; the limit is {} (max_string_bytes)",
            l.max_string_bytes
        ),
    )
}

fn too_many(n: usize, at: usize, l: &Limits) -> Violation {
    over(
        Limit::Items,
        format!(
            "a list or map of {n} entries at byte {at}; the limit is {} (max_items)",
            l.max_items
        ),
    )
}

/// Check a JSON payload against `l` without decoding it. Only the limits are checked:
/// what is not JSON at all is left to the decoder, which reports it with its position.
pub fn scan_json(buf: &[u8], l: &Limits) -> Result<(), Violation> {
    if buf.len() > l.max_bytes {
        return Err(too_large(buf.len(), l));
    }
    let max_depth = l.depth();
    // Commas seen in each open container: entries = commas + 1.
    let mut commas = [0usize; STACK];
    let mut depth = 0usize;
    let mut i = 0usize;
    let n = buf.len();
    while i < n {
        match buf[i] {
            b'"' => {
                let start = i + 1;
                i = start;
                while i < n && buf[i] != b'"' {
                    i += if buf[i] == b'\\' { 2 } else { 1 };
                }
                let len = i.min(n) - start;
                if len > l.max_string_bytes {
                    return Err(too_long(len, start, l));
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(too_deep(i, l));
                }
                commas[depth] = 0;
            }
            b']' | b'}' => {
                if depth == 0 {
                    return Ok(()); // unbalanced: the decoder says where
                }
                depth -= 1;
            }
            b',' if depth > 0 => {
                commas[depth] += 1;
                if commas[depth] >= l.max_items {
                    return Err(too_many(commas[depth] + 1, i, l));
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// One MessagePack marker: (header bytes, payload bytes, nested values, entries, is a
/// string/bytes/extension whose payload is data).
fn marker(buf: &[u8], pos: usize) -> Result<(usize, usize, usize, usize), Violation> {
    let be = |at: usize, n: usize| -> Result<usize, Violation> {
        if at + n > buf.len() {
            return Err(broken(format!("truncated MessagePack at byte {pos}")));
        }
        Ok(buf[at..at + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize))
    };
    let m = buf[pos];
    // (header, payload, nested values, entries)
    Ok(match m {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (1, 0, 0, 0),
        0x80..=0x8f => {
            let n = (m & 0x0f) as usize;
            (1, 0, 2 * n, n)
        }
        0x90..=0x9f => {
            let n = (m & 0x0f) as usize;
            (1, 0, n, n)
        }
        0xa0..=0xbf => (1, (m & 0x1f) as usize, 0, 0),
        0xc4 | 0xd9 => (2, be(pos + 1, 1)?, 0, 0),
        0xc5 | 0xda => (3, be(pos + 1, 2)?, 0, 0),
        0xc6 | 0xdb => (5, be(pos + 1, 4)?, 0, 0),
        0xc7 => (3, be(pos + 1, 1)?, 0, 0),
        0xc8 => (4, be(pos + 1, 2)?, 0, 0),
        0xc9 => (6, be(pos + 1, 4)?, 0, 0),
        0xca..=0xd3 => (1, [4, 8, 1, 2, 4, 8, 1, 2, 4, 8][(m - 0xca) as usize], 0, 0),
        0xd4..=0xd8 => (2, [1, 2, 4, 8, 16][(m - 0xd4) as usize], 0, 0),
        0xdc => {
            let n = be(pos + 1, 2)?;
            (3, 0, n, n)
        }
        0xdd => {
            let n = be(pos + 1, 4)?;
            (5, 0, n, n)
        }
        0xde => {
            let n = be(pos + 1, 2)?;
            (3, 0, 2 * n, n)
        }
        0xdf => {
            let n = be(pos + 1, 4)?;
            (5, 0, 2 * n, n)
        }
        0xc1 => {
            return Err(broken(format!(
                "invalid MessagePack marker 0xc1 at byte {pos}"
            )))
        }
    })
}

/// Where the MessagePack value starting at `pos` ends, in a flat loop: any nesting is
/// measured without recursion. No limits apply (a batch container holds whole inputs).
pub fn msgpack_value_end(buf: &[u8], pos: usize) -> Result<usize, Violation> {
    let mut at = pos;
    // Values still to read; each takes at least a byte, so it never exceeds the buffer.
    let mut pending: usize = 1;
    while pending > 0 {
        if at >= buf.len() {
            return Err(broken(format!("truncated MessagePack at byte {at}")));
        }
        let (head, body, nested, _) = marker(buf, at)?;
        let start = at;
        at = at
            .checked_add(head + body)
            .filter(|end| *end <= buf.len())
            .ok_or_else(|| broken(format!("truncated MessagePack at byte {start}")))?;
        if nested > buf.len() - at {
            return Err(broken(format!("truncated MessagePack at byte {start}")));
        }
        pending = pending - 1 + nested;
    }
    Ok(at)
}

/// Check that `buf` is exactly one MessagePack value within `l`, in a flat loop.
pub fn scan_msgpack(buf: &[u8], l: &Limits) -> Result<(), Violation> {
    if buf.len() > l.max_bytes {
        return Err(too_large(buf.len(), l));
    }
    let max_depth = l.depth();
    // Values still to read in each open container.
    let mut left = [0usize; STACK];
    let mut depth = 0usize;
    let mut at = 0usize;
    loop {
        if at >= buf.len() {
            return Err(broken(format!("truncated MessagePack at byte {at}")));
        }
        let start = at;
        let (head, body, nested, entries) = marker(buf, at)?;
        if body > l.max_string_bytes {
            return Err(too_long(body, start, l));
        }
        at = at
            .checked_add(head + body)
            .filter(|end| *end <= buf.len())
            .ok_or_else(|| broken(format!("truncated MessagePack at byte {start}")))?;
        if matches!(buf[start], 0x80..=0x9f | 0xdc..=0xdf) {
            if depth + 1 > max_depth {
                return Err(too_deep(start, l));
            }
            if entries > l.max_items {
                return Err(too_many(entries, start, l));
            }
            if nested > buf.len() - at {
                return Err(broken(format!("truncated MessagePack at byte {start}")));
            }
            if nested > 0 {
                depth += 1;
                left[depth] = nested;
                continue;
            }
        }
        // A value is complete: count it off its container, and each container it completes.
        loop {
            if depth == 0 {
                if at != buf.len() {
                    return Err(broken(format!(
                        "{} bytes after the input at byte {at}",
                        buf.len() - at
                    )));
                }
                return Ok(());
            }
            left[depth] -= 1;
            if left[depth] > 0 {
                break;
            }
            depth -= 1;
        }
    }
}

/// `text` if it is at most `max` bytes, else its first `max` bytes (cut at a character)
/// and how long it was: `abc…(10485760 bytes)`.
pub fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}…({} bytes)", &text[..cut], text.len()))
}

/// At most the 200 characters of an id (the schema's `Id`).
pub fn is_id_length(s: &str) -> bool {
    s.len() <= 200 || s.chars().count() <= 200
}

/// The id a rejection echoes as its `cause`: a valid id (1-200 characters) whole, an
/// over-long one cut to [`MAX_ECHO_BYTES`].
pub fn echo_id(id: &str) -> Cow<'_, str> {
    if is_id_length(id) {
        Cow::Borrowed(id)
    } else {
        bounded(id, MAX_ECHO_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(v: serde_json::Value) -> Vec<u8> {
        rmp_serde::to_vec_named(&v).unwrap()
    }

    #[test]
    fn valid_inputs_pass_in_both_encodings() {
        let v = serde_json::json!({
            "type": "contact_arrived", "id": "c1", "ts": 1, "tenant": "t", "contact": "c",
            "queue": "q", "channel": "voice", "skills": [{"skill": "s", "min": 2}],
            "attributes": {"a": "b"}, "tags": ["x", "y"], "f": 1.5, "n": -70000
        });
        assert_eq!(scan_json(v.to_string().as_bytes(), &Limits::INPUT), Ok(()));
        let b = mp(v);
        assert_eq!(scan_msgpack(&b, &Limits::INPUT), Ok(()));
        assert_eq!(msgpack_value_end(&b, 0), Ok(b.len()));
    }

    #[test]
    fn nesting_is_measured_without_recursion() {
        let deep = [&b"["[..].repeat(100_000)[..], &b"]".repeat(100_000)[..]].concat();
        let e = scan_json(&deep, &Limits::STATE).unwrap_err();
        assert_eq!(e.limit, Some(Limit::Depth));
        let deep_mp = [&[0x91u8][..].repeat(100_000)[..], &[0x90]].concat();
        assert_eq!(msgpack_value_end(&deep_mp, 0), Ok(deep_mp.len()));
        let e = scan_msgpack(&deep_mp, &Limits::STATE).unwrap_err();
        assert_eq!(e.limit, Some(Limit::Depth));
        // At the limit exactly is fine; one more level is not.
        let at = |n: usize| [&[0x91u8][..].repeat(n - 1)[..], &[0x90]].concat();
        assert_eq!(scan_msgpack(&at(MAX_DEPTH), &Limits::INPUT), Ok(()));
        assert!(scan_msgpack(&at(MAX_DEPTH + 1), &Limits::INPUT).is_err());
        let j = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(scan_json(j(MAX_DEPTH).as_bytes(), &Limits::INPUT), Ok(()));
        assert!(scan_json(j(MAX_DEPTH + 1).as_bytes(), &Limits::INPUT).is_err());
    }

    #[test]
    fn each_limit_is_named() {
        let l = Limits::INPUT;
        let long = serde_json::json!({ "id": "x".repeat(MAX_STRING_BYTES + 1) });
        assert_eq!(
            scan_json(long.to_string().as_bytes(), &l)
                .unwrap_err()
                .limit,
            Some(Limit::StringBytes)
        );
        assert_eq!(
            scan_msgpack(&mp(long), &l).unwrap_err().limit,
            Some(Limit::StringBytes)
        );
        let wide = serde_json::json!({ "tags": vec![1; MAX_ITEMS + 1] });
        assert_eq!(
            scan_json(wide.to_string().as_bytes(), &l)
                .unwrap_err()
                .limit,
            Some(Limit::Items)
        );
        assert_eq!(
            scan_msgpack(&mp(wide), &l).unwrap_err().limit,
            Some(Limit::Items)
        );
        let at_limit = serde_json::json!({ "tags": vec![1; MAX_ITEMS] });
        assert_eq!(scan_json(at_limit.to_string().as_bytes(), &l), Ok(()));
        assert_eq!(scan_msgpack(&mp(at_limit), &l), Ok(()));
        let big = vec![b' '; MAX_INPUT_BYTES + 1];
        assert_eq!(
            scan_json(&big, &l).unwrap_err().limit,
            Some(Limit::InputBytes)
        );
        assert_eq!(
            scan_msgpack(&big, &l).unwrap_err().limit,
            Some(Limit::InputBytes)
        );
    }

    #[test]
    fn msgpack_must_be_one_whole_value() {
        let b = mp(serde_json::json!({"type": "clock_tick", "id": "x", "ts": 5}));
        let junk = [&b[..], b"\xc3junk"].concat();
        let e = scan_msgpack(&junk, &Limits::INPUT).unwrap_err();
        assert_eq!(e.limit, None);
        assert!(e.message.contains("5 bytes after the input"), "{e}");
        for cut in 0..b.len() {
            assert!(scan_msgpack(&b[..cut], &Limits::INPUT).is_err());
            assert!(msgpack_value_end(&b[..cut], 0).is_err());
        }
        // A claimed length far beyond the bytes is truncation, found without looping.
        assert!(scan_msgpack(b"\xdd\xff\xff\xff\xff", &Limits::STATE).is_err());
        assert!(msgpack_value_end(b"\xdf\xff\xff\xff\xff", 0).is_err());
        assert!(scan_msgpack(b"\xc1", &Limits::INPUT).is_err());
    }

    #[test]
    fn echoes_are_bounded() {
        let id = "x".repeat(10 << 20);
        let e = echo_id(&id);
        assert!(e.len() < MAX_ECHO_BYTES + 32);
        assert!(e.ends_with("…(10485760 bytes)"));
        assert_eq!(echo_id("ok-1"), "ok-1");
        let valid = "ä".repeat(200);
        assert_eq!(echo_id(&valid), valid);
        assert_eq!(bounded("ääää", 3), "ä…(8 bytes)");
    }
}
