//! Portable regular expressions for the `matches` operator.
//!
//! A flag rule's `matches` operator asks whether a user attribute matches a
//! regex. The Rust server evaluates it with the `regex` crate and the
//! TypeScript SDK with `new RegExp(pattern, "u").test(input)` on the source
//! pattern as the user wrote it, and the two must always agree. They only agree on a *subset* of regex syntax, so a
//! pattern is checked against that subset when a flag is saved
//! ([`PortableRegex::parse`]) and compiled here so that Rust's meaning equals
//! ECMAScript's `/u` meaning (no other flags: case-sensitive, `^`/`$` anchor
//! the whole input, `.` does not match line terminators).
//!
//! # How it works
//!
//! The pattern is parsed with `regex_syntax`'s AST parser (nesting limit 32),
//! the AST is walked to reject every construct whose meaning differs between
//! the engines, and the few constructs whose spelling is shared but whose
//! meaning differs are rewritten by span-based text substitution before the
//! Rust regex is built. Everything else is passed through verbatim.
//!
//! # Translated constructs
//!
//! | source | ECMAScript `/u` meaning | compiled for Rust as |
//! | --- | --- | --- |
//! | `.` | any code point except `\n \r U+2028 U+2029` | `[^\n\r\x{2028}\x{2029}]` |
//! | `\d` / `\D` | ASCII digits / not | `[0-9]` / `[^0-9]` |
//! | `\w` / `\W` | `[0-9A-Za-z_]` / not | `[0-9A-Za-z_]` / `[^0-9A-Za-z_]` |
//! | `\s` / `\S` | WhiteSpace + LineTerminator / not | the explicit set `\t \n \v \f \r U+0020 U+00A0 U+1680 U+2000-U+200A U+2028 U+2029 U+202F U+205F U+3000 U+FEFF` / its negation |
//! | `\b` | ASCII word boundary | `(?-u:\b)` |
//!
//! Rust's defaults are Unicode-aware for all of these (`\d` is `\p{Nd}`, `\s`
//! includes U+0085 but not U+FEFF, `.` matches `\r`, ...). Inside a bracket
//! class the same replacements are spliced in as *nested* classes
//! (`[a\d]` becomes `[a[0-9]]`, `[^\D]` becomes `[^[^0-9]]`), which Rust
//! supports and which avoids any interaction with neighbouring `-`.
//! `(?-u:\b)` is accepted by Rust in a Unicode (`&str`) regex and treats
//! every non-ASCII character as a non-word character, exactly like `/u`
//! without the `i` flag.
//!
//! `\B` was meant to become `(?-u:\B)`, but testing against Node 20 (V8
//! 11.3) showed that V8 tries a zero-width match *between the two UTF-16
//! halves* of an astral character, where both neighbours are non-word code
//! units: `/\B/u.test("a🚀z")` is `true` in V8 (match at index 2) while the
//! ECMAScript specification and Rust say `false`. V8 never consumes a
//! character from such a position, and `^`, `$` and `\b` are never true
//! there, so `\B` is the only construct of the subset affected, and it is
//! rejected.
//!
//! `^` and `$` are passed through: without the multi-line flag both engines
//! anchor them to the start and end of the whole input (Rust's `$` does not
//! match before a trailing `\n`, just like ECMAScript's). Literal characters,
//! `\xHH`, `\uHHHH`, `\u{H...}`, `\n \t \r \f \v`, ranges, negated classes,
//! groups `( )` and `(?: )`, alternation and the quantifiers `? * + {n}
//! {n,} {n,m}` (greedy or lazy) mean the same in both engines. Matching is an
//! unanchored search, like `RegExp.prototype.test`; for regexes without
//! backreferences or look-around the *existence* of a match does not depend
//! on Rust's leftmost-first versus ECMAScript's backtracking order.
//!
//! # Rejected constructs
//!
//! [`RegexError::NonPortable`] (with the construct's offset in characters):
//!
//! * inline flags and flag groups: `(?i)`, `(?x:...)`, ...;
//! * named groups: `(?P<n>...)` and `(?<n>...)`;
//! * Unicode classes `\p{..}`, `\P{..}`, `\pL`: Unicode table versions differ
//!   between the engines and Rust accepts names ECMAScript does not;
//! * POSIX classes `[[:alpha:]]` and nested classes written by the user
//!   (`[a[b]]`): ECMAScript `/u` reads `[` inside a class as a literal;
//! * class set operations `&&`, `--`, `~~` (literal characters in
//!   ECMAScript), and any other `--` inside a class (Rust reads `[--a]` as
//!   two dashes and `a`, ECMAScript as the range `-`..`a`);
//! * `\B` (see above) and the Rust-only assertions `\A`, `\z`, `\<`, `\>`,
//!   `\b{start}`, `\b{end}`, `\b{start-half}`, `\b{end-half}`;
//! * escapes ECMAScript `/u` rejects: outside a class only
//!   `^ $ \ . * + ? ( ) [ ] { } | /` may be escaped, inside a class those
//!   and `-`; `\#`, `\&`, `\~`, `\-` (outside a class), `\%`, `\_` and other
//!   "superfluous" escapes Rust tolerates are rejected, as are `\x{..}`,
//!   `\U........`, `\U{..}` and `\a`;
//! * escapes of surrogate code points (`\uD800`, `\u{DC00}`): Rust cannot
//!   represent them, and ECMAScript would combine `\uD83D\uDE80` into one
//!   code point; write `\u{1F680}` instead;
//! * an unescaped `{`, `}` or `]` outside a class (ECMAScript `/u` throws on
//!   them, Rust reads them as literals), and an unescaped `]` first in a
//!   class (Rust reads `[]a]` as the class of `]` and `a`, ECMAScript as an
//!   empty class followed by `a]`);
//! * a quantifier applied to an assertion (`^*`, `\b+`) or directly to
//!   another quantifier (`a**`, `a{2}{3}`): both are syntax errors in
//!   ECMAScript `/u`, Rust accepts them;
//! * counted repetitions not written exactly as `{n}`, `{n,}` or `{n,m}`
//!   (Rust skips whitespace inside the braces, ECMAScript does not).
//!
//! [`RegexError::Invalid`]: anything `regex_syntax` cannot parse, including
//! constructs ECMAScript has but Rust lacks (backreferences, look-around,
//! `\0`, `\cX`, `[\b]`, `{,n}`, the empty classes `[]` and `[^]`).
//!
//! [`RegexError::TooLarge`]: a pattern longer than
//! [`PortableRegex::MAX_PATTERN_LEN`] characters, a repetition count above
//! 1000, nesting deeper than 32 levels, or a compiled program above 1 MiB
//! (enough for length rules such as `^.{0,255}$`, up to about `.{0,750}`).
//! The compiled size grows with the size of the repeated class: with the
//! translated `.` the largest accepted bounded repetition is about
//! `^.{1,189}$`, with `\S` about `^\S{1,121}$`, while `^\w{1,1000}$` fits.
//!
//! The cases in `tests/vectors/regex.json` are shared with the TypeScript
//! SDK: each valid pattern's expected results hold in both engines (checked
//! against Node 20 when the file was written), and each invalid pattern
//! carries the [`RegexError::code`] this module returns.
//!
//! # Haystacks
//!
//! Rust strings cannot hold lone surrogates, so the SDK's behaviour on such
//! JavaScript strings is outside what these two engines can agree on.

