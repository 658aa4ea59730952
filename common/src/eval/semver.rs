//! Semantic Versioning 2.0.0 parsing and precedence, exactly as
//! <https://semver.org> defines them (the BNF grammar and §11), with no
//! extensions. The TypeScript SDK implements the same definition; this text is
//! the cross-language specification.
//!
//! # Accepted text
//!
//! A version is accepted if and only if all of the following hold:
//!
//! 1. It is at most [`MAX_LEN`] (256) bytes long and not empty. Longer text is
//!    rejected before any other check.
//! 2. It matches `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]` as below, with
//!    nothing before or after: no leading `v` or `=`, no whitespace anywhere,
//!    no partial versions such as `1.2`, no extra components such as `1.2.3.4`.
//! 3. `MAJOR`, `MINOR` and `PATCH` are *numeric identifiers*: one or more ASCII
//!    digits `0-9`, and no leading zero unless the identifier is exactly `0`
//!    (`0` and `10` are valid, `00` and `01` are not).
//! 4. `PRERELEASE` (after the first `-` that follows `PATCH`) is one or more
//!    dot-separated identifiers. Each identifier is non-empty and made of ASCII
//!    `[0-9A-Za-z-]`. An identifier made only of digits is numeric and must
//!    have no leading zero unless it is exactly `0` (`alpha.0`, `alpha.10`,
//!    `0a`, `01a` and `-01` are valid; `alpha.01` and `alpha..1` are not).
//!    Hyphens inside the pre-release are ordinary identifier characters
//!    (`1.0.0-x-y-z.--` is valid).
//! 5. `BUILD` (after the first `+`) is one or more dot-separated, non-empty
//!    identifiers of ASCII `[0-9A-Za-z-]`. Leading zeros are allowed here
//!    (`1.0.0+001` is valid). A second `+` is invalid.
//!
//! Anything else, including any non-ASCII character, is invalid.
//!
//! # Precedence
//!
//! [`SemVer::cmp_precedence`] orders two versions as §11 says:
//!
//! 1. Compare `MAJOR`, then `MINOR`, then `PATCH` numerically; the first
//!    difference decides.
//! 2. If those are equal, a version *with* a pre-release is lower than the same
//!    version without one (`1.0.0-alpha < 1.0.0`).
//! 3. If both have a pre-release, compare identifiers left to right; the first
//!    difference decides:
//!    - two numeric identifiers compare numerically;
//!    - a numeric identifier is lower than an alphanumeric one;
//!    - two alphanumeric identifiers compare by ASCII byte order (so `Z < a`
//!      and `-` < digits < upper case < lower case);
//!    - if every identifier of the shorter list equals the corresponding one
//!      of the longer list, the shorter list is lower
//!      (`1.0.0-alpha < 1.0.0-alpha.1`).
//! 4. Build metadata is validated but **ignored**: `1.0.0+a` and `1.0.0+b` have
//!    equal precedence.
//!
//! Example chain from the specification, each lower than the next:
//! `1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta <
//! 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0`.
//!
//! # Numbers of any size
//!
//! Numeric identifiers are compared as arbitrary-precision integers and are
//! **never** converted to machine integers or floating point, so
//! `1.0.99999999999999999999999` is valid and greater than
//! `1.0.99999999999999999999998` in every implementation. Because a valid
//! numeric identifier has no leading zero, comparing two of them numerically
//! is the same as comparing their lengths first (the longer is greater) and,
//! for equal lengths, comparing their digits as ASCII text.
//!
//! # Cost
//!
//! [`SemVer::parse`] borrows the input and does not allocate; it runs in time
//! linear in the input (bounded by [`MAX_LEN`]). Neither parsing nor
//! comparison panics on any input. Compiled rule values use [`OwnedSemVer`],
//! parsed once when a rule is saved.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Longest accepted version text, in bytes. Longer text is invalid.
pub const MAX_LEN: usize = 256;

/// A parsed SemVer 2.0.0 version borrowing its text.
///
/// Components are kept as the original digit runs and identifier text, so
/// numbers of any size are represented exactly. The type deliberately has no
/// `PartialEq`/`Ord`: use [`SemVer::cmp_precedence`], which ignores build
/// metadata.
#[derive(Clone, Copy, Debug)]
pub struct SemVer<'a> {
    major: &'a str,
    minor: &'a str,
    patch: &'a str,
    pre: Option<&'a str>,
    build: Option<&'a str>,
}

