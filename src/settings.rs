//! Changing one setting edits the scenario text itself (comments and layout kept), so the
//! settings form, the editor, exports and links always agree.

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    Top,
    Cluster,
    Topic,
    Producer,
    /// The first consumer table (the form shows it only when the scenario has one).
    Consumer,
}

impl Where {
    /// The table as the scenario file names it.
    fn table_name(self) -> &'static str {
        match self {
            Where::Top => "top-level",
            Where::Cluster => "[cluster]",
            Where::Topic => "[[topic]]",
            Where::Producer => "[producer]",
            Where::Consumer => "[[consumer]]",
        }
    }
}

fn table_mut(doc: &mut DocumentMut, w: Where) -> Option<&mut Table> {
    match w {
        Where::Top => Some(doc.as_table_mut()),
        Where::Cluster => {
            if doc.get("cluster").is_none() {
                doc.insert("cluster", Item::Table(Table::new()));
            }
            doc.get_mut("cluster")?.as_table_mut()
        }
        Where::Producer => {
            if doc.get("producer").is_none() {
                doc.insert("producer", Item::Table(Table::new()));
            }
            match doc.get_mut("producer")? {
                Item::ArrayOfTables(a) => a.get_mut(0),
                other => other.as_table_mut(),
            }
        }
        Where::Consumer => {
            if doc.get("consumer").is_none() {
                let mut t = Table::new();
                t.insert("group.id", value("app"));
                doc.insert("consumer", Item::Table(t));
            }
            match doc.get_mut("consumer")? {
                Item::ArrayOfTables(a) => a.get_mut(0),
                other => other.as_table_mut(),
            }
        }
        Where::Topic => {
            if doc.get("topic").is_none() {
                let mut t = Table::new();
                t.insert("name", value("orders"));
                let mut a = ArrayOfTables::new();
                a.push(t);
                doc.insert("topic", Item::ArrayOfTables(a));
            }
            match doc.get_mut("topic")? {
                Item::ArrayOfTables(a) => a.get_mut(0),
                other => other.as_table_mut(),
            }
        }
    }
}

/// Sets (or with `None` removes) one key. Strings that look like numbers or booleans are
/// written as such, as Kafka's own property parser would read them.
pub fn set(text: &str, w: Where, key: &str, v: Option<&str>) -> Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| format!("the scenario is not valid TOML, so the setting cannot be changed: {}", e.message()))?;
    let t = table_mut(&mut doc, w).ok_or_else(|| format!("the scenario's {} entry is not a table", w.table_name()))?;
    match v {
        None => {
            t.remove(key);
        }
        Some(s) => {
            let item: Value = if let Ok(i) = s.parse::<i64>() {
                if key == "acks" {
                    Value::from(s)
                } else {
                    Value::from(i)
                }
            } else if s == "true" || s == "false" {
                Value::from(s == "true")
            } else {
                Value::from(s)
            };
            t.insert(key, Item::Value(item));
        }
    }
    Ok(doc.to_string())
}

/// Reads one key as written (None when absent).
pub fn get(text: &str, w: Where, key: &str) -> Option<String> {
    let doc: DocumentMut = text.parse().ok()?;
    let t = match w {
        Where::Top => Some(doc.as_table()),
        Where::Cluster => doc.get("cluster").and_then(|i| i.as_table()),
        Where::Producer => match doc.get("producer")? {
            Item::ArrayOfTables(a) => a.get(0),
            other => other.as_table(),
        },
        Where::Topic => match doc.get("topic")? {
            Item::ArrayOfTables(a) => a.get(0),
            other => other.as_table(),
        },
        Where::Consumer => match doc.get("consumer")? {
            Item::ArrayOfTables(a) => a.get(0),
            other => other.as_table(),
        },
    }?;
    let v = t.get(key)?.as_value()?;
    Some(match v {
        Value::String(s) => s.value().clone(),
        other => other.to_string().trim().to_string(),
    })
}

