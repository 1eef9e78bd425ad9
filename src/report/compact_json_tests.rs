use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::Serialize;

use super::*;

fn compact<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = b"before".to_vec();
    append(value, &mut out).unwrap();
    out.split_off(b"before".len())
}

fn by_serde<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// Whether `value` took the fast path, not the fallback.
fn written_fast<T: Serialize + ?Sized>(value: &T) -> bool {
    value
        .serialize(&mut Writer {
            out: &mut Vec::new(),
        })
        .is_ok()
}

#[test]
fn every_byte_in_every_place_of_a_word_is_escaped_as_serde_escapes_it() {
    for byte in 0u8..=0x7f {
        for place in 0..8 {
            let mut word = [b'a'; 8];
            word[place] = byte;
            assert_eq!(
                needs_escape(u64::from_ne_bytes(word)),
                ESCAPE[usize::from(byte)] != 0,
                "byte {byte:#04x} at {place}"
            );
            let text = String::from_utf8(word.to_vec()).unwrap();
            for surround in ["", "x", "longer than one word of eight bytes"] {
                let s = format!("{surround}{text}{surround}{text}");
                assert_eq!(compact(&s), by_serde(&s), "{s:?}");
            }
        }
    }
}

proptest! {
    #[test]
    fn any_word_needs_escape_exactly_when_one_of_its_bytes_does(word: [u8; 8]) {
        let expected = word.iter().any(|&b| ESCAPE[usize::from(b)] != 0);
        prop_assert_eq!(needs_escape(u64::from_ne_bytes(word)), expected);
    }

    #[test]
    fn any_string_is_written_as_serde_writes_it(s in any_text()) {
        prop_assert_eq!(compact(&s), by_serde(&s));
    }

    #[test]
    fn mostly_plain_text_with_escapes_is_written_as_serde_writes_it(
        s in "([a-z@. ]{0,20}[\"\\\\\u{0}-\u{1f}\u{7f}é€😀]?){0,6}"
    ) {
        prop_assert_eq!(compact(&s), by_serde(&s));
    }

    #[test]
    fn any_json_value_is_written_as_serde_writes_it(value in json_value()) {
        prop_assert_eq!(compact(&value), by_serde(&value));
    }
}