impl<'a> SemVer<'a> {
    /// Parses `s` strictly as SemVer 2.0.0 (see the module documentation).
    ///
    /// Returns `None` if `s` is longer than [`MAX_LEN`] bytes or is not a
    /// valid version. Never allocates and never panics.
    pub fn parse(s: &'a str) -> Option<SemVer<'a>> {
        if s.is_empty() || s.len() > MAX_LEN {
            return None;
        }
        // Build metadata starts at the first '+'; it cannot contain another.
        let (rest, build) = match s.split_once('+') {
            Some((rest, build)) => {
                if !dot_separated(build, |_| true) {
                    return None;
                }
                (rest, Some(build))
            }
            None => (s, None),
        };
        // The core has no '-', so the first '-' starts the pre-release.
        let (core, pre) = match rest.split_once('-') {
            Some((core, pre)) => {
                if !dot_separated(pre, no_leading_zero_if_numeric) {
                    return None;
                }
                (core, Some(pre))
            }
            None => (rest, None),
        };
        let mut parts = core.split('.');
        let major = parts.next()?;
        let minor = parts.next()?;
        let patch = parts.next()?;
        if parts.next().is_some() || ![major, minor, patch].iter().all(|p| is_numeric_id(p)) {
            return None;
        }
        Some(SemVer {
            major,
            minor,
            patch,
            pre,
            build,
        })
    }

    /// The major version: a digit run with no leading zero (unless `"0"`).
    pub fn major(&self) -> &'a str {
        self.major
    }

    /// The minor version: a digit run with no leading zero (unless `"0"`).
    pub fn minor(&self) -> &'a str {
        self.minor
    }

    /// The patch version: a digit run with no leading zero (unless `"0"`).
    pub fn patch(&self) -> &'a str {
        self.patch
    }

    /// The pre-release identifiers joined by `.`, without the leading `-`.
    pub fn pre(&self) -> Option<&'a str> {
        self.pre
    }

    /// The build metadata without the leading `+`. Validated, but ignored by
    /// [`SemVer::cmp_precedence`].
    pub fn build(&self) -> Option<&'a str> {
        self.build
    }

    /// Compares precedence per SemVer 2.0.0 §11 (see the module
    /// documentation). Build metadata is ignored, so this returns
    /// [`Ordering::Equal`] for `1.0.0+a` and `1.0.0+b`. It is a total order
    /// on precedence classes. Never allocates and never panics.
    pub fn cmp_precedence(&self, other: &SemVer<'_>) -> Ordering {
        cmp_numeric(self.major, other.major)
            .then_with(|| cmp_numeric(self.minor, other.minor))
            .then_with(|| cmp_numeric(self.patch, other.patch))
            .then_with(|| match (self.pre, other.pre) {
                (None, None) => Ordering::Equal,
                // A pre-release version is lower than the release.
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => cmp_pre(a, b),
            })
    }
}

/// An owned, validated version for compiled rule values (parse once at save
/// time, compare many times with [`OwnedSemVer::as_semver`]).
///
/// `PartialEq`/`Eq` compare the exact text, so `1.0.0+a != 1.0.0+b` here even
/// though their precedence is equal; compare precedence with
/// [`SemVer::cmp_precedence`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedSemVer {
    text: Box<str>,
    // Byte offsets into `text` recorded by `parse`, so `as_semver` needs no
    // re-parse. All are ASCII boundaries and at most MAX_LEN.
    major_end: u16,
    minor_end: u16,
    patch_end: u16,
    pre_end: u16,
}

impl OwnedSemVer {
    /// Parses and stores `s`, which must be a valid SemVer 2.0.0 version of
    /// at most [`MAX_LEN`] bytes (see the module documentation).
    ///
    /// # Errors
    ///
    /// Returns [`SemVerError`] holding the rejected text (cut to [`MAX_LEN`]
    /// bytes plus `…` when longer) if `s` is not a valid version.
    pub fn parse(s: &str) -> Result<OwnedSemVer, SemVerError> {
        let v = SemVer::parse(s).ok_or_else(|| SemVerError::for_input(s))?;
        // Lengths are bounded by MAX_LEN (256), so these sums fit in u16.
        let len = |p: &str| p.len() as u16;
        let major_end = len(v.major);
        let minor_end = major_end + 1 + len(v.minor);
        let patch_end = minor_end + 1 + len(v.patch);
        let pre_end = match v.pre {
            Some(pre) => patch_end + 1 + len(pre),
            None => patch_end,
        };
        Ok(OwnedSemVer {
            text: s.into(),
            major_end,
            minor_end,
            patch_end,
            pre_end,
        })
    }

