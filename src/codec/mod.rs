//! Codecs: how values become object bodies.
//!
//! | codec | extension | content type | values |
//! |---|---|---|---|
//! | [`Codec::Bincode`] (default) | `bincode` | `application/octet-stream` | any serde type, compact |
//! | [`Codec::Json`] | `json` | `application/json` | any serde type, human-readable |
//! | [`Codec::Raw`] | `bin` | `application/octet-stream` | byte values (`Vec<u8>`, `serde_bytes`, `bytes::Bytes`) |
//! | [`Codec::Text`] | `txt` | `text/plain; charset=utf-8` | string values (`String`) |
//!
//! Decoding never trusts a length prefix with memory: bincode reads no further than the
//! object, and a sequence reserves at most serde's cautious 1 MiB ahead of its elements.
//! A corrupt or hostile object therefore costs at most about 1 MiB per level of sequence
//! nesting in the value type beyond its own size, never gigabytes.
//!
//! [`Encoded`] is the one value type that every codec passes through verbatim: a dictionary
//! of `Encoded` values reads and writes the objects' bytes exactly as they are stored, so
//! tools can copy or print the values of any dictionary without knowing their type.

use std::any::{Any, TypeId};
use std::fmt;
use std::str::FromStr;

use bincode::Options;
use serde::de::{self, DeserializeOwned};
use serde::ser::{self, Serialize};

use crate::error::Error;
use crate::key::Key;

mod encoded;
mod raw_text;

pub use self::encoded::Encoded;
use self::encoded::{EncodedDeserializer, EncodedSerializer};
use self::raw_text::{RawDeserializer, RawSerializer, TextDeserializer, TextSerializer};

/// The value encoding of a dictionary. The codec's extension is part of each object name, so
/// a dictionary only sees objects of its own codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Codec {
    /// bincode 1 with varint integers: compact and fast.
    #[default]
    Bincode,
    /// JSON (`serde_json`); interoperates with Python persidict's `"json"` format.
    Json,
    /// The value's bytes as they are. The dictionaries move `Vec<u8>` values in one piece,
    /// as they do byte types that serialize as bytes (`serde_bytes::ByteBuf`,
    /// `bytes::Bytes`, [`Encoded`]). To serde a `Vec<u8>` is a sequence, so through
    /// [`Codec::encode`] and [`Codec::decode`] (or inside a newtype) it goes one byte at a
    /// time: about 1.5 ms per MiB to decode.
    Raw,
    /// The value's UTF-8 text as it is.
    Text,
}

/// Why a value did not encode or decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

impl ser::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}

impl de::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}

fn bincode_options() -> impl Options {
    bincode::DefaultOptions::new()
}

impl Codec {
    /// The codec's name (`bincode`, `json`, `raw`, `text`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Bincode => "bincode",
            Codec::Json => "json",
            Codec::Raw => "raw",
            Codec::Text => "text",
        }
    }

    /// The object-name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Codec::Bincode => "bincode",
            Codec::Json => "json",
            Codec::Raw => "bin",
            Codec::Text => "txt",
        }
    }

    /// The `Content-Type` objects are stored with.
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Bincode | Codec::Raw => "application/octet-stream",
            Codec::Json => "application/json",
            Codec::Text => "text/plain; charset=utf-8",
        }
    }

    /// Encodes a value. An [`Encoded`] value is returned verbatim, whatever the codec.
    pub fn encode<V: Serialize + ?Sized>(self, value: &V) -> Result<Vec<u8>, CodecError> {
        if let Ok(bytes) = value.serialize(EncodedSerializer) {
            return Ok(bytes);
        }
        match self {
            Codec::Bincode => bincode_options()
                .serialize(value)
                .map_err(|e| CodecError(e.to_string())),
            Codec::Json => serde_json::to_vec(value).map_err(|e| CodecError(e.to_string())),
            Codec::Raw => value.serialize(RawSerializer),
            Codec::Text => value.serialize(TextSerializer).map(String::into_bytes),
        }
    }

    /// Decodes a value; never reads beyond `bytes`, and reserves memory ahead of what
    /// `bytes` holds only within serde's 1 MiB per sequence (see the module docs). An
    /// [`Encoded`] value receives the bytes verbatim, whatever the codec.
    pub fn decode<V: DeserializeOwned>(self, bytes: &[u8]) -> Result<V, CodecError> {
        if let Ok(value) = V::deserialize(EncodedDeserializer::Borrowed(bytes)) {
            return Ok(value);
        }
        self.decode_typed(bytes)
    }

    /// [`Codec::decode`] from an owned buffer. The `raw` and `text` codecs and [`Encoded`]
    /// values take the buffer over instead of copying it, so a large byte or string value
    /// is never copied on its way from the object body to the caller.
    pub fn decode_owned<V: DeserializeOwned>(self, bytes: Vec<u8>) -> Result<V, CodecError> {
        let mut slot = Some(bytes);
        if let Ok(value) = V::deserialize(EncodedDeserializer::Owned(&mut slot)) {
            return Ok(value);
        }
        // The slot is only emptied by a successful `Encoded` decode.
        let bytes = slot.unwrap_or_default();
        match self {
            Codec::Raw => V::deserialize(RawDeserializer(bytes)),
            Codec::Text => {
                let s = String::from_utf8(bytes)
                    .map_err(|e| CodecError(format!("not UTF-8 text: {}", e.utf8_error())))?;
                V::deserialize(TextDeserializer(s))
            }
            Codec::Bincode | Codec::Json => self.decode_typed(&bytes),
        }
    }

    /// Decodes a value that is not an [`Encoded`].
    fn decode_typed<V: DeserializeOwned>(self, bytes: &[u8]) -> Result<V, CodecError> {
        match self {
            Codec::Bincode => bincode_options()
                // The limit bounds every length prefix by what is really there, so a
                // corrupt length cannot make the decoder reserve gigabytes.
                .with_limit(bytes.len() as u64)
                .deserialize(bytes)
                .map_err(|e| CodecError(e.to_string())),
            Codec::Json => serde_json::from_slice(bytes).map_err(|e| CodecError(e.to_string())),
            Codec::Raw => V::deserialize(RawDeserializer(bytes.to_vec())),
            Codec::Text => {
                let s = std::str::from_utf8(bytes)
                    .map_err(|e| CodecError(format!("not UTF-8 text: {e}")))?;
                V::deserialize(TextDeserializer(s.to_owned()))
            }
        }
    }
}

