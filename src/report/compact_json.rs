//! Compact JSON for report.json's long lists, byte for byte what `serde_json::to_writer` writes,
//! with strings escaped a word at a time.
//!
//! At a million accounts the lists are half a gigabyte of JSON, nearly all of it string
//! characters (keys included), and `serde_json` looks at each of them on its own: that loop
//! was the largest single cost of writing the reports. This serializer writes the same text
//! but passes over eight bytes at a time while none of them needs an escape.
//!
//! It covers every shape of serde's data model but a few: numbers are written by `serde_json`
//! itself, so they cannot differ, and a map keyed by anything but text, `serde_json`'s raw
//! values and bytes are [`Unsupported`]: [`append`] then renders the whole element again with
//! `serde_json` (so a `Serialize` impl must give the same output when run twice, as every
//! derived and report impl does). The bytes are always `serde_json`'s, only the time differs.

use std::fmt::Display;

use serde::ser::{self, Serialize};

/// Append `value` to `out` as `serde_json::to_writer` would write it.
pub(super) fn append<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let start = out.len();
    match value.serialize(&mut Writer { out }) {
        Ok(()) => Ok(()),
        Err(Unsupported) => {
            out.truncate(start);
            serde_json::to_writer(&mut *out, value)
        }
    }
}

/// A shape this writer leaves to `serde_json` (or an error `serde_json` would also meet, which
/// it then reports in its own words).
#[derive(Debug)]
pub(super) struct Unsupported;

impl Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not written by the compact JSON writer")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<M: Display>(_: M) -> Self {
        Unsupported
    }
}

/// What `serde_json` writes for a byte that must be escaped: the letter after the backslash,
/// `u` for `\u00XX`, or 0 for a byte written as it is.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Whether any of the eight bytes is below 0x20, a `"` or a `\`. Each test sets a byte's high
/// bit only when that byte, or one below it that already matched, qualifies, so "any" is exact.
fn needs_escape(word: u64) -> bool {
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    let quote = has_zero(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(word ^ (ONES * u64::from(b'\\')));
    (control | quote | backslash) != 0
}

/// `text` in quotes, escaped as `serde_json` escapes it.
fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut written = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes[at..].first_chunk::<8>()
            && !needs_escape(u64::from_ne_bytes(*word))
        {
            at += 8;
            continue;
        }
        let byte = bytes[at];
        let escape = ESCAPE[usize::from(byte)];
        if escape != 0 {
            out.extend_from_slice(&bytes[written..at]);
            escaped(out, byte, escape);
            written = at + 1;
        }
        at += 1;
    }
    out.extend_from_slice(&bytes[written..]);
    out.push(b'"');
}

fn escaped(out: &mut Vec<u8>, byte: u8, escape: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if escape == b'u' {
        out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ]);
    } else {
        out.extend_from_slice(&[b'\\', escape]);
    }
}

/// A number exactly as `serde_json` writes it.
fn number<N: Serialize>(out: &mut Vec<u8>, n: N) -> Result<(), Unsupported> {
    serde_json::to_writer(out, &n).map_err(|_| Unsupported)
}

/// Text, written alike as a value and as a key.
macro_rules! text {
    () => {
        fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
            string(self.out, v);
            Ok(())
        }
        fn serialize_char(self, v: char) -> Result<(), Unsupported> {
            string(self.out, v.encode_utf8(&mut [0; 4]));
            Ok(())
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> Result<(), Unsupported> {
            string(self.out, variant);
            Ok(())
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<(), Unsupported> {
            value.serialize(self)
        }
    };
}

/// Numbers, each written by `serde_json` itself.
macro_rules! numbers {
    ($($method:ident: $kind:ty,)*) => {$(
        fn $method(self, v: $kind) -> Result<(), Unsupported> {
            number(self.out, v)
        }
    )*};
}

/// Values that are no text, and so no key here.
macro_rules! refused {
    ($($method:ident: $kind:ty,)*) => {$(
        fn $method(self, _: $kind) -> Result<(), Unsupported> {
            Err(Unsupported)
        }
    )*};
}

struct Writer<'b> {
    out: &'b mut Vec<u8>,
}

/// An array or object being written.
pub(super) struct Compound<'s, 'b> {
    writer: &'s mut Writer<'b>,
    state: State,
    /// What closes it: `]`, `}`, or `]}` / `}}` for a variant's contents.
    close: &'static [u8],
}

/// As `serde_json` keeps it: nothing written yet, something written, or closed at once
/// because it was said to have no elements.
#[derive(PartialEq, Eq)]
enum State {
    First,
    Rest,
    Empty,
}

