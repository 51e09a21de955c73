//! A method's settings, declared once: key, link name, label, help, type, default and bounds. The same
//! declaration validates what a page, a share link or the CLI sends, and is exported in the schema.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use crate::error::{Error, Result};

#[derive(Debug, Serialize)]
pub struct SettingSpec {
    /// The name in settings JSON and in the CLI's `--set key=value`.
    pub key: &'static str,
    /// The name in share links (`<link_prefix>.<link>`); old links keep their names.
    pub link: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    #[serde(flatten)]
    pub kind: Kind,
    /// A change during a run applies from the next step.
    pub live: bool,
}

#[derive(Debug, Serialize)]
pub struct ChoiceOption {
    pub value: &'static str,
    pub label: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
        default: i64,
    },
    Float {
        min: f64,
        max: f64,
        min_exclusive: bool,
        default: f64,
    },
    /// A class index below the model's number of classes; `optional`: `null` means the predicted class.
    Class {
        optional: bool,
        default: Option<usize>,
    },
    Choice {
        options: &'static [ChoiceOption],
        default: &'static str,
    },
    Bool {
        default: bool,
    },
    /// Free text matching `pattern` (a regular expression the page also uses), e.g. a layer name.
    Text {
        pattern: &'static str,
        default: &'static str,
    },
}

/// The RNG seed every seeded method has (`help` says what it seeds). Seeds are u32 so that share links and
/// native/wasm builds agree.
pub const fn seed(help: &'static str) -> SettingSpec {
    SettingSpec {
        key: "seed",
        link: "seed",
        label: "Seed",
        help,
        kind: Kind::Int { min: 0, max: 4_294_967_295, default: 0 },
        live: false,
    }
}

/// Text settings hold names like `features.12`: this is what they may contain.
pub const NAME_PATTERN: &str = "^[A-Za-z0-9_.:/-]{1,128}$";

/// Whether `s` matches a Text setting's declared `pattern` (the page's `<input pattern>` shows the same one).
fn pattern_matches(pattern: &str, s: &str) -> bool {
    regex_lite::Regex::new(pattern).is_ok_and(|re| re.is_match(s))
}

/// A pattern in words: `^[A-Za-z0-9_.:/-]{1,128}$` → "1 to 128 letters, digits or _.:/-".
fn describe(pattern: &str) -> String {
    let words = pattern
        .strip_prefix("^[A-Za-z0-9")
        .and_then(|p| p.strip_suffix('$'))
        .and_then(|p| p.split_once("]{"))
        .and_then(|(extra, n)| Some((extra, n.strip_suffix('}')?.split_once(',')?)))
        .map(|(extra, (lo, hi))| format!("{lo} to {hi} letters, digits or {extra}"));
    words.unwrap_or_else(|| format!("text matching {pattern}"))
}

/// A checked setting value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Int(i64),
    Float(f64),
    Class(Option<usize>),
    Bool(bool),
    Text(String),
}

/// Checked settings of one method: every declared key has a value within its bounds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings(BTreeMap<&'static str, Value>);

impl Settings {
    /// Whether the method declares `key`.
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
    fn get(&self, key: &str) -> &Value {
        self.0.get(key).unwrap_or_else(|| panic!("setting '{key}' is not declared by this method"))
    }
    pub fn int(&self, key: &str) -> i64 {
        match self.get(key) {
            Value::Int(v) => *v,
            other => panic!("setting '{key}' is not an int: {other:?}"),
        }
    }
    pub fn usize(&self, key: &str) -> usize {
        self.int(key) as usize
    }
    pub fn float(&self, key: &str) -> f32 {
        match self.get(key) {
            Value::Float(v) => *v as f32,
            other => panic!("setting '{key}' is not a float: {other:?}"),
        }
    }
    pub fn class(&self, key: &str) -> Option<usize> {
        match self.get(key) {
            Value::Class(v) => *v,
            other => panic!("setting '{key}' is not a class: {other:?}"),
        }
    }
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Value::Bool(v) => *v,
            other => panic!("setting '{key}' is not a bool: {other:?}"),
        }
    }
    pub fn text(&self, key: &str) -> &str {
        match self.get(key) {
            Value::Text(v) => v,
            other => panic!("setting '{key}' is not text: {other:?}"),
        }
    }
    /// The settings as JSON (what a page sends back).
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).expect("settings serialise")
    }
}

impl SettingSpec {
    fn name(&self) -> String {
        format!("{} ({})", self.label, self.key)
    }

    fn default_value(&self) -> Value {
        match &self.kind {
            Kind::Int { default, .. } => Value::Int(*default),
            Kind::Float { default, .. } => Value::Float(*default),
            Kind::Class { default, .. } => Value::Class(*default),
            Kind::Choice { default, .. } => Value::Text(default.to_string()),
            Kind::Bool { default } => Value::Bool(*default),
            Kind::Text { default, .. } => Value::Text(default.to_string()),
        }
    }

    /// The default for a model with `classes` classes: a default class it does not have (SqueezeNet's 76 on a
    /// 10-class model) becomes class 0.
    fn default_for(&self, classes: usize) -> Value {
        match self.default_value() {
            Value::Class(Some(k)) if k >= classes => Value::Class(Some(0)),
            v => v,
        }
    }

