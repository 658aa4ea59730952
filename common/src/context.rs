//! The evaluation context: who is asking.
//!
//! A context is a JSON object. Its targeting key comes from `targetingKey`,
//! or else `userId`, or else `user_id` (the legacy names); it must be a
//! string when present, and the empty string is a present key. Every field,
//! the key fields included, is also an attribute that rules can reference.

use serde_json::{Map, Value};

/// Why a JSON value is not a usable context (evaluations fail with
/// `INVALID_CONTEXT`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// The context is not a JSON object.
    #[error("the evaluation context must be a JSON object")]
    NotAnObject,
    /// A targeting key field holds something other than a string.
    #[error("{0} must be a string")]
    KeyNotAString(&'static str),
}

/// The names a targeting key may be given under, in order of precedence.
pub const TARGETING_KEY_FIELDS: [&str; 3] = ["targetingKey", "userId", "user_id"];

/// Who a flag is evaluated for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    targeting_key: Option<String>,
    attributes: Map<String, Value>,
}

impl Context {
    /// A context with just a targeting key.
    pub fn with_key(targeting_key: impl Into<String>) -> Self {
        let key: String = targeting_key.into();
        let mut attributes = Map::new();
        attributes.insert("targetingKey".into(), Value::String(key.clone()));
        Self {
            targeting_key: Some(key),
            attributes,
        }
    }

    /// A context with no targeting key (an anonymous caller).
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Reads a context from JSON (see the module docs for the key fields).
    pub fn from_json(value: Value) -> Result<Self, ContextError> {
        let Value::Object(attributes) = value else {
            return Err(ContextError::NotAnObject);
        };
        Self::from_map(attributes)
    }

    /// Reads a context from a JSON object.
    pub fn from_map(attributes: Map<String, Value>) -> Result<Self, ContextError> {
        let targeting_key = targeting_key_of(&attributes)?;
        Ok(Self {
            targeting_key,
            attributes,
        })
    }

    /// Adds or replaces an attribute. Setting a targeting key field
    /// (`targetingKey`, `userId`, `user_id`) updates the targeting key and
    /// refuses anything but a string or null there.
    pub fn with_attribute(
        mut self,
        name: impl Into<String>,
        value: impl Into<Value>,
    ) -> Result<Self, ContextError> {
        let name = name.into();
        let is_key_field = TARGETING_KEY_FIELDS.contains(&name.as_str());
        self.attributes.insert(name, value.into());
        if is_key_field {
            self.targeting_key = targeting_key_of(&self.attributes)?;
        }
        Ok(self)
    }

    /// The targeting key, if any.
    pub fn targeting_key(&self) -> Option<&str> {
        self.targeting_key.as_deref()
    }

    /// All attributes as given.
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }
}

fn targeting_key_of(attributes: &Map<String, Value>) -> Result<Option<String>, ContextError> {
    for field in TARGETING_KEY_FIELDS {
        match attributes.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::String(key)) => return Ok(Some(key.clone())),
            Some(_) => return Err(ContextError::KeyNotAString(field)),
        }
    }
    Ok(None)
}

/// A parsed attribute reference: `targetingKey`, a top-level name, or an
/// RFC 6901 JSON pointer (`/address/city`, with `~1` for `/` and `~0` for `~`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeRef {
    /// The context's targeting key.
    TargetingKey,
    /// A top-level attribute.
    Name(Box<str>),
    /// A path into nested objects and arrays.
    Pointer(Box<[Box<str>]>),
}

impl AttributeRef {
    /// Parses a reference; `None` when it is empty or a malformed pointer.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            return None;
        }
        if text == "targetingKey" {
            return Some(Self::TargetingKey);
        }
        let Some(pointer) = text.strip_prefix('/') else {
            return Some(Self::Name(text.into()));
        };
        let mut tokens = Vec::new();
        for raw in pointer.split('/') {
            // `~` must be followed by 0 or 1 (RFC 6901 section 3).
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, false) => token.push(c),
                    (_, true) => match chars.next() {
                        Some('0') => token.push('~'),
                        Some('1') => token.push('/'),
                        _ => return None,
                    },
                }
            }
            tokens.push(token.into_boxed_str());
        }
        Some(Self::Pointer(tokens.into_boxed_slice()))
    }

    /// Looks the attribute up; `Null` counts as absent. Never allocates.
    pub fn resolve<'c>(&self, context: &'c Context) -> Option<Resolved<'c>> {
        match self {
            Self::TargetingKey => context.targeting_key().map(Resolved::Str),
            Self::Name(name) => context
                .attributes
                .get(&**name)
                .and_then(Resolved::from_value),
            Self::Pointer(tokens) => {
                let (first, rest) = tokens.split_first()?;
                let mut value = context.attributes.get(&**first)?;
                for token in rest {
                    value = match value {
                        Value::Object(map) => map.get(&**token)?,
                        Value::Array(items) => items.get(array_index(token)?)?,
                        _ => return None,
                    };
                }
                Resolved::from_value(value)
            }
        }
    }
}