    /// Borrows this version as a [`SemVer`] without re-parsing.
    pub fn as_semver(&self) -> SemVer<'_> {
        let t = &*self.text;
        let (a, b, c, d) = (
            usize::from(self.major_end),
            usize::from(self.minor_end),
            usize::from(self.patch_end),
            usize::from(self.pre_end),
        );
        // The offsets were produced by `parse` from this exact text and all
        // sit on ASCII separators, so the slices below are in bounds and on
        // character boundaries; `get` keeps this panic-free regardless.
        let part = |from: usize, to: usize| t.get(from..to).unwrap_or_default();
        SemVer {
            major: part(0, a),
            minor: part(a + 1, b),
            patch: part(b + 1, c),
            pre: (d > c).then(|| part(c + 1, d)),
            build: (t.len() > d).then(|| part(d + 1, t.len())),
        }
    }

    /// The version text exactly as given to [`OwnedSemVer::parse`].
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for OwnedSemVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for OwnedSemVer {
    type Err = SemVerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OwnedSemVer::parse(s)
    }
}

/// The error for text that is not a valid SemVer 2.0.0 version. Holds the
/// rejected text, cut to [`MAX_LEN`] bytes (at a character boundary) followed
/// by `…` when it was longer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid semver {0:?}: expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] per SemVer 2.0.0")]
pub struct SemVerError(pub String);

impl SemVerError {
    fn for_input(s: &str) -> SemVerError {
        if s.len() <= MAX_LEN {
            return SemVerError(s.to_owned());
        }
        let mut cut = MAX_LEN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut text = String::with_capacity(cut + '…'.len_utf8());
        text.push_str(&s[..cut]);
        text.push('…');
        SemVerError(text)
    }
}

/// True for a non-empty run of ASCII digits without a leading zero (or `"0"`).
fn is_numeric_id(s: &str) -> bool {
    is_digits(s) && no_leading_zero_if_numeric(s)
}

/// True for a non-empty run of ASCII digits.
fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// For a pre-release identifier: false only for a numeric one with a leading
/// zero.
fn no_leading_zero_if_numeric(s: &str) -> bool {
    !(s.len() > 1 && s.starts_with('0') && is_digits(s))
}

/// True if `s` is one or more `.`-separated non-empty identifiers of
/// `[0-9A-Za-z-]`, each also satisfying `extra`.
fn dot_separated(s: &str, extra: fn(&str) -> bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && extra(id)
    })
}