/// Any text, control characters included (`any::<String>()` leaves them out).
fn any_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..48).prop_map(String::from_iter)
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any_text(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The report's own lists, every field and variant set somewhere: the sample report's
/// findings (suppressed, changed, whole-scope) and accounts.
#[test]
fn the_reports_findings_and_accounts_are_written_as_serde_writes_them() {
    let report = crate::deliver::sample::report();
    assert!(!report.findings.is_empty() && report.accounts.iter().next().is_some());
    for finding in &report.findings {
        assert!(written_fast(finding));
        assert_eq!(compact(finding), by_serde(finding));
    }
    for account in report.accounts.iter() {
        assert!(written_fast(account));
        assert_eq!(compact(account), by_serde(account));
    }
}

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Newtype(u32);

#[derive(Serialize)]
struct Pair(i8, Option<&'static str>);

#[derive(Serialize)]
enum Shapes {
    Unit,
    Newtype(f32),
    Tuple(u128, char),
    Struct { a: i128, b: Vec<bool> },
}

#[derive(Serialize)]
struct Everything {
    unit: Unit,
    unit_value: (),
    newtype: Newtype,
    pair: Pair,
    tuple: (u8, u16, i16, i32),
    shapes: Vec<Shapes>,
    floats: [f64; 5],
    empty: Vec<u8>,
    empty_map: BTreeMap<String, u8>,
    keys: BTreeMap<char, Shapes>,
    variant_keys: BTreeMap<Key, u8>,
    nothing: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<u8>,
    #[serde(flatten)]
    flat: BTreeMap<String, String>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    First,
    Second,
}

#[test]
fn every_shape_the_writer_takes_is_written_as_serde_writes_it() {
    let value = Everything {
        unit: Unit,
        unit_value: (),
        newtype: Newtype(7),
        pair: Pair(-3, Some("\"quoted\"")),
        tuple: (255, 65535, -32768, i32::MIN),
        shapes: vec![
            Shapes::Unit,
            Shapes::Newtype(1.5e-7),
            Shapes::Tuple(u128::MAX, '\u{1}'),
            Shapes::Struct {
                a: i128::MIN,
                b: vec![true, false],
            },
        ],
        floats: [0.1, -0.0, 1e300, f64::NAN, f64::INFINITY],
        empty: Vec::new(),
        empty_map: BTreeMap::new(),
        keys: BTreeMap::from([('"', Shapes::Unit), ('é', Shapes::Newtype(f32::NAN))]),
        variant_keys: BTreeMap::from([(Key::First, 1), (Key::Second, 2)]),
        nothing: None,
        skipped: None,
        flat: BTreeMap::from([("k\n".into(), "v\\".into())]),
    };
    assert!(written_fast(&value));
    assert_eq!(compact(&value), by_serde(&value));
}

/// What the writer leaves to `serde_json` still comes out as `serde_json` writes it, and what
/// came before it in the buffer is kept.
#[test]
fn the_shapes_left_to_serde_come_out_as_serde_writes_them() {
    let raw = serde_json::value::RawValue::from_string(r#"{"raw" : [1, 2]}"#.into()).unwrap();
    let numbered: BTreeMap<u32, &str> = BTreeMap::from([(1, "one"), (20, "twenty")]);
    let bytes = serde_bytes_like();
    assert!(!written_fast(&raw));
    assert!(!written_fast(&numbered));
    assert!(!written_fast(&bytes));
    assert_eq!(compact(&raw), by_serde(&raw));
    assert_eq!(compact(&numbered), by_serde(&numbered));
    assert_eq!(compact(&bytes), by_serde(&bytes));
    // Nested inside a value that starts on the fast path.
    let nested = (vec!["a"], &raw, BTreeMap::from([(true, 1)]));
    assert_eq!(compact(&nested), by_serde(&nested));
}

/// A value that serialises as bytes.
fn serde_bytes_like() -> impl Serialize {
    struct Bytes;
    impl Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&[0, 1, 255])
        }
    }
    Bytes
}

/// An error `serde_json` meets is reported as `serde_json` reports it.
#[test]
fn an_error_is_serde_jsons_own() {
    let map: BTreeMap<Vec<u8>, u8> = BTreeMap::from([(vec![1], 1)]);
    let mut out = Vec::new();
    let err = append(&map, &mut out).unwrap_err();
    assert_eq!(
        err.to_string(),
        serde_json::to_vec(&map).unwrap_err().to_string()
    );
}

/// A `Serialize` that says it has no elements and then writes some: `serde_json` closes the
/// array or object at once and writes them after it, with a comma; so does this writer.
#[test]
fn lengths_of_none_are_written_as_serde_writes_them() {
    use serde::ser::{SerializeMap, SerializeSeq, SerializeStructVariant, SerializeTupleVariant};
    struct Liar;
    impl Serialize for Liar {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(0))?;
            map.serialize_entry("k", &1)?;
            map.serialize_entry("seq", &LiarSeq)?;
            map.serialize_entry("struct", &LiarStructVariant)?;
            map.serialize_entry("tuple", &LiarTupleVariant)?;
            map.end()
        }
    }
    struct LiarSeq;
    impl Serialize for LiarSeq {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(0))?;
            seq.serialize_element("a")?;
            seq.end()
        }
    }
    struct LiarStructVariant;
    impl Serialize for LiarStructVariant {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut v = s.serialize_struct_variant("E", 0, "V", 0)?;
            v.serialize_field("f", &true)?;
            v.end()
        }
    }
    struct LiarTupleVariant;
    impl Serialize for LiarTupleVariant {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut v = s.serialize_tuple_variant("E", 1, "T", 0)?;
            v.serialize_field(&2)?;
            v.end()
        }
    }
    assert!(written_fast(&Liar));
    assert_eq!(compact(&Liar), by_serde(&Liar));
}