/// The bytes of a dictionary's `Vec<u8>` value, which the raw codec stores as they are:
/// copied in one piece instead of through serde one byte at a time.
fn raw_vec<V: Any>(codec: Codec, value: &V) -> Option<&Vec<u8>> {
    match codec {
        Codec::Raw => (value as &dyn Any).downcast_ref::<Vec<u8>>(),
        _ => None,
    }
}

/// Whether values of type `V` are `Vec<u8>` values of the raw codec, which the
/// dictionaries move in one piece.
fn is_raw_vec<V: Any>(codec: Codec) -> bool {
    codec == Codec::Raw && TypeId::of::<V>() == TypeId::of::<Vec<u8>>()
}

/// A raw object body as a dictionary's `Vec<u8>` value, taken over without a copy;
/// `Err` gives the bytes back when `V` is another type.
fn raw_vec_into<V: Any>(codec: Codec, bytes: Vec<u8>) -> Result<V, Vec<u8>> {
    if !is_raw_vec::<V>(codec) {
        return Err(bytes);
    }
    let boxed: Box<dyn Any> = Box::new(bytes);
    boxed.downcast::<V>().map(|v| *v).map_err(|other| {
        // Unreachable (the types were just compared), but the bytes are not lost if it is.
        other.downcast::<Vec<u8>>().map(|b| *b).unwrap_or_default()
    })
}

// The `*_for` methods serve the dictionaries, whose values are `'static`: they move a
// `Vec<u8>` value of the raw codec in one piece (see `raw_vec`), which `Codec::encode` and
// `Codec::decode` cannot do for any serde type.
impl Codec {
    /// [`Codec::encode`] for the value of `key`, as the crate's [`Error::Encode`].
    pub(crate) fn encode_for<V: Serialize + Any>(
        self,
        key: &Key,
        value: &V,
    ) -> crate::Result<Vec<u8>> {
        if let Some(bytes) = raw_vec(self, value) {
            return Ok(bytes.clone());
        }
        self.encode(value).map_err(|e| Error::Encode {
            key: key.clone(),
            codec: self.name(),
            reason: e.0,
        })
    }

    /// [`Codec::encode_for`], refusing encodings over `max` bytes with
    /// [`Error::ValueTooLarge`] (the limit of the backends that store objects).
    pub(crate) fn encode_within<V: Serialize + Any>(
        self,
        key: &Key,
        value: &V,
        max: u64,
    ) -> crate::Result<Vec<u8>> {
        let bytes = self.encode_for(key, value)?;
        if bytes.len() as u64 > max {
            return Err(Error::ValueTooLarge {
                key: key.clone(),
                size: bytes.len() as u64,
                max,
            });
        }
        Ok(bytes)
    }

    /// [`Codec::decode`] for the value of `key`, as the crate's [`Error::Decode`].
    #[cfg(test)]
    pub(crate) fn decode_for<V: DeserializeOwned + Any>(
        self,
        key: &Key,
        bytes: &[u8],
    ) -> crate::Result<V> {
        if is_raw_vec::<V>(self) {
            return self.decode_owned_for(key, bytes.to_vec());
        }
        self.decode(bytes).map_err(|e| self.decode_error(key, e))
    }