impl<'s, 'b> Compound<'s, 'b> {
    fn open(writer: &'s mut Writer<'b>, open: &[u8], close: &'static [u8]) -> Self {
        writer.out.extend_from_slice(open);
        Compound {
            writer,
            state: State::First,
            close,
        }
    }

    /// An array or object of `len` elements. Told none, `serde_json` closes it at once; should
    /// elements come all the same, it writes each after a comma and closes again at the end.
    /// So does this.
    fn open_sized(
        writer: &'s mut Writer<'b>,
        len: Option<usize>,
        open: &[u8],
        close: &'static [u8],
    ) -> Self {
        let mut compound = Compound::open(writer, open, close);
        if len == Some(0) {
            compound.writer.out.extend_from_slice(&close[..1]);
            compound.state = State::Empty;
        }
        compound
    }

    fn comma(&mut self) {
        if self.state != State::First {
            self.writer.out.push(b',');
        }
        self.state = State::Rest;
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.comma();
        value.serialize(&mut *self.writer)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Unsupported> {
        self.comma();
        string(self.writer.out, key);
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), Unsupported> {
        // Closed at once already: what is left closes the variant around it, if any.
        let close = match self.state {
            State::Empty => &self.close[1..],
            State::First | State::Rest => self.close,
        };
        self.writer.out.extend_from_slice(close);
        Ok(())
    }
}

/// `{"variant":` before a variant's contents.
fn variant_open(out: &mut Vec<u8>, variant: &str) {
    out.push(b'{');
    string(out, variant);
    out.push(b':');
}

impl<'s, 'b> ser::Serializer for &'s mut Writer<'b> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'s, 'b>;
    type SerializeTuple = Compound<'s, 'b>;
    type SerializeTupleStruct = Compound<'s, 'b>;
    type SerializeTupleVariant = Compound<'s, 'b>;
    type SerializeMap = Compound<'s, 'b>;
    type SerializeStruct = Compound<'s, 'b>;
    type SerializeStructVariant = Compound<'s, 'b>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    numbers!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128,
        serialize_f32: f32,
        serialize_f64: f64,
    );
    text!();
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_none()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        variant_open(self.out, variant);
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'s, 'b>, Unsupported> {
        Ok(Compound::open_sized(self, len, b"[", b"]"))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'s, 'b>, Unsupported> {
        Ok(Compound::open_sized(self, Some(len), b"[", b"]"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'b>, Unsupported> {
        Ok(Compound::open_sized(self, Some(len), b"[", b"]"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'b>, Unsupported> {
        variant_open(self.out, variant);
        Ok(Compound::open_sized(self, Some(len), b"[", b"]}"))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'s, 'b>, Unsupported> {
        Ok(Compound::open_sized(self, len, b"{", b"}"))
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'b>, Unsupported> {
        // `serde_json`'s raw values and arbitrary-precision numbers are structs by these
        // private names, which its own serializer writes as their text.
        if name.starts_with("$serde_json::private::") {
            return Err(Unsupported);
        }
        Ok(Compound::open_sized(self, Some(len), b"{", b"}"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, 'b>, Unsupported> {
        variant_open(self.out, variant);
        Ok(Compound::open_sized(self, Some(len), b"{", b"}}"))
    }
}

/// The four kinds of array write their elements alike.
macro_rules! array {
    ($($kind:ident::$element:ident),*) => {$(
        impl ser::$kind for Compound<'_, '_> {
            type Ok = ();
            type Error = Unsupported;
            fn $element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.element(value)
            }
            fn end(self) -> Result<(), Unsupported> {
                self.close()
            }
        }
    )*};
}

array!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// A struct and a struct variant write their fields alike.
macro_rules! object {
    ($($kind:ident),*) => {$(
        impl ser::$kind for Compound<'_, '_> {
            type Ok = ();
            type Error = Unsupported;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Unsupported> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), Unsupported> {
                self.close()
            }
        }
    )*};
}

object!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.comma();
        key.serialize(KeyWriter {
            out: self.writer.out,
        })?;
        self.writer.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(&mut *self.writer)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

/// A map's key: text only (a string, a character, a unit variant, or a newtype around one).
/// Keys of other kinds, which `serde_json` quotes or refuses, are [`Unsupported`].
struct KeyWriter<'o> {
    out: &'o mut Vec<u8>,
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<(), Unsupported>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = ser::Impossible<(), Unsupported>;
    type SerializeStruct = ser::Impossible<(), Unsupported>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    text!();

    refused!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_f32: f32,
        serialize_f64: f64,
        serialize_bytes: &[u8],
        serialize_unit_struct: &'static str,
    );
    fn serialize_none(self) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

#[cfg(test)]
#[path = "compact_json_tests.rs"]
mod tests;
