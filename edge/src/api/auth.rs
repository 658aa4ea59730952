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
use crate::state::Edge;
use crate::store::KnownKey;

fn presented(parts: &Parts) -> Option<&str> {
    for header in ["x-sdk-key", "x-api-key"] {
        if let Some(value) = parts.headers.get(header).and_then(|v| v.to_str().ok()) {
            return Some(value.trim());
        }
    }
    if let Some((scheme, token)) = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Some(token.trim());
    }
    // EventSource cannot send headers: `?key=` is accepted too.
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))
}

/// A caller with a valid SDK key of any kind.
#[derive(Debug, Clone)]
pub struct SdkKey(pub Arc<KnownKey>);

impl FromRequestParts<Arc<Edge>> for SdkKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, edge: &Arc<Edge>) -> Result<Self, Error> {
        let key = presented(parts)
            .filter(|k| !k.is_empty())
            .ok_or(Error::Unauthorized)?;
        let mut digest = [0u8; 64];
        hex::encode_to_slice(Sha256::digest(key.as_bytes()), &mut digest)
            .expect("64 hex digits fit");
        let digest = std::str::from_utf8(&digest).expect("hex is ASCII");
        let known = edge
            .store
            .key(digest)
            .filter(|k| k.is_active())
            .ok_or(Error::Unauthorized)?;
        edge.check_rate(&known.entry.id)
            .map_err(|wait| Error::RateLimited(wait).at(edge.store.revision(&known.environment)))?;
        Ok(SdkKey(known))
    }
}

/// A caller with a valid server SDK key.
#[derive(Debug, Clone)]
pub struct ServerKey(pub Arc<KnownKey>);

impl FromRequestParts<Arc<Edge>> for ServerKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, edge: &Arc<Edge>) -> Result<Self, Error> {
        let SdkKey(known) = SdkKey::from_request_parts(parts, edge).await?;
        match known.entry.kind {
            KeyKind::Server => Ok(ServerKey(known)),
            KeyKind::Client => {
                Err(Error::ServerKeyRequired.at(edge.store.revision(&known.environment)))
            }
        }
    }
}
