//! A scenario file's TOML as plain values, read with `toml_edit`'s parser.
//!
//! The browser app already links `toml_edit` to change settings in place; reading scenarios
//! with the same parser, rather than through the `toml` crate's serde deserializer, keeps a
//! second copy of that machinery out of the wasm. Tables keep their keys in sorted order,
//! as the `toml` crate's did, so "the first unknown key" is the same key as before.

use std::collections::BTreeMap;
use std::fmt;

pub type Table = BTreeMap<String, Value>;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Integer(i64),
    /// No scenario key takes a float, so only its text is kept (for error messages).
    Float(String),
    Boolean(bool),
    Datetime(String),
    Array(Vec<Value>),
    Table(Table),
}

impl Value {
    pub fn as_table(&self) -> Option<&Table> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The type's name in TOML's words, for error messages.
    pub fn type_str(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::Boolean(_) => "boolean",
            Value::Datetime(_) => "datetime",
            Value::Array(_) => "array",
            Value::Table(_) => "table",
        }
    }
}

/// Written back as TOML, as an error message quotes it.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write!(f, "{s:?}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(x),
            Value::Boolean(b) => write!(f, "{b}"),
            Value::Datetime(d) => f.write_str(d),
            Value::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Table(t) => {
                f.write_str("{ ")?;
                for (i, (k, v)) in t.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str(" }")
            }
        }
    }
}

/// Parses a TOML document into a table, or says what is wrong with it (toml_edit's message,
/// which names the line and column).
pub fn parse(text: &str) -> Result<Table, String> {
    let doc = toml_edit::Document::parse(text).map_err(|e| e.to_string())?;
    Ok(table(doc.as_table()))
}

fn table<'a>(t: impl IntoIterator<Item = (&'a str, &'a toml_edit::Item)>) -> Table {
    // Inserted one by one: `collect` into a B-tree would link a whole stable sort for this
    // one type into the page, for tables of a dozen keys.
    let mut out = Table::new();
    for (k, item) in t {
        if let Some(v) = item_value(item) {
            out.insert(k.to_string(), v);
        }
    }
    out
}

fn item_value(item: &toml_edit::Item) -> Option<Value> {
    Some(match item {
        toml_edit::Item::None => return None,
        toml_edit::Item::Value(v) => value(v),
        toml_edit::Item::Table(t) => Value::Table(table(t.iter())),
        toml_edit::Item::ArrayOfTables(a) => Value::Array(a.iter().map(|t| Value::Table(table(t.iter()))).collect()),
    })
}

fn value(v: &toml_edit::Value) -> Value {
    match v {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::Integer(*i.value()),
        toml_edit::Value::Float(x) => Value::Float(match x.as_repr().and_then(|r| r.as_raw().as_str()) {
            Some(raw) => raw.trim().to_string(),
            None => x.value().to_string(),
        }),
        toml_edit::Value::Boolean(b) => Value::Boolean(*b.value()),
        toml_edit::Value::Datetime(d) => Value::Datetime(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(value).collect()),
        toml_edit::Value::InlineTable(t) => Value::Table(t.iter().map(|(k, v)| (k.to_string(), value(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_value() {
        let t = parse("a = 1\nb = \"x\"\nc = [1.5, true]\n[d]\n\"e.f\" = { g = 2 }\n[[h]]\ni = 3\n[[h]]\n").unwrap();
        assert_eq!(t["a"], Value::Integer(1));
        assert_eq!(t["b"], Value::String("x".into()));
        assert_eq!(t["c"].to_string(), "[1.5, true]");
        assert_eq!(t["d"].to_string(), "{ e.f = { g = 2 } }");
        assert_eq!(t["h"].type_str(), "array");
        assert_eq!(t.keys().collect::<Vec<_>>(), ["a", "b", "c", "d", "h"]);
        assert!(parse("a = ").unwrap_err().contains("line 1"));
        assert!(parse("a = 1\na = 2").is_err());
    }
}
