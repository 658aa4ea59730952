//! PLACEHOLDER until the portable-subset module lands (being written now).
/// A regex in Halyard's portable subset.
#[derive(Clone, Debug)]
pub struct PortableRegex {
    source: Box<str>,
    regex: regex::Regex,
}
impl PortableRegex {
    /// Parses.
    pub fn parse(pattern: &str) -> Result<PortableRegex, RegexError> {
        let regex = regex::Regex::new(pattern).map_err(|e| RegexError::Invalid(e.to_string()))?;
        Ok(Self {
            source: pattern.into(),
            regex,
        })
    }
    /// Matches.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.regex.is_match(haystack)
    }
    /// Source.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}
impl PartialEq for PortableRegex {
    fn eq(&self, o: &Self) -> bool {
        self.source == o.source
    }
}
/// Errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegexError {
    /// Invalid.
    #[error("invalid regex: {0}")]
    Invalid(String),
}
impl RegexError {
    /// Code.
    pub fn code(&self) -> &'static str {
        "invalid_regex"
    }
}