use regex_syntax::ast::{
    self, Assertion, AssertionKind, Ast, ClassBracketed, ClassPerl, ClassPerlKind, ClassSet,
    ClassSetBinaryOpKind, ClassSetItem, Group, GroupKind, HexLiteralKind, Literal, LiteralKind,
    Repetition, RepetitionKind, RepetitionRange, Span, SpecialLiteralKind,
};

/// Deepest nesting of groups, classes and repetitions the parser accepts.
const NEST_LIMIT: u32 = 32;
/// Largest count allowed in a counted repetition such as `{n,m}`.
const MAX_REPETITION: u32 = 1000;
/// Limit on the compiled program (`RegexBuilder::size_limit`), in bytes.
const SIZE_LIMIT: usize = 1024 * 1024;
/// Limit on the lazy DFA's cache (`RegexBuilder::dfa_size_limit`), in bytes.
const DFA_SIZE_LIMIT: usize = 1024 * 1024;

/// ECMAScript's SyntaxCharacter set: the characters `/u` lets you escape,
/// together with `/` (and `-` inside a class).
const SYNTAX_CHARACTERS: &str = r"^$\.*+?()[]{}|";
/// ECMAScript `.` without the `s` flag.
const DOT: &str = r"[^\n\r\x{2028}\x{2029}]";
/// ECMAScript `\d`.
const DIGIT: &str = "[0-9]";
/// ECMAScript `\D`.
const NOT_DIGIT: &str = "[^0-9]";
/// ECMAScript `\w` without the `i` flag.
const WORD: &str = "[0-9A-Za-z_]";
/// ECMAScript `\W` without the `i` flag.
const NOT_WORD: &str = "[^0-9A-Za-z_]";
/// ECMAScript `\s`: WhiteSpace (TAB, VT, FF, ZWNBSP, Zs) plus LineTerminator.
const SPACE: &str = r"[\t\n\x0B\x0C\r\x20\xA0\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]";
/// ECMAScript `\S`.
const NOT_SPACE: &str = r"[^\t\n\x0B\x0C\r\x20\xA0\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]";
/// ECMAScript `\b` (ASCII word characters only).
const WORD_BOUNDARY: &str = r"(?-u:\b)";

/// A regex in Halyard's portable subset, compiled for matching.
///
/// See the [module documentation](self) for the subset. Two values are equal
/// when their source patterns are equal.
#[derive(Clone, Debug)]
pub struct PortableRegex {
    /// The pattern as the user wrote it.
    source: Box<str>,
    /// The translated pattern, compiled.
    regex: ::regex::Regex,
}

impl PortableRegex {
    /// Longest accepted pattern, counted in Unicode scalar values (Rust
    /// `char`s), not bytes or UTF-16 code units.
    pub const MAX_PATTERN_LEN: usize = 1024;

    /// Checks that `pattern` is in the portable subset and compiles it.
    ///
    /// # Errors
    ///
    /// [`RegexError::Invalid`] when the pattern does not parse,
    /// [`RegexError::NonPortable`] when it uses a construct whose meaning
    /// differs between Rust and ECMAScript `/u`, and [`RegexError::TooLarge`]
    /// when it exceeds a size limit.
    pub fn parse(pattern: &str) -> Result<PortableRegex, RegexError> {
        let translated = translate(pattern)?;
        let regex = ::regex::RegexBuilder::new(&translated)
            .size_limit(SIZE_LIMIT)
            .dfa_size_limit(DFA_SIZE_LIMIT)
            .build()
            .map_err(compile_error)?;
        Ok(PortableRegex {
            source: pattern.into(),
            regex,
        })
    }

    /// Whether the regex matches anywhere in `haystack` (an unanchored
    /// search, like ECMAScript's `RegExp.prototype.test`).
    ///
    /// This does not allocate once the calling thread's matching cache has
    /// warmed up.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.regex.is_match(haystack)
    }

    /// The pattern as the user wrote it (not the translated pattern).
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for PortableRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for PortableRegex {}

