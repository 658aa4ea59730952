//! A response body with its gzip and brotli forms, each compressed at most
//! once (on first request) and then shared by every response of the
//! revision.

use std::io::Write as _;
use std::sync::OnceLock;

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_ENCODING;
use bytes::Bytes;

/// A content coding the edge serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// `gzip`.
    Gzip,
    /// `br`.
    Brotli,
}

impl Encoding {
    /// The preferred coding `Accept-Encoding` allows: brotli, then gzip,
    /// else identity (a coding with `q=0` is refused).
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let mut gzip = false;
        let mut brotli = false;
        for value in headers.get_all(ACCEPT_ENCODING) {
            let Ok(value) = value.to_str() else { continue };
            for item in value.split(',') {
                let mut parts = item.split(';');
                let coding = parts.next().unwrap_or("").trim();
                let refused = parts.any(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                if refused {
                    continue;
                }
                match coding.to_ascii_lowercase().as_str() {
                    "br" => brotli = true,
                    "gzip" | "x-gzip" => gzip = true,
                    "*" => brotli = true,
                    _ => {}
                }
            }
        }
        if brotli {
            Encoding::Brotli
        } else if gzip {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }

    /// The `Content-Encoding` value, if any.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

/// A body and its compressed forms.
#[derive(Debug)]
pub struct EncodedBody {
    identity: Bytes,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

/// Brotli quality: 5 compresses a configuration nearly as well as 11 in a
/// small fraction of the time.
const BROTLI_QUALITY: u32 = 5;

impl EncodedBody {
    /// Wraps an uncompressed body.
    pub fn new(identity: Bytes) -> Self {
        Self {
            identity,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// The uncompressed body.
    pub fn identity(&self) -> &Bytes {
        &self.identity
    }

    /// The body in `encoding`.
    pub fn get(&self, encoding: Encoding) -> Bytes {
        match encoding {
            Encoding::Identity => self.identity.clone(),
            Encoding::Gzip => self
                .gzip
                .get_or_init(|| {
                    let mut encoder = flate2::write::GzEncoder::new(
                        Vec::with_capacity(self.identity.len() / 4),
                        flate2::Compression::default(),
                    );
                    encoder.write_all(&self.identity).expect("writes to a Vec");
                    encoder.finish().expect("writes to a Vec").into()
                })
                .clone(),
            Encoding::Brotli => self
                .brotli
                .get_or_init(|| {
                    let mut out = Vec::with_capacity(self.identity.len() / 4);
                    {
                        let mut writer =
                            brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, 22);
                        writer.write_all(&self.identity).expect("writes to a Vec");
                    }
                    out.into()
                })
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use axum::http::HeaderValue;

    use super::*;

    fn accepting(value: &str) -> Encoding {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("ascii"),
        );
        Encoding::negotiate(&headers)
    }

    #[test]
    fn negotiation_prefers_brotli_and_honours_q_zero() {
        assert_eq!(accepting("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(accepting("gzip"), Encoding::Gzip);
        assert_eq!(accepting("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(accepting("identity"), Encoding::Identity);
        assert_eq!(Encoding::negotiate(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn compressed_forms_decode_to_the_body() {
        let text = "{\"flags\":[]}".repeat(200);
        let body = EncodedBody::new(Bytes::from(text.clone()));
        let mut gunzipped = String::new();
        flate2::read::GzDecoder::new(&body.get(Encoding::Gzip)[..])
            .read_to_string(&mut gunzipped)
            .expect("valid gzip");
        assert_eq!(gunzipped, text);
        let mut unbrotlied = String::new();
        brotli::Decompressor::new(&body.get(Encoding::Brotli)[..], 4096)
            .read_to_string(&mut unbrotlied)
            .expect("valid brotli");
        assert_eq!(unbrotlied, text);
        assert!(body.get(Encoding::Brotli).len() < text.len() / 10);
    }
}