fn parse_doc(text: &str) -> Result<DocumentMut, String> {
    text.parse().map_err(|e: toml_edit::TomlError| format!("the scenario is not valid TOML: {}", e.message()))
}

/// Appends `t` to the `[[key]]` tables (creating them) and returns the new text.
fn push_table(mut doc: DocumentMut, key: &str, t: Table) -> Result<String, String> {
    match doc.get_mut(key) {
        Some(Item::ArrayOfTables(a)) => a.push(t),
        Some(_) => return Err(format!("the scenario's `{key}` entry is not a list of [[{key}]] tables")),
        None => {
            let mut a = ArrayOfTables::new();
            a.push(t);
            doc.insert(key, Item::ArrayOfTables(a));
        }
    }
    Ok(doc.to_string())
}

/// Appends a fault that fires at `at_ms`: how a click in the UI becomes part of the scenario.
pub fn add_fault(text: &str, at_ms: u64, action: &str, target: Option<&str>, extra: &[(&str, i64)]) -> Result<String, String> {
    let doc = parse_doc(text)?;
    let mut t = Table::new();
    t.insert("at_ms", value(at_ms as i64));
    t.insert("do", value(action));
    if let Some(tg) = target {
        t.insert("target", value(tg));
    }
    for (k, v) in extra {
        t.insert(k, value(*v));
    }
    push_table(doc, "fault", t)
}

/// Appends a [[send]] table of new records at `at_ms`.
pub fn add_send(text: &str, at_ms: u64, ids: &[String], transaction: Option<&str>) -> Result<String, String> {
    let doc = parse_doc(text)?;
    let mut t = Table::new();
    t.insert("at_ms", value(at_ms as i64));
    if let Some(tx) = transaction {
        t.insert("transaction", value(tx));
    }
    let mut arr = Array::new();
    for id in ids {
        arr.push(id.as_str());
    }
    t.insert("records", value(arr));
    push_table(doc, "send", t)
}

/// Appends a fault on a hook of one record (a wire fault drops the message the hook's event
/// sends).
pub fn add_hook_fault(text: &str, hook: &str, record: &str, action: &str, target: Option<&str>) -> Result<String, String> {
    let doc = parse_doc(text)?;
    let mut t = Table::new();
    t.insert("on", value(hook));
    t.insert("record", value(record));
    t.insert("do", value(action));
    if let Some(target) = target {
        t.insert("target", value(target));
    }
    push_table(doc, "fault", t)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn set_keeps_comments_and_creates_tables() {
        let text = "# my lesson\nformat = 1\n[producer]\nacks = \"1\" # the point\n";
        let out = set(text, Where::Producer, "acks", Some("all")).unwrap();
        assert!(out.contains("# my lesson") && out.contains("acks = \"all\""), "{out}");
        let out = set(&out, Where::Topic, "min.insync.replicas", Some("2")).unwrap();
        assert_eq!(get(&out, Where::Topic, "min.insync.replicas").as_deref(), Some("2"));
        let out = set(&out, Where::Producer, "acks", None).unwrap();
        assert_eq!(get(&out, Where::Producer, "acks"), None);
        let out = add_fault(&out, 120, "kill-broker", Some("b1"), &[]).unwrap();
        assert!(klab::Scenario::parse(&out).is_ok(), "{out}");
    }

    #[test]
    fn consumer_settings_edit_the_first_consumer_table() {
        let text = "format = 1\n[[consumer]]\nname = \"a\"\n\"group.id\" = \"g\"\n[[consumer]]\nname = \"b\"\n\"group.id\" = \"g\"\n";
        let out = set(text, Where::Consumer, "isolation.level", Some("read_committed")).unwrap();
        assert_eq!(get(&out, Where::Consumer, "isolation.level").as_deref(), Some("read_committed"));
        let sc = klab::Scenario::parse(&out).expect("still valid");
        assert_eq!(sc.consumers.len(), 2);
        assert!(!out.split("name = \"b\"").nth(1).unwrap_or("").contains("isolation.level"), "{out}");
    }
}