/// Why a pattern was refused by [`PortableRegex::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegexError {
    /// The pattern does not parse at all (the parser's message, lowercase,
    /// with the character offset of the problem).
    #[error("invalid regex: {0}")]
    Invalid(String),
    /// The pattern parses, but uses a construct whose meaning differs between
    /// Rust and ECMAScript `/u`.
    #[error("non-portable regex construct at offset {offset}: {construct}")]
    NonPortable {
        /// What the construct is, quoting it.
        construct: String,
        /// Where it starts, in characters from the start of the pattern.
        offset: usize,
    },
    /// The pattern is too long, a repetition count is too large, nesting is
    /// too deep, or the compiled program exceeds the size limit.
    #[error("regex too large: {0}")]
    TooLarge(String),
}

impl RegexError {
    /// A stable, machine-readable code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            RegexError::Invalid(_) => "invalid_regex",
            RegexError::NonPortable { .. } => "non_portable_regex",
            RegexError::TooLarge(_) => "regex_too_large",
        }
    }
}

/// Checks `pattern` and returns the equivalent pattern for the Rust engine.
fn translate(pattern: &str) -> Result<String, RegexError> {
    if pattern
        .chars()
        .nth(PortableRegex::MAX_PATTERN_LEN)
        .is_some()
    {
        return Err(RegexError::TooLarge(format!(
            "pattern has {} characters, more than the limit of {}",
            pattern.chars().count(),
            PortableRegex::MAX_PATTERN_LEN
        )));
    }
    let ast = ast::parse::ParserBuilder::new()
        .nest_limit(NEST_LIMIT)
        .build()
        .parse(pattern)
        .map_err(|err| parse_error(pattern, &err))?;
    let mut checker = Checker {
        pattern,
        edits: Vec::new(),
    };
    checker.ast(&ast)?;
    let mut edits = checker.edits;
    edits.sort_unstable_by_key(|&(start, _, _)| start);
    let mut out = String::with_capacity(pattern.len() + 24 * edits.len());
    let mut done = 0;
    for (start, end, with) in edits {
        out.push_str(&pattern[done..start]);
        out.push_str(with);
        done = end;
    }
    out.push_str(&pattern[done..]);
    Ok(out)
}

/// The number of characters in `pattern` before byte offset `byte`.
fn char_offset(pattern: &str, byte: usize) -> usize {
    pattern[..byte].chars().count()
}

/// Maps a `regex_syntax` parse error to a [`RegexError`].
fn parse_error(pattern: &str, err: &ast::Error) -> RegexError {
    let span = err.span();
    match err.kind() {
        ast::ErrorKind::NestLimitExceeded(limit) => {
            RegexError::TooLarge(format!("nesting is deeper than {limit} levels"))
        }
        ast::ErrorKind::EscapeHexInvalid => {
            // The span covers the hex digits of `\uD800` or `\u{D800}`.
            let digits = &pattern[span.start.offset..span.end.offset];
            let surrogate = u32::from_str_radix(digits, 16)
                .is_ok_and(|value| (0xD800..=0xDFFF).contains(&value));
            let escape = pattern[..span.start.offset].rfind('\\');
            let mut end = span.end.offset;
            if pattern[end..].starts_with('}') {
                end += 1;
            }
            match escape {
                Some(escape) if surrogate => RegexError::NonPortable {
                    construct: format!(
                        "surrogate code point escape `{}` (Rust cannot represent surrogates; \
                         write an astral code point as `\\u{{...}}`)",
                        &pattern[escape..end],
                    ),
                    offset: char_offset(pattern, escape),
                },
                _ => invalid(pattern, err),
            }
        }
        _ => invalid(pattern, err),
    }
}

/// [`RegexError::Invalid`] from a parse error: its message and offset.
fn invalid(pattern: &str, err: &ast::Error) -> RegexError {
    let message = err.kind().to_string();
    RegexError::Invalid(format!(
        "{} at offset {}",
        message.trim_end_matches('.'),
        char_offset(pattern, err.span().start.offset)
    ))
}

/// Maps an error from building the translated regex to a [`RegexError`].
fn compile_error(err: ::regex::Error) -> RegexError {
    match err {
        ::regex::Error::CompiledTooBig(limit) => RegexError::TooLarge(format!(
            "compiled regex exceeds the size limit of {limit} bytes"
        )),
        // The AST checks leave nothing the translator rejects; keep the last
        // line of the message ("error: ...") should that ever change.
        other => {
            let message = other.to_string();
            let line = message.lines().last().unwrap_or_default();
            let line = line.trim().trim_start_matches("error:").trim();
            RegexError::Invalid(line.trim_end_matches('.').to_owned())
        }
    }
}

/// Walks the AST, rejecting non-portable constructs and recording the text
/// substitutions that give Rust the ECMAScript meaning.
struct Checker<'p> {
    /// The source pattern.
    pattern: &'p str,
    /// `(start byte, end byte, replacement)`, non-overlapping.
    edits: Vec<(usize, usize, &'static str)>,
}