    /// [`Codec::decode_owned`] for the value of `key`, as the crate's [`Error::Decode`].
    pub(crate) fn decode_owned_for<V: DeserializeOwned + Any>(
        self,
        key: &Key,
        bytes: Vec<u8>,
    ) -> crate::Result<V> {
        match raw_vec_into(self, bytes) {
            Ok(value) => Ok(value),
            Err(bytes) => self
                .decode_owned(bytes)
                .map_err(|e| self.decode_error(key, e)),
        }
    }

    fn decode_error(self, key: &Key, e: CodecError) -> Error {
        Error::Decode {
            key: key.clone(),
            codec: self.name(),
            reason: e.0,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Codec {
    type Err = CodecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bincode" => Ok(Codec::Bincode),
            "json" => Ok(Codec::Json),
            "raw" | "bytes" => Ok(Codec::Raw),
            "text" | "txt" => Ok(Codec::Text),
            other => Err(CodecError(format!(
                "unknown codec {other:?}; expected bincode, json, raw or text"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn round_trips() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), vec![1u32, 2, 3]);
        for c in [Codec::Bincode, Codec::Json] {
            let b = c.encode(&m).unwrap();
            assert_eq!(c.decode::<BTreeMap<String, Vec<u32>>>(&b).unwrap(), m);
        }
        let raw = Codec::Raw.encode(&vec![0u8, 255, 7]).unwrap();
        assert_eq!(raw, [0, 255, 7]);
        assert_eq!(Codec::Raw.decode::<Vec<u8>>(&raw).unwrap(), vec![0, 255, 7]);
        let t = Codec::Text.encode("héllo").unwrap();
        assert_eq!(t, "héllo".as_bytes());
        assert_eq!(Codec::Text.decode::<String>(&t).unwrap(), "héllo");
    }

    #[test]
    fn dictionary_vec_values_agree_with_serde() {
        let key = Key::try_from("k").unwrap();
        let value: Vec<u8> = (0..=255).collect();
        for c in [Codec::Bincode, Codec::Json, Codec::Raw] {
            // The one-piece path of the raw codec gives what serde gives, and no other
            // codec takes it.
            let bytes = c.encode_for(&key, &value).unwrap();
            assert_eq!(bytes, c.encode(&value).unwrap(), "{c}");
            assert_eq!(c.decode_for::<Vec<u8>>(&key, &bytes).unwrap(), value, "{c}");
            let owned: Vec<u8> = c.decode_owned_for(&key, bytes.clone()).unwrap();
            assert_eq!(owned, value, "{c}");
            // Other types are untouched by it.
            assert_eq!(
                c.decode_owned_for::<Encoded>(&key, bytes.clone()).unwrap(),
                Encoded(bytes.clone())
            );
        }
        assert_eq!(Codec::Raw.encode_for(&key, &value).unwrap(), value);
        assert!(Codec::Text.encode_for(&key, &value).is_err());
    }

    #[test]
    fn wrong_kinds_are_errors() {
        assert!(Codec::Raw
            .encode(&"text")
            .unwrap_err()
            .0
            .contains("raw codec"));
        assert!(Codec::Text
            .encode(&42u32)
            .unwrap_err()
            .0
            .contains("an integer"));
        assert!(Codec::Raw.encode(&vec![300u32]).is_err());
        assert!(Codec::Text.decode::<String>(&[0xff, 0xfe]).is_err());
        assert!(Codec::Json.decode::<u32>(b"\"x\"").is_err());
    }

    #[test]
    fn bincode_length_prefix_is_bounded() {
        // A varint length prefix claiming 2^62 bytes followed by almost nothing.
        let hostile = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0x40, b'x'];
        assert!(Codec::Bincode.decode::<String>(&hostile).is_err());
        assert!(Codec::Bincode.decode::<Vec<u64>>(&hostile).is_err());
    }

    #[test]
    fn encoded_is_verbatim_in_every_codec() {
        let odd = Encoded(vec![0xff, 0, b'{']);
        for c in [Codec::Bincode, Codec::Json, Codec::Raw, Codec::Text] {
            assert_eq!(c.encode(&odd).unwrap(), odd.0, "{c}");
            assert_eq!(c.decode::<Encoded>(&odd.0).unwrap(), odd, "{c}");
        }
        // Nested, it is an ordinary byte string.
        let nested = Codec::Json.encode(&vec![Encoded(vec![1, 2])]).unwrap();
        assert_eq!(nested, b"[[1,2]]");
        assert_eq!(
            Codec::Json.decode::<Vec<Encoded>>(&nested).unwrap(),
            vec![Encoded(vec![1, 2])]
        );
        // Other newtypes are not mistaken for it.
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Other(Vec<u8>);
        assert_eq!(Codec::Json.encode(&Other(vec![1])).unwrap(), b"[1]");
        assert_eq!(Codec::Json.decode::<Other>(b"[1]").unwrap(), Other(vec![1]));
    }
}
