//! The serializers and deserializers of the `raw` and `text` codecs: a value's bytes or
//! text exactly as they are, and a typed error naming what else was given.

use serde::de::{self, IntoDeserializer, Visitor};
use serde::ser::{self, Impossible, Serialize};

use super::CodecError;

fn wrong_kind<T>(codec: &str, wants: &str, found: &str) -> Result<T, CodecError> {
    Err(CodecError(format!(
        "the {codec} codec stores only {wants}, this value is {found}"
    )))
}

/// Rejects every serde method but the ones a macro lists, naming what it found.
macro_rules! reject {
    ($codec:literal, $wants:literal; $($method:ident($($arg:ty),*) $found:literal;)*) => {
        $(fn $method(self $(, _: $arg)*) -> Result<Self::Ok, CodecError> {
            wrong_kind($codec, $wants, $found)
        })*
    };
}

/// The common rejections for serializers that accept one kind of value.
macro_rules! reject_common {
    ($codec:literal, $wants:literal) => {
        type SerializeTuple = Impossible<Self::Ok, CodecError>;
        type SerializeTupleStruct = Impossible<Self::Ok, CodecError>;
        type SerializeTupleVariant = Impossible<Self::Ok, CodecError>;
        type SerializeMap = Impossible<Self::Ok, CodecError>;
        type SerializeStruct = Impossible<Self::Ok, CodecError>;
        type SerializeStructVariant = Impossible<Self::Ok, CodecError>;
        reject! { $codec, $wants;
            serialize_bool(bool) "a bool";
            serialize_i8(i8) "an integer";
            serialize_i16(i16) "an integer";
            serialize_i32(i32) "an integer";
            serialize_i64(i64) "an integer";
            serialize_u16(u16) "an integer";
            serialize_u32(u32) "an integer";
            serialize_u64(u64) "an integer";
            serialize_f32(f32) "a float";
            serialize_f64(f64) "a float";
            serialize_none() "an option";
            serialize_unit() "a unit";
            serialize_unit_struct(&'static str) "a unit struct";
            serialize_unit_variant(&'static str, u32, &'static str) "an enum";
        }
        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Self::Ok, CodecError> {
            wrong_kind($codec, $wants, "an option")
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<Self::Ok, CodecError> {
            wrong_kind($codec, $wants, "an enum")
        }
        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, CodecError> {
            wrong_kind($codec, $wants, "a tuple")
        }
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, CodecError> {
            wrong_kind($codec, $wants, "a tuple struct")
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, CodecError> {
            wrong_kind($codec, $wants, "an enum")
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, CodecError> {
            wrong_kind($codec, $wants, "a map")
        }
        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, CodecError> {
            wrong_kind($codec, $wants, "a struct")
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, CodecError> {
            wrong_kind($codec, $wants, "an enum")
        }
    };
}

/// Serializes byte values (`serialize_bytes`, or a sequence of `u8`) to their bytes.
pub(super) struct RawSerializer;

impl ser::Serializer for RawSerializer {
    type Ok = Vec<u8>;
    type Error = CodecError;
    type SerializeSeq = RawSeq;
    reject_common!("raw", "bytes");
    reject! { "raw", "bytes";
        serialize_u8(u8) "an integer";
        serialize_char(char) "a char";
        serialize_str(&str) "a string";
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Vec<u8>, CodecError> {
        Ok(v.to_vec())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Vec<u8>, CodecError> {
        value.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<RawSeq, CodecError> {
        Ok(RawSeq(Vec::with_capacity(len.unwrap_or(0))))
    }
}

/// Collects a sequence whose elements are all `u8`.
pub(super) struct RawSeq(Vec<u8>);

impl ser::SerializeSeq for RawSeq {
    type Ok = Vec<u8>;
    type Error = CodecError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        self.0.push(value.serialize(ByteSerializer)?);
        Ok(())
    }

    fn end(self) -> Result<Vec<u8>, CodecError> {
        Ok(self.0)
    }
}

/// Accepts exactly one `u8`.
pub(super) struct ByteSerializer;

impl ser::Serializer for ByteSerializer {
    type Ok = u8;
    type Error = CodecError;
    type SerializeSeq = Impossible<u8, CodecError>;
    reject_common!("raw", "bytes");
    reject! { "raw", "bytes";
        serialize_char(char) "a sequence of chars";
        serialize_str(&str) "a sequence of strings";
        serialize_bytes(&[u8]) "nested bytes";
    }

    fn serialize_u8(self, v: u8) -> Result<u8, CodecError> {
        Ok(v)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<u8, CodecError> {
        value.serialize(self)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, CodecError> {
        wrong_kind("raw", "bytes", "a nested sequence")
    }
}

/// Serializes string values to their text.
pub(super) struct TextSerializer;

impl ser::Serializer for TextSerializer {
    type Ok = String;
    type Error = CodecError;
    type SerializeSeq = Impossible<String, CodecError>;
    reject_common!("text", "strings");
    reject! { "text", "strings";
        serialize_u8(u8) "an integer";
        serialize_bytes(&[u8]) "bytes";
    }

    fn serialize_char(self, v: char) -> Result<String, CodecError> {
        Ok(v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<String, CodecError> {
        Ok(v.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, CodecError> {
        value.serialize(self)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, CodecError> {
        wrong_kind("text", "strings", "a sequence")
    }
}

/// Offers an object's bytes as a byte buffer, or as a sequence of `u8` to `Vec<u8>`.
pub(super) struct RawDeserializer(pub(super) Vec<u8>);

impl<'de> de::Deserializer<'de> for RawDeserializer {
    type Error = CodecError;

    fn deserialize_any<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, CodecError> {
        visitor.visit_byte_buf(self.0)
    }

    fn deserialize_seq<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, CodecError> {
        visitor.visit_seq(de::value::SeqDeserializer::new(self.0.into_iter()))
    }

    fn deserialize_newtype_struct<W: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: W,
    ) -> Result<W::Value, CodecError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Offers an object's text as a string.
pub(super) struct TextDeserializer(pub(super) String);

impl<'de> de::Deserializer<'de> for TextDeserializer {
    type Error = CodecError;

    fn deserialize_any<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, CodecError> {
        visitor.visit_string(self.0)
    }

    fn deserialize_newtype_struct<W: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: W,
    ) -> Result<W::Value, CodecError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<W: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: W,
    ) -> Result<W::Value, CodecError> {
        let de: de::value::StringDeserializer<CodecError> = self.0.into_deserializer();
        de::Deserializer::deserialize_enum(de, name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}