impl<'p> Checker<'p> {
    /// The source text of `span`.
    fn text(&self, span: &Span) -> &'p str {
        &self.pattern[span.start.offset..span.end.offset]
    }

    /// A [`RegexError::NonPortable`] at byte offset `byte`.
    fn reject(&self, byte: usize, construct: String) -> RegexError {
        RegexError::NonPortable {
            construct,
            offset: char_offset(self.pattern, byte),
        }
    }

    /// Replaces the source text of `span` with `with`.
    fn replace(&mut self, span: &Span, with: &'static str) {
        self.edits.push((span.start.offset, span.end.offset, with));
    }

    fn ast(&mut self, ast: &Ast) -> Result<(), RegexError> {
        match ast {
            Ast::Empty(_) => Ok(()),
            Ast::Flags(flags) => Err(self.reject(
                flags.span.start.offset,
                format!("inline flags `{}`", self.text(&flags.span)),
            )),
            Ast::Literal(literal) => self.literal(literal, false),
            Ast::Dot(span) => {
                self.replace(span, DOT);
                Ok(())
            }
            Ast::Assertion(assertion) => self.assertion(assertion),
            Ast::ClassUnicode(class) => Err(self.reject(
                class.span.start.offset,
                format!("Unicode property class `{}`", self.text(&class.span)),
            )),
            Ast::ClassPerl(class) => {
                self.perl(class);
                Ok(())
            }
            Ast::ClassBracketed(class) => self.bracketed(class),
            Ast::Repetition(repetition) => self.repetition(repetition),
            Ast::Group(group) => self.group(group),
            Ast::Alternation(alternation) => {
                alternation.asts.iter().try_for_each(|ast| self.ast(ast))
            }
            Ast::Concat(concat) => concat.asts.iter().try_for_each(|ast| self.ast(ast)),
        }
    }

    fn literal(&mut self, literal: &Literal, in_class: bool) -> Result<(), RegexError> {
        let start = literal.span.start.offset;
        let text = self.text(&literal.span);
        let c = literal.c;
        let problem = match &literal.kind {
            LiteralKind::Verbatim => match c {
                ']' if in_class => Some(
                    "unescaped `]` first in a character class (ECMAScript reads `[]` as an \
                     empty class; escape it as `\\]`)"
                        .to_owned(),
                ),
                '{' | '}' | ']' if !in_class => Some(format!(
                    "unescaped `{c}` (ECMAScript /u rejects it; escape it as `\\{c}`)"
                )),
                _ => None,
            },
            LiteralKind::Meta | LiteralKind::Superfluous => {
                let allowed = SYNTAX_CHARACTERS.contains(c) || c == '/' || (in_class && c == '-');
                (!allowed).then(|| {
                        format!(
                            "escape `{text}` (ECMAScript /u only allows escaping `{SYNTAX_CHARACTERS}`, `/`{})",
                            if in_class { " and, in a class, `-`" } else { "" }
                        )
                    })
            }
            LiteralKind::Octal => Some(format!("octal escape `{text}`")),
            LiteralKind::HexFixed(HexLiteralKind::X | HexLiteralKind::UnicodeShort)
            | LiteralKind::HexBrace(HexLiteralKind::UnicodeShort) => None,
            LiteralKind::HexFixed(HexLiteralKind::UnicodeLong)
            | LiteralKind::HexBrace(HexLiteralKind::X | HexLiteralKind::UnicodeLong) => {
                Some(format!(
                    "escape `{text}` (write code points as `\\xHH`, `\\uHHHH` or `\\u{{H...}}`)"
                ))
            }
            LiteralKind::Special(special) => match special {
                SpecialLiteralKind::FormFeed
                | SpecialLiteralKind::Tab
                | SpecialLiteralKind::LineFeed
                | SpecialLiteralKind::CarriageReturn
                | SpecialLiteralKind::VerticalTab => None,
                SpecialLiteralKind::Bell | SpecialLiteralKind::Space => {
                    Some(format!("escape `{text}`"))
                }
            },
        };
        match problem {
            Some(construct) => Err(self.reject(start, construct)),
            None => Ok(()),
        }
    }

    fn assertion(&mut self, assertion: &Assertion) -> Result<(), RegexError> {
        match assertion.kind {
            AssertionKind::StartLine | AssertionKind::EndLine => Ok(()),
            AssertionKind::WordBoundary => {
                self.replace(&assertion.span, WORD_BOUNDARY);
                Ok(())
            }
            AssertionKind::NotWordBoundary => Err(self.reject(
                assertion.span.start.offset,
                "`\\B` (V8 tests it between the two UTF-16 halves of an astral character, \
                 so `/\\B/u.test(\"a🚀z\")` is true in V8 but false in Rust)"
                    .to_owned(),
            )),
            AssertionKind::StartText
            | AssertionKind::EndText
            | AssertionKind::WordBoundaryStart
            | AssertionKind::WordBoundaryEnd
            | AssertionKind::WordBoundaryStartAngle
            | AssertionKind::WordBoundaryEndAngle
            | AssertionKind::WordBoundaryStartHalf
            | AssertionKind::WordBoundaryEndHalf => Err(self.reject(
                assertion.span.start.offset,
                format!("Rust-only assertion `{}`", self.text(&assertion.span)),
            )),
        }
    }

    fn perl(&mut self, class: &ClassPerl) {
        let with = match (&class.kind, class.negated) {
            (ClassPerlKind::Digit, false) => DIGIT,
            (ClassPerlKind::Digit, true) => NOT_DIGIT,
            (ClassPerlKind::Word, false) => WORD,
            (ClassPerlKind::Word, true) => NOT_WORD,
            (ClassPerlKind::Space, false) => SPACE,
            (ClassPerlKind::Space, true) => NOT_SPACE,
        };
        self.replace(&class.span, with);
    }

    fn bracketed(&mut self, class: &ClassBracketed) -> Result<(), RegexError> {
        match &class.kind {
            ClassSet::Item(item) => self.class_item(item),
            ClassSet::BinaryOp(op) => {
                let symbol = match op.kind {
                    ClassSetBinaryOpKind::Intersection => "&&",
                    ClassSetBinaryOpKind::Difference => "--",
                    ClassSetBinaryOpKind::SymmetricDifference => "~~",
                };
                Err(self.reject(
                    op.lhs.span().end.offset,
                    format!("character class set operation `{symbol}`"),
                ))
            }
        }
    }

    fn class_item(&mut self, item: &ClassSetItem) -> Result<(), RegexError> {
        match item {
            ClassSetItem::Empty(_) => Ok(()),
            ClassSetItem::Literal(literal) => self.literal(literal, true),
            ClassSetItem::Range(range) => {
                self.literal(&range.start, true)?;
                self.literal(&range.end, true)
            }
            ClassSetItem::Ascii(class) => Err(self.reject(
                class.span.start.offset,
                format!("POSIX character class `{}`", self.text(&class.span)),
            )),
            ClassSetItem::Unicode(class) => Err(self.reject(
                class.span.start.offset,
                format!("Unicode property class `{}`", self.text(&class.span)),
            )),
            ClassSetItem::Perl(class) => {
                self.perl(class);
                Ok(())
            }
            ClassSetItem::Bracketed(class) => Err(self.reject(
                class.span.start.offset,
                "nested character class (ECMAScript /u reads `[` inside a class as a literal; \
                 escape it as `\\[`)"
                    .to_owned(),
            )),
            ClassSetItem::Union(union) => {
                for (index, item) in union.items.iter().enumerate() {
                    if is_verbatim_dash(item)
                        && union.items.get(index + 1).is_some_and(is_verbatim_dash)
                    {
                        return Err(self.reject(
                            item.span().start.offset,
                            "`--` in a character class (Rust reads leading dashes as literals, \
                             ECMAScript as a range; escape them as `\\-`)"
                                .to_owned(),
                        ));
                    }
                    self.class_item(item)?;
                }
                Ok(())
            }
        }
    }

    fn repetition(&mut self, repetition: &Repetition) -> Result<(), RegexError> {
        self.ast(&repetition.ast)?;
        let op = self.text(&repetition.op.span);
        let op_start = repetition.op.span.start.offset;
        match &*repetition.ast {
            Ast::Assertion(_) => {
                return Err(self.reject(op_start, format!("quantifier `{op}` on an assertion")));
            }
            Ast::Repetition(_) => {
                return Err(self.reject(
                    op_start,
                    format!(
                        "quantifier `{op}` directly on another quantifier (wrap it in `(?:...)`)"
                    ),
                ));
            }
            _ => {}
        }
        if let RepetitionKind::Range(range) = &repetition.op.kind {
            if !is_js_counted_quantifier(op) {
                return Err(self.reject(
                    op_start,
                    format!(
                        "counted repetition `{op}` (write it as `{{n}}`, `{{n,}}` or `{{n,m}}`)"
                    ),
                ));
            }
            let max = match *range {
                RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) => n,
                RepetitionRange::Bounded(_, m) => m,
            };
            if max > MAX_REPETITION {
                return Err(RegexError::TooLarge(format!(
                    "repetition count {max} in `{op}` at offset {} exceeds the limit of {MAX_REPETITION}",
                    char_offset(self.pattern, op_start)
                )));
            }
        }
        Ok(())
    }

    fn group(&mut self, group: &Group) -> Result<(), RegexError> {
        let start = group.span.start.offset;
        match &group.kind {
            GroupKind::CaptureIndex(_) => {}
            GroupKind::CaptureName { name, .. } => {
                return Err(self.reject(
                    start,
                    format!(
                        "named capture group `{}`",
                        &self.pattern[start..name.span.end.offset + 1]
                    ),
                ));
            }
            GroupKind::NonCapturing(flags) => {
                if !flags.items.is_empty() {
                    return Err(self.reject(
                        start,
                        format!(
                            "inline flags `{}`",
                            &self.pattern[start..flags.span.end.offset + 1]
                        ),
                    ));
                }
            }
        }
        self.ast(&group.ast)
    }
}