    /// Checks one JSON value; `classes` is the model's number of classes.
    fn check(&self, v: &Json, classes: usize) -> Result<Value> {
        let bad = |what: String| Error::Invalid(format!("{} {what}", self.name()));
        let show = |v: &Json| {
            let s = v.to_string();
            if s.len() > 40 {
                format!("{}…", &s[..s.char_indices().nth(40).map_or(s.len(), |(i, _)| i)])
            } else {
                s
            }
        };
        match &self.kind {
            Kind::Int { min, max, .. } => {
                let n = v
                    .as_i64()
                    .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64))
                    .ok_or_else(|| bad(format!("must be a whole number, got {}", show(v))))?;
                if n < *min || n > *max {
                    return Err(bad(format!("must be between {min} and {max}, got {n}")));
                }
                Ok(Value::Int(n))
            }
            Kind::Float { min, max, min_exclusive, .. } => {
                let f = v.as_f64().ok_or_else(|| bad(format!("must be a number, got {}", show(v))))?;
                if !f.is_finite() {
                    return Err(bad(format!("must be a finite number, got {f}")));
                }
                if *min_exclusive && f <= *min {
                    return Err(bad(format!("must be greater than {min}, got {f}")));
                }
                if f < *min || f > *max {
                    return Err(bad(format!("must be between {min} and {max}, got {f}")));
                }
                Ok(Value::Float(f))
            }
            Kind::Class { optional, .. } => {
                if v.is_null() {
                    return if *optional {
                        Ok(Value::Class(None))
                    } else {
                        Err(bad("must be a class index, got nothing".into()))
                    };
                }
                let k = v.as_u64().ok_or_else(|| bad(format!("must be a class index, got {}", show(v))))?;
                if k as usize >= classes {
                    return Err(bad(format!("must be a class index from 0 to {}, got {k}", classes - 1)));
                }
                Ok(Value::Class(Some(k as usize)))
            }
            Kind::Choice { options, .. } => {
                let s = v.as_str().ok_or_else(|| bad(format!("must be text, got {}", show(v))))?;
                if !options.iter().any(|o| o.value == s) {
                    let all: Vec<&str> = options.iter().map(|o| o.value).collect();
                    return Err(bad(format!("must be one of {}, got {}", all.join(", "), show(v))));
                }
                Ok(Value::Text(s.to_string()))
            }
            Kind::Bool { .. } => {
                v.as_bool().map(Value::Bool).ok_or_else(|| bad(format!("must be true or false, got {}", show(v))))
            }
            Kind::Text { pattern, .. } => {
                let s = v.as_str().ok_or_else(|| bad(format!("must be text, got {}", show(v))))?;
                if !pattern_matches(pattern, s) {
                    return Err(bad(format!("must be {}, got {}", describe(pattern), show(v))));
                }
                Ok(Value::Text(s.to_string()))
            }
        }
    }
}

impl SettingSpec {
    /// Checks one value written as text (a share link's, a form field's, the CLI's `--set key=TEXT`): read as
    /// this setting's type, then checked as [`parse`] checks JSON. The error names the setting.
    pub fn check_text(&self, text: &str, classes: usize) -> Result<Value> {
        let t = text.trim();
        let json = match self.kind {
            Kind::Int { .. } | Kind::Float { .. } | Kind::Class { .. } => match serde_json::from_str::<Json>(t) {
                // A whole number is written as one ("1e3" and "2.0" are not an int or a class index).
                Ok(Json::Number(n)) if matches!(self.kind, Kind::Float { .. }) || n.is_i64() || n.is_u64() => {
                    Json::Number(n)
                }
                _ => {
                    let what = match self.kind {
                        Kind::Int { .. } => "a whole number",
                        Kind::Class { .. } => "a class index",
                        _ => "a number",
                    };
                    let shown: String = t.chars().take(40).collect();
                    return Err(Error::Invalid(format!("{} must be {what}, got \"{shown}\"", self.name())));
                }
            },
            Kind::Bool { .. } => match t {
                "true" | "1" => Json::Bool(true),
                "false" | "0" => Json::Bool(false),
                _ => Json::String(t.to_string()),
            },
            Kind::Choice { .. } | Kind::Text { .. } => Json::String(t.to_string()),
        };
        self.check(&json, classes)
    }
}

/// Every declared setting at its default.
pub fn defaults(specs: &[SettingSpec]) -> Settings {
    Settings(specs.iter().map(|s| (s.key, s.default_value())).collect())
}

/// As [`defaults`], for a model with `classes` classes.
pub fn defaults_for(specs: &[SettingSpec], classes: usize) -> Settings {
    Settings(specs.iter().map(|s| (s.key, s.default_for(classes))).collect())
}

/// Checks a JSON object of settings: missing keys take their defaults, unknown keys and out-of-range values
/// are errors naming the setting.
pub fn parse(method: &str, specs: &[SettingSpec], json: &Json, classes: usize) -> Result<Settings> {
    let obj = match json {
        Json::Null => return Ok(defaults_for(specs, classes)),
        Json::Object(o) => o,
        other => return Err(Error::Invalid(format!("{method} settings must be a JSON object, got {other}"))),
    };
    for key in obj.keys() {
        if !specs.iter().any(|s| s.key == key) {
            let known: Vec<&str> = specs.iter().map(|s| s.key).collect();
            return Err(Error::Invalid(format!(
                "{method} has no setting '{}' (its settings: {})",
                key.chars().take(40).collect::<String>(),
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        }
    }
    let mut out = BTreeMap::new();
    for spec in specs {
        let v = match obj.get(spec.key) {
            None => spec.default_for(classes),
            Some(v) => spec.check(v, classes)?,
        };
        out.insert(spec.key, v);
    }
    Ok(Settings(out))
}

/// As [`parse`], from JSON text.
pub fn parse_str(method: &str, specs: &[SettingSpec], text: &str, classes: usize) -> Result<Settings> {
    let json: Json = if text.trim().is_empty() {
        Json::Null
    } else {
        serde_json::from_str(text).map_err(|e| Error::Invalid(format!("{method} settings are not valid JSON: {e}")))?
    };
    parse(method, specs, &json, classes)
}