/// Compares two valid numeric identifiers (no leading zeros) as integers of
/// any size: the longer is greater, equal lengths compare as ASCII text.
fn cmp_numeric(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares two valid pre-release strings per SemVer 2.0.0 §11.4.
fn cmp_pre(a: &str, b: &str) -> Ordering {
    let mut ia = a.split('.');
    let mut ib = b.split('.');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = match (is_digits(x), is_digits(y)) {
                    (true, true) => cmp_numeric(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.as_bytes().cmp(y.as_bytes()),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> SemVer<'_> {
        SemVer::parse(s).unwrap_or_else(|| panic!("{s:?} should parse"))
    }

    fn cmp(a: &str, b: &str) -> Ordering {
        v(a).cmp_precedence(&v(b))
    }

    const SPEC_CHAIN: [&str; 8] = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ];

    #[test]
    fn parses_components() {
        let x = v("10.20.30-rc.1.x-y+build.001");
        assert_eq!(x.major(), "10");
        assert_eq!(x.minor(), "20");
        assert_eq!(x.patch(), "30");
        assert_eq!(x.pre(), Some("rc.1.x-y"));
        assert_eq!(x.build(), Some("build.001"));
        let y = v("0.0.0");
        assert_eq!((y.pre(), y.build()), (None, None));
        let z = v("1.2.3+meta-data");
        assert_eq!((z.pre(), z.build()), (None, Some("meta-data")));
    }

    #[test]
    fn rejects_leading_v_and_whitespace() {
        for s in [
            "v1.2.3", "V1.2.3", "=1.2.3", " 1.2.3", "1.2.3 ", "1.2. 3", "1.2.3\n",
        ] {
            assert!(SemVer::parse(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn rejects_wrong_component_count() {
        for s in [
            "", "1", "1.2", "1.2.3.4", "1..3", ".1.2", "1.2.", "1.2.3-", "1.2.3+",
        ] {
            assert!(SemVer::parse(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn rejects_leading_zeros_in_numeric_identifiers() {
        for s in [
            "01.2.3",
            "1.02.3",
            "1.2.03",
            "00.0.0",
            "1.2.3-01",
            "1.2.3-a.00",
        ] {
            assert!(SemVer::parse(s).is_none(), "{s:?}");
        }
        // Alphanumeric identifiers and build metadata may start with zero.
        for s in [
            "1.2.3-0a",
            "1.2.3-01a",
            "1.2.3-0-1",
            "1.2.3-0",
            "1.2.3+001",
            "1.2.3+0.00",
        ] {
            assert!(SemVer::parse(s).is_some(), "{s:?}");
        }
    }

    #[test]
    fn identifiers_are_non_empty_and_restricted() {
        for s in [
            "1.2.3-a..b",
            "1.2.3-.a",
            "1.2.3-a.",
            "1.2.3+a..b",
            "1.2.3-a_b",
            "1.2.3+a+b",
            "1.2.3-é",
            "1.2.3-a b",
            "1.2.3+ü",
            "１.2.3",
        ] {
            assert!(SemVer::parse(s).is_none(), "{s:?}");
        }
        for s in ["1.2.3---", "1.2.3-x-y-z.--", "1.2.3-a-+-", "1.2.3--.-+-.-"] {
            assert!(SemVer::parse(s).is_some(), "{s:?}");
        }
    }

    #[test]
    fn length_cap() {
        let at_cap = format!("1.0.{}", "9".repeat(MAX_LEN - 4));
        assert_eq!(at_cap.len(), MAX_LEN);
        assert!(SemVer::parse(&at_cap).is_some());
        let over = format!("1.0.{}", "9".repeat(MAX_LEN - 3));
        assert!(SemVer::parse(&over).is_none());
        let err = OwnedSemVer::parse(&"é".repeat(200)).unwrap_err();
        assert!(err.0.ends_with('…'));
        assert!(err.0.len() <= MAX_LEN + '…'.len_utf8());
    }

    #[test]
    fn numeric_precedence() {
        assert_eq!(cmp("1.0.0", "2.0.0"), Ordering::Less);
        assert_eq!(cmp("2.0.0", "2.1.0"), Ordering::Less);
        assert_eq!(cmp("2.1.0", "2.1.1"), Ordering::Less);
        assert_eq!(cmp("1.9.0", "1.10.0"), Ordering::Less);
        assert_eq!(cmp("1.10.0", "1.9.99"), Ordering::Greater);
        assert_eq!(cmp("1.2.3", "1.2.3"), Ordering::Equal);
    }

    #[test]
    fn huge_numbers_compare_exactly() {
        assert_eq!(
            cmp("1.0.99999999999999999999999", "1.0.99999999999999999999998"),
            Ordering::Greater
        );
        assert_eq!(
            cmp(
                "1.0.99999999999999999999999",
                "1.0.100000000000000000000000"
            ),
            Ordering::Less
        );
        assert_eq!(
            cmp("18446744073709551616.0.0", "18446744073709551615.0.0"),
            Ordering::Greater
        );
        // 2^53 and 2^53 + 1 are the same f64 but different versions.
        assert_eq!(
            cmp("9007199254740993.0.0", "9007199254740992.0.0"),
            Ordering::Greater
        );
        assert_eq!(
            cmp("1.0.0-9007199254740993", "1.0.0-9007199254740992"),
            Ordering::Greater
        );
    }

    #[test]
    fn prerelease_rules() {
        // A pre-release is lower than the release.
        assert_eq!(cmp("1.0.0-alpha", "1.0.0"), Ordering::Less);
        assert_eq!(cmp("1.0.0-0", "1.0.0"), Ordering::Less);
        // ...but the core numbers decide first.
        assert_eq!(cmp("1.0.1-alpha", "1.0.0"), Ordering::Greater);
        // Numeric identifiers compare numerically.
        assert_eq!(cmp("1.0.0-2", "1.0.0-10"), Ordering::Less);
        // Numeric is lower than alphanumeric.
        assert_eq!(cmp("1.0.0-999", "1.0.0-a"), Ordering::Less);
        assert_eq!(cmp("1.0.0-1", "1.0.0-0a"), Ordering::Less);
        assert_eq!(cmp("1.0.0-9", "1.0.0--"), Ordering::Less);
        // Alphanumeric compare in ASCII order.
        assert_eq!(cmp("1.0.0-Z", "1.0.0-a"), Ordering::Less);
        assert_eq!(cmp("1.0.0-alpha", "1.0.0-alphb"), Ordering::Less);
        assert_eq!(cmp("1.0.0-a-", "1.0.0-a0"), Ordering::Less);
        assert_eq!(cmp("1.0.0-10a", "1.0.0-9a"), Ordering::Less);
        // Shorter set lower when prefix-equal.
        assert_eq!(cmp("1.0.0-a.b", "1.0.0-a.b.c"), Ordering::Less);
        assert_eq!(cmp("1.0.0-a.b.0", "1.0.0-a.b"), Ordering::Greater);
        assert_eq!(cmp("1.0.0-rc.1", "1.0.0-rc.1"), Ordering::Equal);
    }

    #[test]
    fn build_metadata_is_ignored() {
        assert_eq!(cmp("1.0.0+a", "1.0.0+b"), Ordering::Equal);
        assert_eq!(cmp("1.0.0+a", "1.0.0"), Ordering::Equal);
        assert_eq!(cmp("1.0.0-rc.1+z", "1.0.0-rc.1+a.b.c"), Ordering::Equal);
        assert_eq!(cmp("1.0.0-rc.1+zzz", "1.0.0+aaa"), Ordering::Less);
    }

    #[test]
    fn spec_chain_is_strictly_increasing() {
        for (i, a) in SPEC_CHAIN.iter().enumerate() {
            for (j, b) in SPEC_CHAIN.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn owned_round_trip() {
        for s in [
            "0.0.0",
            "1.2.3",
            "1.2.3-rc.1",
            "1.2.3+b",
            "1.2.3-rc.1+b.2",
            "10.200.3000-x-y.--+-",
        ] {
            let o = OwnedSemVer::parse(s).unwrap();
            assert_eq!(o.as_str(), s);
            assert_eq!(o.to_string(), s);
            let (a, b) = (o.as_semver(), v(s));
            assert_eq!(
                (a.major(), a.minor(), a.patch(), a.pre(), a.build()),
                (b.major(), b.minor(), b.patch(), b.pre(), b.build())
            );
            assert_eq!(s.parse::<OwnedSemVer>(), Ok(o));
        }
    }

    #[test]
    fn owned_error_message() {
        let err = OwnedSemVer::parse("v1.2.3").unwrap_err();
        assert_eq!(err, SemVerError("v1.2.3".to_owned()));
        assert_eq!(
            err.to_string(),
            "invalid semver \"v1.2.3\": expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] per SemVer 2.0.0"
        );
    }

    // ---- property tests -------------------------------------------------

    /// A numeric identifier: usually small, sometimes beyond u64.
    fn numeric_id() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => (0u64..20).prop_map(|n| n.to_string()),
            2 => any::<u64>().prop_map(|n| n.to_string()),
            1 => "[1-9][0-9]{19,30}",
        ]
    }

    fn pre_id() -> impl Strategy<Value = String> {
        prop_oneof![
            numeric_id(),
            "[0-9A-Za-z-]{0,4}[A-Za-z-][0-9A-Za-z-]{0,4}",
            prop_oneof![
                Just("alpha"),
                Just("beta"),
                Just("rc"),
                Just("a"),
                Just("A")
            ]
            .prop_map(str::to_owned),
        ]
    }

    fn version() -> impl Strategy<Value = String> {
        (
            numeric_id(),
            numeric_id(),
            numeric_id(),
            proptest::option::of(proptest::collection::vec(pre_id(), 1..4)),
            proptest::option::of("[0-9A-Za-z-]{1,5}(\\.[0-9A-Za-z-]{1,5}){0,2}"),
        )
            .prop_map(|(ma, mi, pa, pre, build)| {
                let mut s = format!("{ma}.{mi}.{pa}");
                if let Some(pre) = pre {
                    s.push('-');
                    s.push_str(&pre.join("."));
                }
                if let Some(b) = build {
                    s.push('+');
                    s.push_str(&b);
                }
                s
            })
    }

    /// Independent reference ordering: numbers parsed to u128 (the strategy
    /// makes at most 31 digits, which fits), pre-release identifiers as a
    /// Vec of enum values whose derived order is numeric < alphanumeric.
    fn reference_cmp(a: &str, b: &str) -> Ordering {
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        enum Id {
            Num(u128),
            Alpha(Vec<u8>),
        }
        fn key(s: &str) -> (Vec<u128>, Option<Vec<Id>>) {
            let core_pre = s.split('+').next().unwrap();
            let (core, pre) = match core_pre.find('-') {
                Some(i) => (&core_pre[..i], Some(&core_pre[i + 1..])),
                None => (core_pre, None),
            };
            let nums = core
                .split('.')
                .map(|n| n.parse::<u128>().unwrap())
                .collect();
            let pre = pre.map(|p| {
                p.split('.')
                    .map(|id| {
                        if id.bytes().all(|b| b.is_ascii_digit()) {
                            Id::Num(id.parse().unwrap())
                        } else {
                            Id::Alpha(id.as_bytes().to_vec())
                        }
                    })
                    .collect()
            });
            (nums, pre)
        }
        let (na, pa) = key(a);
        let (nb, pb) = key(b);
        na.cmp(&nb).then_with(|| match (pa, pb) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            // Vec's lexicographic order already puts a prefix first.
            (Some(x), Some(y)) => x.cmp(&y),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_panics_on_any_string(s in any::<String>()) {
            let p = SemVer::parse(&s);
            if let Some(p) = p {
                prop_assert_eq!(p.cmp_precedence(&p), Ordering::Equal);
            }
            let _ = OwnedSemVer::parse(&s);
        }

        #[test]
        fn never_panics_on_near_versions(s in "[0-9a-zA-Z.+ -]{0,24}", t in "[0-9a-z.+-]{0,24}") {
            let (a, b) = (SemVer::parse(&s), SemVer::parse(&t));
            if let (Some(a), Some(b)) = (a, b) {
                prop_assert_eq!(a.cmp_precedence(&b), b.cmp_precedence(&a).reverse());
            }
            if let Ok(o) = OwnedSemVer::parse(&s) {
                prop_assert_eq!(o.as_str(), s.as_str());
            }
        }

        #[test]
        fn generated_versions_parse_and_round_trip(s in version()) {
            let p = SemVer::parse(&s);
            prop_assert!(p.is_some() || s.len() > MAX_LEN, "{:?}", s);
            if let Some(p) = p {
                let o = OwnedSemVer::parse(&s).unwrap();
                let q = o.as_semver();
                prop_assert_eq!(
                    (p.major(), p.minor(), p.patch(), p.pre(), p.build()),
                    (q.major(), q.minor(), q.patch(), q.pre(), q.build())
                );
            }
        }

        #[test]
        fn precedence_is_a_total_order(a in version(), b in version(), c in version()) {
            let (x, y, z) = (v(&a), v(&b), v(&c));
            // Reflexive and antisymmetric.
            prop_assert_eq!(x.cmp_precedence(&x), Ordering::Equal);
            prop_assert_eq!(x.cmp_precedence(&y), y.cmp_precedence(&x).reverse());
            // Transitive.
            let (xy, yz, xz) = (x.cmp_precedence(&y), y.cmp_precedence(&z), x.cmp_precedence(&z));
            if xy != Ordering::Greater && yz != Ordering::Greater {
                prop_assert_ne!(xz, Ordering::Greater);
            }
            if xy == Ordering::Equal && yz == Ordering::Equal {
                prop_assert_eq!(xz, Ordering::Equal);
            }
            // Agrees with an independent reference ordering.
            prop_assert_eq!(xy, reference_cmp(&a, &b), "{} vs {}", a, b);
        }

        #[test]
        fn build_metadata_never_matters(a in version(), b1 in "[0-9A-Za-z-]{1,6}", b2 in "[0-9A-Za-z-]{1,6}") {
            let core = a.split('+').next().unwrap();
            let (x, y) = (format!("{core}+{b1}"), format!("{core}+{b2}"));
            prop_assert_eq!(v(&x).cmp_precedence(&v(&y)), Ordering::Equal);
            prop_assert_eq!(v(&x).cmp_precedence(&v(core)), Ordering::Equal);
        }

        #[test]
        fn sorting_shuffled_spec_chain_restores_it(
            perm in Just(SPEC_CHAIN.to_vec()).prop_shuffle()
        ) {
            let mut sorted = perm;
            sorted.sort_by(|a, b| cmp(a, b));
            prop_assert_eq!(sorted, SPEC_CHAIN.to_vec());
        }

        #[test]
        fn numbers_compare_like_integers(a in any::<u64>(), b in any::<u64>()) {
            let (x, y) = (format!("1.{a}.0"), format!("1.{b}.0"));
            prop_assert_eq!(cmp(&x, &y), a.cmp(&b));
            let (x, y) = (format!("1.0.0-rc.{a}"), format!("1.0.0-rc.{b}"));
            prop_assert_eq!(cmp(&x, &y), a.cmp(&b));
        }
    }
}