/// Whether `item` is an unescaped `-`.
fn is_verbatim_dash(item: &ClassSetItem) -> bool {
    matches!(
        item,
        ClassSetItem::Literal(Literal {
            kind: LiteralKind::Verbatim,
            c: '-',
            ..
        })
    )
}

/// Whether `op` (the source of a counted repetition, with an optional lazy
/// `?`) is spelled the way ECMAScript accepts: `{n}`, `{n,}` or `{n,m}`.
fn is_js_counted_quantifier(op: &str) -> bool {
    let body = op.strip_suffix('?').unwrap_or(op);
    let Some(inner) = body.strip_prefix('{').and_then(|b| b.strip_suffix('}')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match inner.split_once(',') {
        None => digits(inner),
        Some((min, max)) => digits(min) && (max.is_empty() || digits(max)),
    }
}

#[cfg(test)]
mod tests {
    use super::{PortableRegex, RegexError};

    #[track_caller]
    fn compile(pattern: &str) -> PortableRegex {
        match PortableRegex::parse(pattern) {
            Ok(regex) => regex,
            Err(err) => panic!("{pattern:?} should be accepted: {err}"),
        }
    }

    #[track_caller]
    fn assert_matches(pattern: &str, yes: &[&str], no: &[&str]) {
        let regex = compile(pattern);
        for input in yes {
            assert!(regex.is_match(input), "{pattern:?} should match {input:?}");
        }
        for input in no {
            assert!(
                !regex.is_match(input),
                "{pattern:?} should not match {input:?}"
            );
        }
    }

    #[track_caller]
    fn error(pattern: &str) -> RegexError {
        match PortableRegex::parse(pattern) {
            Ok(_) => panic!("{pattern:?} should be rejected"),
            Err(err) => err,
        }
    }

    #[track_caller]
    fn assert_non_portable(pattern: &str, offset: usize, construct_contains: &str) {
        match error(pattern) {
            RegexError::NonPortable {
                construct,
                offset: got,
            } => {
                assert_eq!(got, offset, "{pattern:?}: offset ({construct})");
                assert!(
                    construct.contains(construct_contains),
                    "{pattern:?}: {construct:?} should mention {construct_contains:?}"
                );
            }
            other => panic!("{pattern:?} should be non-portable, got {other:?}"),
        }
    }

    #[track_caller]
    fn assert_code(pattern: &str, code: &str) {
        assert_eq!(error(pattern).code(), code, "{pattern:?}");
    }

    /// The premise of the translation: Rust's own meaning of these
    /// constructs differs from ECMAScript `/u`.
    #[test]
    fn rust_defaults_differ_from_ecmascript() {
        let rust = |p: &str, s: &str| ::regex::Regex::new(p).unwrap().is_match(s);
        assert!(rust(r"^\d$", "١"));
        assert!(rust(r"^\w$", "é"));
        assert!(rust(r"^\s$", "\u{85}"));
        assert!(!rust(r"^\s$", "\u{feff}"));
        assert!(rust("^.$", "\r"));
        assert!(rust("^.$", "\u{2028}"));
        assert!(!rust(r"a\b", "aé"));
        assert!(rust("a]", "a]"));
        assert!(rust("[]a]", "]"));
        assert!(rust("[--a]", "-"));
        assert!(!rust("[--a]", "0"));
        assert!(rust("a{ 2 }", "aa"));
        // `$` without multi-line mode is the end of the input, as in ECMAScript.
        assert!(!rust("a$", "a\n"));
    }

    #[test]
    fn accessors_and_equality() {
        let a = compile(r"^user-\d+$");
        assert_eq!(a.as_str(), r"^user-\d+$");
        assert_eq!(a, compile(r"^user-\d+$"));
        assert_ne!(a, compile(r"^user-[0-9]+$"));
        assert_eq!(a.clone(), a);
    }

    #[test]
    fn empty_pattern_matches_everything() {
        assert_matches("", &["", "abc", "🚀"], &[]);
        assert_matches("a|", &["", "zzz"], &[]);
        assert_matches("^(|a)$", &["", "a"], &["b"]);
    }

    #[test]
    fn search_is_unanchored_and_case_sensitive() {
        assert_matches("abc", &["xxabcxx", "abc"], &["ABC", "ab"]);
    }

    #[test]
    fn digit_is_ascii() {
        assert_matches(r"^\d+$", &["0123456789"], &["١٢٣", "１２３", "", "12a"]);
        assert_matches(r"\D", &["a", "١"], &["123", ""]);
        assert_matches(r"^[^\d]+$", &["abc", "١٢٣"], &["a1"]);
        assert_matches(r"^[\D]+$", &["abc", "١"], &["a1"]);
        assert_matches(r"^[^\D]+$", &["123"], &["١", "a"]);
    }

    #[test]
    fn word_is_ascii() {
        assert_matches(r"^\w+$", &["abc_XYZ_09"], &["é", "naïve", "ß", "a-b"]);
        assert_matches(r"\W", &["é", " ", "🚀"], &["a", "_", "9"]);
        assert_matches(r"^[\w-]+$", &["user-name_1", "-"], &["user.name", "ü"]);
        assert_matches(r"^[\W\d]+$", &["é1"], &["a"]);
    }

    #[test]
    fn space_is_the_ecmascript_set() {
        let yes = [
            " ", "\t", "\n", "\u{b}", "\u{c}", "\r", "\u{a0}", "\u{1680}", "\u{2000}", "\u{2005}",
            "\u{200a}", "\u{2028}", "\u{2029}", "\u{202f}", "\u{205f}", "\u{3000}", "\u{feff}",
        ];
        // U+0085 and U+180E are Unicode White_Space (Rust's default `\s`) or
        // were once, but not ECMAScript whitespace; U+200B never was.
        let no = ["\u{85}", "\u{180e}", "\u{200b}", "a", ""];
        assert_matches(r"^\s$", &yes, &no);
        assert_matches(r"^[\s]$", &yes, &no);
        assert_matches(r"^\S$", &no[..4], &yes);
        assert_matches(r"^[^\s]$", &no[..4], &yes);
        assert_matches(r"^[\s\S]*$", &["line1\nline2", "", "\u{2028}"], &[]);
    }

    #[test]
    fn dot_excludes_exactly_the_line_terminators() {
        assert_matches(
            "^.$",
            &["a", "🚀", "é", "\u{85}", "\0", "\u{10ffff}"],
            &["\n", "\r", "\u{2028}", "\u{2029}", "", "e\u{301}", "ab"],
        );
        assert_matches("^..$", &["e\u{301}", "👍🏽", "🇫🇷"], &["🚀"]);
        assert_matches("a.c", &["abc", "a🚀c"], &["a\nc", "a\rc"]);
        // Inside a class `.` is a literal.
        assert_matches("^[.]$", &["."], &["a"]);
    }

    #[test]
    fn word_boundary_is_ascii() {
        assert_matches(
            r"\bfoo\b",
            &["foo", "a foo b", "éfooé"],
            &["foobar", "_foo", "1foo"],
        );
        assert_matches(r"a\b", &["aé", "a"], &["ab", "a_"]);
        assert_matches(r"(?:\b)+a", &["a", " a"], &["ba"]);
        // Never a boundary inside or around an astral character on its own.
        assert_matches(r"\b", &["a🚀", "🚀a"], &["🚀", "🚀🚀", ""]);
        assert_matches(r"a\b🚀\bz", &["a🚀z"], &[]);
    }

    #[test]
    fn rejects_not_word_boundary() {
        // V8 reports a zero-width `\B` match between the surrogate halves of
        // 🚀 in "a🚀z"; the specification and Rust do not.
        assert_non_portable(r"\B", 0, r"\B");
        assert_non_portable(r"x?\B", 2, r"\B");
        assert_non_portable(r"[a]\Bb", 3, r"\B");
    }

    #[test]
    fn anchors_are_whole_input() {
        assert_matches("^abc$", &["abc"], &["abc\n", "\nabc", "x\nabc\ny"]);
        assert_matches("abc$", &["xabc"], &["abc\n", "abc\r\n"]);
        assert_matches("^$", &[""], &["\n", " "]);
    }

    #[test]
    fn escapes() {
        assert_matches(r"^\u0041\x42$", &["AB"], &["ab"]);
        assert_matches(r"^\u{1F680}$", &["🚀"], &["a"]);
        assert_matches(r"^\u{0000041}$", &["A"], &[]);
        assert_matches(r"^caf\u00e9$", &["café"], &["cafe\u{301}"]);
        assert_matches(r"^\t\n\r\f\v$", &["\t\n\r\u{c}\u{b}"], &["tnrfv"]);
        assert_matches(r"\/path\/", &["/path/"], &["path"]);
        assert_matches(
            r"^\$\^\.\*\+\?\(\)\{\}\|\[\]\\$",
            &["$^.*+?(){}|[]\\"],
            &["x"],
        );
        assert_matches(r"^[\-\]\[\\^\/]+$", &["-][\\^/"], &["a"]);
        assert_matches("^a#b&c~d-e/f$", &["a#b&c~d-e/f"], &[]);
    }

    #[test]
    fn classes_and_ranges() {
        assert_matches(r"^[\u{1F600}-\u{1F64F}]$", &["😀", "🙏"], &["🚀", "a"]);
        assert_matches("^[😀-🙏]+$", &["😀🙏"], &["🚀"]);
        assert_matches("^[a-z-0]+$", &["a-0", "z-z"], &["5"]);
        assert_matches("^[-a]+$", &["-a"], &["b"]);
        assert_matches("^[a-]+$", &["-a"], &["b"]);
        assert_matches("^[!-[]+$", &["A", "[", "!"], &["a"]);
        assert_matches("^[{}]+$", &["{}"], &["a"]);
        assert_matches("^[:alpha:]+$", &[":ahp", "alpha"], &["b"]);
        assert_matches("^[^a]$", &["🚀", "\n", "\u{2028}"], &["a"]);
    }

    #[test]
    fn groups_and_repetitions() {
        assert_matches("^(?:ab)+$", &["abab"], &["aba", ""]);
        assert_matches("^(a|b)*c$", &["abbac", "c"], &["abd"]);
        assert_matches("^a{2,3}$", &["aa", "aaa"], &["a", "aaaa"]);
        assert_matches("^a{2,}$", &["aa", "aaaaaa"], &["a"]);
        assert_matches("^a{02}$", &["aa"], &["a"]);
        assert_matches("^a{2}?b$", &["aab"], &["ab"]);
        assert_matches("^a+?b*?c??$", &["a", "aabbc"], &["b"]);
        assert_matches("🚀+", &["🚀🚀", "x🚀"], &["x"]);
        compile("^(?:ab){0,1000}$");
        compile("(?:^)*a");
    }

    #[test]
    fn rejects_flags_and_named_groups() {
        assert_non_portable("(?i)abc", 0, "(?i)");
        assert_non_portable("ab(?i:c)", 2, "(?i:");
        assert_non_portable("(?s).", 0, "(?s)");
        assert_non_portable("(?x) a", 0, "(?x)");
        assert_non_portable("(?-u:a)", 0, "(?-u:");
        assert_non_portable("(?P<name>a)", 0, "(?P<name>");
        assert_non_portable("x(?<name>a)", 1, "(?<name>");
    }

    #[test]
    fn rejects_unicode_posix_nested_classes_and_set_operations() {
        assert_non_portable(r"\p{L}", 0, r"\p{L}");
        assert_non_portable(r"a\pL", 1, r"\pL");
        assert_non_portable(r"\P{Lu}", 0, r"\P{Lu}");
        assert_non_portable(r"[a\p{Greek}]", 2, r"\p{Greek}");
        assert_non_portable("[[:alpha:]]", 1, "[:alpha:]");
        assert_non_portable("[a[b]]", 2, "nested");
        assert_non_portable("[a&&b]", 2, "&&");
        assert_non_portable("[a-z--b]", 4, "--");
        assert_non_portable("[a~~b]", 2, "~~");
        assert_non_portable("[--a]", 1, "--");
        assert_non_portable("[^--a]", 2, "--");
    }

    #[test]
    fn rejects_rust_only_assertions() {
        for (pattern, construct) in [
            (r"\A", r"\A"),
            (r"\z", r"\z"),
            (r"\<", r"\<"),
            (r"\>", r"\>"),
            (r"\b{start}", r"\b{start}"),
            (r"\b{end}", r"\b{end}"),
            (r"\b{start-half}", r"\b{start-half}"),
            (r"\b{end-half}", r"\b{end-half}"),
        ] {
            assert_non_portable(pattern, 0, construct);
        }
    }

    #[test]
    fn rejects_escapes_ecmascript_refuses() {
        for pattern in [
            r"\#",
            r"\&",
            r"\~",
            r"\-",
            r"\%",
            r"\_",
            r"\!",
            r"\ ",
            r"\x{41}",
            r"\U00000041",
            r"\U{41}",
            r"\a",
        ] {
            assert_non_portable(pattern, 0, pattern);
        }
        assert_non_portable(r"[\#]", 1, r"\#");
        assert_non_portable(r"[\&]", 1, r"\&");
        assert_non_portable(r"[\%]", 1, r"\%");
        // `\-` is fine inside a class.
        assert_matches(r"^[a\-z]+$", &["-az"], &["b"]);
    }

    #[test]
    fn rejects_lone_brackets_and_braces() {
        assert_non_portable("a]", 1, "`]`");
        assert_non_portable("a}", 1, "`}`");
        assert_non_portable("}", 0, "`}`");
        assert_non_portable("[]a]", 1, "`]`");
        assert_non_portable("[^]a]", 2, "`]`");
        assert_code("{a}", "invalid_regex");
        assert_code("a{", "invalid_regex");
    }

    #[test]
    fn rejects_non_ecmascript_quantifiers() {
        assert_non_portable("a{ 2 }", 1, "{ 2 }");
        assert_non_portable("a{2 ,3}", 1, "{2 ,3}");
        assert_non_portable(r"\b+", 2, "assertion");
        assert_non_portable("^*", 1, "assertion");
        assert_non_portable("x$?", 2, "assertion");
        assert_non_portable("a**", 2, "quantifier");
        assert_non_portable("a++", 2, "quantifier");
        assert_non_portable("a{2}{3}", 4, "quantifier");
        assert_code("a{,3}", "invalid_regex");
    }

    #[test]
    fn rejects_surrogate_escapes() {
        assert_non_portable(r"\uD800", 0, r"\uD800");
        assert_non_portable(r"x\uD83D\uDE80", 1, r"\uD83D");
        assert_non_portable(r"\u{DC00}", 0, r"\u{DC00}");
        assert_code(r"\u{110000}", "invalid_regex");
    }

    #[test]
    fn offsets_are_in_characters() {
        assert_non_portable("é🚀(?i)", 2, "(?i)");
        assert_non_portable("ü[é&&a]", 3, "&&");
    }

    #[test]
    fn invalid_patterns() {
        for pattern in [
            "(", ")", "[a", r"\0", r"(a)\1", "(?=a)", "(?!a)", "(?<=a)b", r"[\b]", "a{3,2}",
            "[z-a]", r"\cA", "[]", "[^]", r"\k<a>", "*a", "a\\", r"\e", r"\xG0", r"\u12",
            r"[\d-z]",
        ] {
            assert_code(pattern, "invalid_regex");
        }
        assert_eq!(
            error("ab[c").to_string(),
            "invalid regex: unclosed character class at offset 2"
        );
    }

    #[test]
    fn size_limits() {
        let at_limit = "a".repeat(PortableRegex::MAX_PATTERN_LEN);
        compile(&at_limit);
        assert_code(&format!("{at_limit}a"), "regex_too_large");
        // The limit counts characters, not bytes.
        compile(&"é".repeat(PortableRegex::MAX_PATTERN_LEN));
        compile("a{1000}");
        assert_code("a{1001}", "regex_too_large");
        assert_code("a{0,5000}", "regex_too_large");
        assert_code("a{5000,}", "regex_too_large");
        compile("^.{1,180}$");
        compile("^.{0,255}$");
        compile(r"^\w{1,1000}$");
        assert_code("^.{1,1000}$", "regex_too_large");
        assert_code(r"(?:\w{1000}){1000}", "regex_too_large");
        let deep = format!("{}a{}", "(".repeat(33), ")".repeat(33));
        assert_code(&deep, "regex_too_large");
        compile(&format!("{}a{}", "(".repeat(30), ")".repeat(30)));
    }

    #[test]
    fn error_codes_and_messages() {
        let err = error("(?i)a");
        assert_eq!(err.code(), "non_portable_regex");
        assert_eq!(
            err.to_string(),
            "non-portable regex construct at offset 0: inline flags `(?i)`"
        );
        assert_eq!(error("(").code(), "invalid_regex");
        let err = error("a{1001}");
        assert_eq!(err.code(), "regex_too_large");
        assert!(err.to_string().starts_with("regex too large: "), "{err}");
    }

    #[test]
    fn translation_is_what_the_docs_say() {
        let translated = |p: &str| super::translate(p).unwrap();
        assert_eq!(translated(r"^\d+$"), "^[0-9]+$");
        assert_eq!(translated(r"[a\d]"), "[a[0-9]]");
        assert_eq!(translated(r"[^\D]"), "[^[^0-9]]");
        assert_eq!(translated(r"\w\W"), "[0-9A-Za-z_][^0-9A-Za-z_]");
        assert_eq!(translated(r"a.b"), r"a[^\n\r\x{2028}\x{2029}]b");
        assert_eq!(translated(r"\bx\b"), r"(?-u:\b)x(?-u:\b)");
        assert_eq!(translated(r"[.]\/é"), r"[.]\/é");
    }

    /// Every row of the shared vector file (also run by the TypeScript SDK).
    #[test]
    fn shared_vectors() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/regex.json"
        ));
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() >= 40, "only {} cases", cases.len());
        let mut rows = 0;
        for case in cases {
            let pattern = case["pattern"].as_str().unwrap();
            if case["valid"].as_bool().unwrap() {
                let regex = compile(pattern);
                for row in case["matches"].as_array().unwrap() {
                    let input = row["input"].as_str().unwrap();
                    let expected = row["expected"].as_bool().unwrap();
                    assert_eq!(regex.is_match(input), expected, "{pattern:?} on {input:?}");
                    rows += 1;
                }
            } else {
                let code = case["error"].as_str().unwrap();
                assert_eq!(error(pattern).code(), code, "{pattern:?}");
            }
        }
        assert!(rows >= 100, "only {rows} match rows");
    }
}
