//! Typed forms from decoded (name, value) pairs: the one way every form is
//! read. A field sent several times (a checkbox per permission, a select
//! per department) is a sequence; sent once, a value; not sent, missing
//! (so `Option` or `#[serde(default)]` decide). Numbers (`i64`, `u32` and,
//! inside lists, `i32`, `u64`, `f64`) and booleans are parsed from the
//! text; a checkbox's "1", "on" or "true" is true. Other types read text.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

/// Why a form did not fit its type; the text names the field when it can.
#[derive(Debug)]
pub(crate) struct FormError(String);

impl std::fmt::Display for FormError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for FormError {}

impl de::Error for FormError {
    fn custom<T: std::fmt::Display>(message: T) -> FormError {
        FormError(message.to_string())
    }
}

/// Reads `T` from a form's pairs.
pub(crate) fn from_pairs<'a, T: de::Deserialize<'a>>(
    pairs: &'a [(String, String)],
) -> Result<T, FormError> {
    let mut fields: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, value) in pairs {
        match fields.iter_mut().find(|(known, _)| *known == name) {
            Some((_, values)) => values.push(value),
            None => fields.push((name, vec![value])),
        }
    }
    T::deserialize(Fields {
        fields: fields.into_iter(),
        pending: None,
    })
}

struct Fields<'a> {
    fields: std::vec::IntoIter<(&'a str, Vec<&'a str>)>,
    pending: Option<Vec<&'a str>>,
}

impl<'de> Deserializer<'de> for Fields<'de> {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = FormError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FormError> {
        let Some((name, values)) = self.fields.next() else {
            return Ok(None);
        };
        self.pending = Some(values);
        seed.deserialize(BorrowedStrDeserializer::new(name))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, FormError> {
        let values = self.pending.take().unwrap_or_default();
        seed.deserialize(Values(values))
    }
}

/// Every value one field was sent with.
struct Values<'a>(Vec<&'a str>);

impl<'a> Values<'a> {
    fn first(&self) -> &'a str {
        self.0.first().copied().unwrap_or("")
    }
}

impl<'de> Deserializer<'de> for Values<'de> {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        if self.0.len() == 1 {
            visitor.visit_borrowed_str(self.first())
        } else {
            self.deserialize_seq(visitor)
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_seq(Sequence(self.0.into_iter()))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        Value(self.first()).deserialize_bool(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        Value(self.first()).deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct map struct identifier ignored_any
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        Value(self.first()).deserialize_i64(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        Value(self.first()).deserialize_u32(visitor)
    }
}

struct Sequence<'a>(std::vec::IntoIter<&'a str>);

impl<'de> SeqAccess<'de> for Sequence<'de> {
    type Error = FormError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FormError> {
        match self.0.next() {
            Some(value) => seed.deserialize(Value(value)).map(Some),
            None => Ok(None),
        }
    }
}

/// One value, as text that numbers and booleans are parsed from.
struct Value<'a>(&'a str);

impl Value<'_> {
    fn parsed<T: std::str::FromStr>(&self, what: &str) -> Result<T, FormError> {
        self.0
            .trim()
            .parse()
            .map_err(|_| FormError(format!("{:?} is not {what}", self.0)))
    }
}

impl<'de> Deserializer<'de> for Value<'de> {
    type Error = FormError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        match self.0 {
            "1" | "on" | "true" => visitor.visit_bool(true),
            "" | "0" | "off" | "false" => visitor.visit_bool(false),
            other => Err(FormError(format!("{other:?} is not yes or no"))),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_i64(self.parsed("a whole number")?)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_i32(self.parsed("a whole number")?)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_u64(self.parsed("a whole number")?)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_u32(self.parsed("a whole number")?)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_f64(self.parsed("a number")?)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormError> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u8 u16 u128 f32 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Example {
        name: String,
        #[serde(default)]
        remember: bool,
        count: u32,
        #[serde(default)]
        group: Vec<i64>,
        note: Option<String>,
        #[serde(flatten)]
        rest: BTreeMap<String, OneOrMany>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn fields_become_values_sequences_and_the_rest() {
        let sent = pairs(&[
            ("name", "Ada"),
            ("count", " 7 "),
            ("group", "1"),
            ("group", "2"),
            ("remember", "1"),
            ("field_3", "a"),
            ("field_3", "b"),
            ("field_4", "x"),
        ]);
        let example: Example = from_pairs(&sent).unwrap();
        assert_eq!(example.name, "Ada");
        assert_eq!(example.count, 7);
        assert_eq!(example.group, [1, 2]);
        assert!(example.remember);
        assert_eq!(example.note, None);
        assert_eq!(
            example.rest.get("field_3"),
            Some(&OneOrMany::Many(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            example.rest.get("field_4"),
            Some(&OneOrMany::One("x".into()))
        );
    }

    #[derive(Debug, Deserialize)]
    struct Strict {
        count: u32,
    }

    #[test]
    fn what_does_not_fit_is_an_error() {
        assert_eq!(
            from_pairs::<Strict>(&pairs(&[("count", "3")]))
                .unwrap()
                .count,
            3
        );
        assert!(from_pairs::<Strict>(&pairs(&[("count", "many")])).is_err());
        assert!(
            from_pairs::<Strict>(&pairs(&[])).is_err(),
            "a missing field"
        );
        let single: Example =
            from_pairs(&pairs(&[("name", "x"), ("count", "1"), ("group", "5")])).unwrap();
        assert_eq!(single.group, [5], "one value still fills a list");
    }
}