/// RFC 6901 array index: `0` or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

/// A present attribute value.
#[derive(Debug, Clone, Copy)]
pub enum Resolved<'c> {
    /// The targeting key (always a string).
    Str(&'c str),
    /// Any non-null JSON value.
    Value(&'c Value),
}

impl<'c> Resolved<'c> {
    fn from_value(value: &'c Value) -> Option<Self> {
        (!value.is_null()).then_some(Self::Value(value))
    }

    /// The string, when the value is one.
    pub fn as_str(self) -> Option<&'c str> {
        match self {
            Self::Str(s) => Some(s),
            Self::Value(v) => v.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn key_precedence_and_legacy_names() {
        let ctx = Context::from_json(json!({"userId": "u1", "user_id": "u2"})).unwrap();
        assert_eq!(ctx.targeting_key(), Some("u1"));
        let ctx = Context::from_json(json!({"targetingKey": "t", "userId": "u1"})).unwrap();
        assert_eq!(ctx.targeting_key(), Some("t"));
        let ctx = Context::from_json(json!({"targetingKey": ""})).unwrap();
        assert_eq!(
            ctx.targeting_key(),
            Some(""),
            "the empty string is a present key"
        );
        let ctx = Context::from_json(json!({"targetingKey": null, "user_id": "u2"})).unwrap();
        assert_eq!(ctx.targeting_key(), Some("u2"));
        assert_eq!(
            Context::from_json(json!({"email": "a@b"}))
                .unwrap()
                .targeting_key(),
            None
        );
    }

    #[test]
    fn with_attribute_keeps_the_key_consistent() {
        let ctx = Context::anonymous().with_attribute("plan", "pro").unwrap();
        assert_eq!(ctx.targeting_key(), None);
        let ctx = ctx.with_attribute("userId", "u1").unwrap();
        assert_eq!(ctx.targeting_key(), Some("u1"));
        let ctx = ctx.with_attribute("targetingKey", "t").unwrap();
        assert_eq!(ctx.targeting_key(), Some("t"));
        assert!(ctx.with_attribute("targetingKey", 5).is_err());
    }

    #[test]
    fn bad_contexts_are_rejected() {
        assert_eq!(
            Context::from_json(json!(["x"])),
            Err(ContextError::NotAnObject)
        );
        assert_eq!(
            Context::from_json(json!({"targetingKey": 42})),
            Err(ContextError::KeyNotAString("targetingKey"))
        );
    }

    #[test]
    fn attribute_references() {
        let ctx = Context::from_json(json!({
            "targetingKey": "u1",
            "email": "a@b.c",
            "a/b": 1,
            "company": {"plan": "pro", "tags": ["x", "y"], "m~n": true, "gone": null}
        }))
        .unwrap();
        let get = |r: &str| {
            AttributeRef::parse(r)
                .unwrap()
                .resolve(&ctx)
                .map(|v| match v {
                    Resolved::Str(s) => json!(s),
                    Resolved::Value(v) => v.clone(),
                })
        };
        assert_eq!(get("targetingKey"), Some(json!("u1")));
        assert_eq!(get("email"), Some(json!("a@b.c")));
        assert_eq!(
            get("a/b"),
            Some(json!(1)),
            "names without a leading slash are literal"
        );
        assert_eq!(get("/company/plan"), Some(json!("pro")));
        assert_eq!(get("/company/tags/1"), Some(json!("y")));
        assert_eq!(get("/company/tags/01"), None);
        assert_eq!(get("/company/m~0n"), Some(json!(true)));
        assert_eq!(get("/a~1b"), Some(json!(1)));
        assert_eq!(get("/company/gone"), None, "null counts as absent");
        assert_eq!(get("/company/plan/x"), None);
        assert_eq!(get("missing"), None);
        assert!(AttributeRef::parse("").is_none());
        assert!(AttributeRef::parse("/bad~2").is_none());
    }
}
