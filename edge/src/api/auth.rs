//! SDK keys, validated locally against the key hashes in the snapshots: the
//! presented key is hashed (SHA-256) and looked up by its hash, so the time
//! taken does not depend on how much of a guess matches a real key.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use halyard_common::KeyKind;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::store::{EdgeStore, KnownKey};

fn presented(parts: &Parts) -> Option<String> {
    for header in ["x-sdk-key", "x-api-key"] {
        if let Some(value) = parts.headers.get(header).and_then(|v| v.to_str().ok()) {
            return Some(value.trim().to_owned());
        }
    }
    if let Some((scheme, token)) = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Some(token.trim().to_owned());
    }
    // EventSource cannot send headers: `?key=` is accepted too.
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))
        .map(str::to_owned)
}

/// A caller with a valid SDK key of any kind.
#[derive(Debug, Clone)]
pub struct SdkKey(pub Arc<KnownKey>);

impl FromRequestParts<Arc<EdgeStore>> for SdkKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, store: &Arc<EdgeStore>) -> Result<Self, Error> {
        let key = presented(parts)
            .filter(|k| !k.is_empty())
            .ok_or(Error::Unauthorized)?;
        let digest = hex::encode(Sha256::digest(key.as_bytes()));
        let known = store
            .key(&digest)
            .filter(|k| k.is_active())
            .ok_or(Error::Unauthorized)?;
        Ok(SdkKey(known))
    }
}

/// A caller with a valid server SDK key.
#[derive(Debug, Clone)]
pub struct ServerKey(pub Arc<KnownKey>);

impl FromRequestParts<Arc<EdgeStore>> for ServerKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, store: &Arc<EdgeStore>) -> Result<Self, Error> {
        let SdkKey(known) = SdkKey::from_request_parts(parts, store).await?;
        match known.entry.kind {
            KeyKind::Server => Ok(ServerKey(known)),
            KeyKind::Client => Err(Error::ServerKeyRequired),
        }
    }
}
