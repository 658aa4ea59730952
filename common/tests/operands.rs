//! The cross-language operand vectors: SemVer, dates and the portable regex
//! subset. The TypeScript SDK runs the same files.

mod support;

use std::cmp::Ordering;

use halyard_common::eval::date::{date_ms_from_str, parse_rfc3339_ms};
use halyard_common::eval::regex::PortableRegex;
use halyard_common::eval::semver::{OwnedSemVer, SemVer};
use support::{Failures, vector};

#[test]
fn semver_vectors() {
    let doc = vector("semver.json");
    let mut failures = Failures::default();
    let mut checked = 0;
    for v in doc["valid"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        checked += 1;
        failures.check(
            SemVer::parse(v).is_some() && OwnedSemVer::parse(v).is_ok(),
            || format!("valid {v:?} rejected"),
        );
    }
    for v in doc["invalid"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        checked += 1;
        failures.check(
            SemVer::parse(v).is_none() && OwnedSemVer::parse(v).is_err(),
            || format!("invalid {v:?} accepted"),
        );
    }
    for row in doc["comparisons"].as_array().unwrap() {
        let (a, b) = (row["a"].as_str().unwrap(), row["b"].as_str().unwrap());
        let expected = row["expected"].as_i64().unwrap().cmp(&0);
        checked += 1;
        let actual = SemVer::parse(a)
            .zip(SemVer::parse(b))
            .map(|(a, b)| a.cmp_precedence(&b));
        failures.check(actual == Some(expected), || {
            format!("{a} vs {b}: expected {expected:?}, got {actual:?}")
        });
        let reverse = SemVer::parse(b)
            .zip(SemVer::parse(a))
            .map(|(b, a)| b.cmp_precedence(&a));
        failures.check(reverse == Some(expected.reverse()), || {
            format!("{b} vs {a} is not antisymmetric")
        });
    }
    failures.finish(checked, 100);
}

#[test]
fn date_vectors() {
    let doc = vector("dates.json");
    let mut failures = Failures::default();
    let mut checked = 0;
    for row in doc["cases"].as_array().unwrap() {
        let input = row["input"].as_str().unwrap();
        let expected = row["ms"].as_i64();
        checked += 1;
        let actual = parse_rfc3339_ms(input);
        failures.check(actual == expected, || {
            format!("{input:?}: expected {expected:?}, got {actual:?}")
        });
        let as_f64 = date_ms_from_str(input);
        failures.check(as_f64 == expected.map(|ms| ms as f64), || {
            format!("{input:?}: f64 form {as_f64:?}")
        });
    }
    failures.finish(checked, 60);
}

#[test]
fn regex_vectors() {
    let doc = vector("regex.json");
    let mut failures = Failures::default();
    let mut checked = 0;
    for row in doc["cases"].as_array().unwrap() {
        let pattern = row["pattern"].as_str().unwrap();
        let parsed = PortableRegex::parse(pattern);
        checked += 1;
        if row["valid"].as_bool().unwrap() {
            let Ok(regex) = parsed else {
                failures.check(false, || {
                    format!("{pattern:?} rejected: {:?}", parsed.unwrap_err())
                });
                continue;
            };
            for m in row["matches"].as_array().unwrap() {
                let input = m["input"].as_str().unwrap();
                let expected = m["expected"].as_bool().unwrap();
                checked += 1;
                failures.check(regex.is_match(input) == expected, || {
                    format!("{pattern:?} on {input:?}: expected {expected}")
                });
            }
        } else {
            let code = row["error"].as_str().unwrap();
            failures.check(
                parsed.as_ref().err().map(|e| e.code()) == Some(code),
                || {
                    format!(
                        "{pattern:?}: expected error {code}, got {:?}",
                        parsed.as_ref().err()
                    )
                },
            );
        }
    }
    failures.finish(checked, 100);
}

#[test]
fn semver_precedence_ignores_build_metadata() {
    let a = SemVer::parse("1.0.0+build.1").unwrap();
    let b = SemVer::parse("1.0.0+zzz").unwrap();
    assert_eq!(a.cmp_precedence(&b), Ordering::Equal);
}
