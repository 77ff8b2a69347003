//! [`Encoded`]: a value in its stored form, passed through every codec verbatim.

use serde::de::{self, Visitor};
use serde::ser::{self, Impossible, Serialize};

use std::fmt;

use super::raw_text::{RawDeserializer, RawSerializer};
use super::CodecError;

/// A value in its stored form: the object's bytes exactly as the dictionary's codec wrote
/// them, passed through every codec verbatim.
///
/// `S3Dict<Encoded>`, `MemDict<Encoded>` or a file dictionary of `Encoded` values with the
/// `bincode` codec read and write the `.bincode` objects byte for byte, as they would be for
/// the real value type; likewise for `json` (the JSON text), `text` (the text, not checked
/// to be UTF-8) and `raw`. Writing `Encoded(codec.encode(&v)?)` and reading a `V` gives
/// `v`, and writing `v` and reading `Encoded` gives `codec.encode(&v)?`. This lets tools
/// copy, export or print the values of any dictionary without knowing their type.
///
/// Only a top-level `Encoded` is verbatim: inside another value (a `Vec<Encoded>`, a struct
/// field) it is an ordinary byte string.
///
/// ```
/// # tokio_test::block_on(async {
/// use persidict::prelude::*;
/// use persidict::Encoded;
///
/// // What a `Vec<u32>` dictionary with the json codec stores, and reads back.
/// assert_eq!(Codec::Json.encode(&vec![1u32, 2])?, b"[1,2]");
/// assert_eq!(Codec::Json.decode::<Encoded>(b"[1,2]")?, Encoded(b"[1,2]".to_vec()));
/// assert_eq!(Codec::Json.decode::<Vec<u32>>(&Codec::Json.encode(&Encoded(b"[3]".to_vec()))?)?, [3]);
///
/// let d = MemDict::<Encoded>::new().with_codec(Codec::Bincode);
/// let k = Key::try_from("k")?;
/// d.put(&k, Encoded(Codec::Bincode.encode(&42u64)?)).await?;
/// assert_eq!(Codec::Bincode.decode::<u64>(d.get(&k).await?.as_bytes())?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Encoded(pub Vec<u8>);

/// The newtype name by which the codecs recognise [`Encoded`].
const ENCODED_NAME: &str = "persidict::Encoded";

impl Encoded {
    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The stored bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for Encoded {
    fn from(bytes: Vec<u8>) -> Self {
        Encoded(bytes)
    }
}

impl From<Encoded> for Vec<u8> {
    fn from(e: Encoded) -> Self {
        e.0
    }
}

impl AsRef<[u8]> for Encoded {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Serializes a byte slice with `serialize_bytes`.
struct BytesRef<'a>(&'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl Serialize for Encoded {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(ENCODED_NAME, &BytesRef(&self.0))
    }
}

impl<'de> de::Deserialize<'de> for Encoded {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(ENCODED_NAME, EncodedVisitor)
    }
}

struct EncodedVisitor;

impl<'de> Visitor<'de> for EncodedVisitor {
    type Value = Encoded;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Encoded, D::Error> {
        d.deserialize_byte_buf(self)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Encoded, E> {
        Ok(Encoded(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Encoded, E> {
        Ok(Encoded(v))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Encoded, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Ok(Encoded(bytes))
    }
}

/// Not an [`Encoded`] value: the codec encodes or decodes it normally. No message, so that
/// the check costs no allocation.
fn not_encoded<T>() -> Result<T, CodecError> {
    Err(CodecError(String::new()))
}

/// Rejects every serde method the macro lists, without a message.
macro_rules! not_encoded {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self $(, _: $arg)*) -> Result<Self::Ok, CodecError> {
            not_encoded()
        })*
    };
}

/// Gives the bytes of an [`Encoded`] value and refuses every other value at its first
/// serde call, before any of its content is visited.
pub(super) struct EncodedSerializer;

impl ser::Serializer for EncodedSerializer {
    type Ok = Vec<u8>;
    type Error = CodecError;
    type SerializeSeq = Impossible<Vec<u8>, CodecError>;
    type SerializeTuple = Impossible<Vec<u8>, CodecError>;
    type SerializeTupleStruct = Impossible<Vec<u8>, CodecError>;
    type SerializeTupleVariant = Impossible<Vec<u8>, CodecError>;
    type SerializeMap = Impossible<Vec<u8>, CodecError>;
    type SerializeStruct = Impossible<Vec<u8>, CodecError>;
    type SerializeStructVariant = Impossible<Vec<u8>, CodecError>;
    not_encoded! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Vec<u8>, CodecError> {
        not_encoded()
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Vec<u8>, CodecError> {
        if name == ENCODED_NAME {
            value.serialize(RawSerializer)
        } else {
            not_encoded()
        }
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Vec<u8>, CodecError> {
        not_encoded()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, CodecError> {
        not_encoded()
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, CodecError> {
        not_encoded()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, CodecError> {
        not_encoded()
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, CodecError> {
        not_encoded()
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, CodecError> {
        not_encoded()
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, CodecError> {
        not_encoded()
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, CodecError> {
        not_encoded()
    }
}

/// Hands the object's bytes to an [`Encoded`] value and refuses every other type at its
/// first serde call. An owned buffer is taken out of its slot only for an `Encoded` value,
/// so a refusal leaves it for the codec.
pub(super) enum EncodedDeserializer<'a> {
    /// Bytes to copy.
    Borrowed(&'a [u8]),
    /// A buffer to take over.
    Owned(&'a mut Option<Vec<u8>>),
}

impl<'de> de::Deserializer<'de> for EncodedDeserializer<'_> {
    type Error = CodecError;

    fn deserialize_any<W: Visitor<'de>>(self, _: W) -> Result<W::Value, CodecError> {
        not_encoded()
    }

    fn deserialize_newtype_struct<W: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: W,
    ) -> Result<W::Value, CodecError> {
        if name == ENCODED_NAME {
            let bytes = match self {
                EncodedDeserializer::Borrowed(bytes) => bytes.to_vec(),
                EncodedDeserializer::Owned(slot) => slot.take().unwrap_or_default(),
            };
            visitor.visit_newtype_struct(RawDeserializer(bytes))
        } else {
            not_encoded()
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
