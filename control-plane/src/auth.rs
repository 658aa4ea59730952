//! API keys: generation, hashing, and who a request is.
//!
//! Keys are 32 random bytes (base62) after a prefix naming their kind
//! (`hal_adm_`, `hal_srv_`, `hal_cli_`, `hal_edg_`), so a leaked key is
//! recognisable by secret scanners. Only the SHA-256 of a key is stored: the
//! keys are high-entropy, so a fast hash suffices (no password hashing), and
//! edges can verify them locally from the hash.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::Error;
use crate::store::{ApiKeyKind, ApiKeyRecord, Role, Store};

/// Lower-case hex SHA-256 of `key`.
pub fn sha256_hex(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A freshly generated key: the plaintext (shown once) and what is stored.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// Shown to the creator once; never stored or logged.
    pub plaintext: String,
    /// Stored.
    pub sha256: String,
    /// Stored masked form, e.g. `hal_srv_AbCd…wxyz`.
    pub hint: String,
}

fn prefix(kind: ApiKeyKind) -> &'static str {
    match kind {
        ApiKeyKind::Admin => "hal_adm_",
        ApiKeyKind::Server => "hal_srv_",
        ApiKeyKind::Client => "hal_cli_",
        ApiKeyKind::Edge => "hal_edg_",
    }
}

/// 43 random base62 characters: more than 256 bits.
pub fn random_secret() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..43)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Generates a key of `kind`.
pub fn generate(kind: ApiKeyKind) -> GeneratedKey {
    let plaintext = format!("{}{}", prefix(kind), random_secret());
    GeneratedKey {
        sha256: sha256_hex(&plaintext),
        hint: hint(&plaintext),
        plaintext,
    }
}

/// The masked form of a key: its prefix and first and last four characters.
pub fn hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 16 {
        return "…".to_owned();
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// The masked form of a key the operator chose: its last four characters
/// when it has at least 16, else nothing of it.
fn supplied_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 16 {
        return "…".to_owned();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("…{tail}")
}

/// Who is making a request to the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's id (`bootstrap` for the configured bootstrap key).
    pub id: String,
    /// The key's name, recorded in the audit log.
    pub name: String,
    /// The admin role.
    pub role: Role,
}

impl Principal {
    /// Fails with 403 unless the principal has at least `role`.
    pub fn require(&self, role: Role, action: &'static str) -> Result<(), Error> {
        if self.role >= role {
            Ok(())
        } else {
            Err(Error::Forbidden(action))
        }
    }
}

/// A key given in the configuration (`HALYARD_ADMIN_API_KEY`,
/// `HALYARD_EDGE_TOKEN`): never stored, only its hash is kept.
#[derive(Clone)]
struct ConfiguredKey {
    sha256: String,
    id: &'static str,
    name: &'static str,
    kind: ApiKeyKind,
    role: Option<Role>,
}

/// Resolves presented keys to principals.
#[derive(Clone)]
pub struct Authenticator {
    configured: Vec<ConfiguredKey>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let configured: Vec<&str> = self.configured.iter().map(|key| key.id).collect();
        f.debug_struct("Authenticator")
            .field("configured", &configured)
            .finish()
    }
}

/// What kind of caller an endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Admin tokens.
    Admin,
    /// Edge tokens (the internal snapshot endpoint).
    Edge,
}

impl Authenticator {
    /// With an optional bootstrap admin key from the configuration (only its
    /// hash is kept).
    pub fn new(bootstrap_key: Option<&str>) -> Self {
        Self {
            configured: Vec::new(),
        }
        .with_configured(
            bootstrap_key,
            "bootstrap",
            "bootstrap",
            ApiKeyKind::Admin,
            Some(Role::Admin),
        )
    }

    /// Also accepts `edge_token` (from the configuration; only its hash is
    /// kept) as an edge token.
    #[must_use]
    pub fn with_edge_token(self, edge_token: Option<&str>) -> Self {
        self.with_configured(
            edge_token,
            "bootstrap-edge",
            "bootstrap edge token",
            ApiKeyKind::Edge,
            None,
        )
    }

    fn with_configured(
        mut self,
        key: Option<&str>,
        id: &'static str,
        name: &'static str,
        kind: ApiKeyKind,
        role: Option<Role>,
    ) -> Self {
        if let Some(key) = key.filter(|k| !k.is_empty()) {
            self.configured.push(ConfiguredKey {
                sha256: sha256_hex(key),
                id,
                name,
                kind,
                role,
            });
        }
        self
    }

    /// Resolves `presented` for an endpoint of `audience`: 401 for a missing
    /// or unknown (or revoked, or expired) key, 403 for a key of another kind.
    pub async fn authenticate(
        &self,
        store: &dyn Store,
        presented: Option<&str>,
        audience: Audience,
    ) -> Result<Principal, Error> {
        let presented = presented
            .filter(|k| !k.is_empty())
            .ok_or(Error::Unauthorized)?;
        self.authenticate_digest(store, &sha256_hex(presented), audience)
            .await
    }

    /// Like [`Authenticator::authenticate`], for a key known by its SHA-256
    /// (a dashboard session remembers only that).
    pub async fn authenticate_digest(
        &self,
        store: &dyn Store,
        digest: &str,
        audience: Audience,
    ) -> Result<Principal, Error> {
        if let Some(key) = self
            .configured
            .iter()
            .find(|key| bool::from(key.sha256.as_bytes().ct_eq(digest.as_bytes())))
        {
            return principal_for(key.kind, key.role, key.id, key.name, audience);
        }
        // The lookup is by digest, so its timing does not depend on how much
        // of a guess matches a real key.
        let key = store
            .api_key_by_hash(digest)
            .await?
            .ok_or(Error::Unauthorized)?;
        if !key.is_active(OffsetDateTime::now_utc()) {
            return Err(Error::Unauthorized);
        }
        principal_for(key.kind, key.role, &key.id.to_string(), &key.name, audience)
    }
}

/// Who a key of `kind` (and `role`) is for an endpoint of `audience`: 403
/// for a key of another kind.
fn principal_for(
    kind: ApiKeyKind,
    role: Option<Role>,
    id: &str,
    name: &str,
    audience: Audience,
) -> Result<Principal, Error> {
    match (audience, kind, role) {
        (Audience::Admin, ApiKeyKind::Admin, Some(role)) => Ok(Principal {
            id: id.to_owned(),
            name: name.to_owned(),
            role,
        }),
        (Audience::Edge, ApiKeyKind::Edge, _) => Ok(Principal {
            id: id.to_owned(),
            name: name.to_owned(),
            role: Role::Viewer,
        }),
        (Audience::Admin, _, _) => Err(Error::Forbidden(
            "use the admin API (SDK and edge keys cannot)",
        )),
        (Audience::Edge, _, _) => Err(Error::Forbidden("read edge snapshots (use an edge token)")),
    }
}

/// Builds the record of a new key (the caller stores it): a generated one,
/// or `supplied` (a key the operator chose, e.g. the old system's shared
/// SDK key).
pub fn new_record(
    kind: ApiKeyKind,
    name: String,
    role: Option<Role>,
    environment_id: Option<Uuid>,
    expires_at: Option<OffsetDateTime>,
    supplied: Option<&str>,
) -> (ApiKeyRecord, String) {
    let generated = match supplied {
        // A chosen key may be short: its hint shows no more than its end.
        Some(plaintext) => GeneratedKey {
            plaintext: plaintext.to_owned(),
            sha256: sha256_hex(plaintext),
            hint: supplied_hint(plaintext),
        },
        None => generate(kind),
    };
    let record = ApiKeyRecord {
        id: Uuid::now_v7(),
        name,
        kind,
        role,
        environment_id,
        sha256: generated.sha256,
        hint: generated.hint,
        created_at: crate::service::now(),
        expires_at,
        revoked_at: None,
        rotated_to: None,
    };
    (record, generated.plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_prefixed_unique_and_hashed() {
        let a = generate(ApiKeyKind::Server);
        let b = generate(ApiKeyKind::Server);
        assert!(a.plaintext.starts_with("hal_srv_"));
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.sha256, sha256_hex(&a.plaintext));
        assert_eq!(a.sha256.len(), 64);
        assert!(a.hint.starts_with("hal_srv_") && a.hint.contains('…'));
        assert!(
            !a.hint.contains(&a.plaintext[12..a.plaintext.len() - 4]),
            "the hint hides the secret"
        );
    }

    #[test]
    fn chosen_keys_show_at_most_their_last_four_characters() {
        let (record, _) = new_record(
            ApiKeyKind::Server,
            "legacy".into(),
            None,
            None,
            None,
            Some("sdk-secret-key-of-old"),
        );
        assert_eq!(record.hint, "…-old");
        assert_eq!(record.sha256, sha256_hex("sdk-secret-key-of-old"));
        let (short, _) = new_record(
            ApiKeyKind::Server,
            "x".into(),
            None,
            None,
            None,
            Some("sdk-secret-key"),
        );
        assert_eq!(short.hint, "…");
    }

    #[test]
    fn roles_are_ordered() {
        let editor = Principal {
            id: "1".into(),
            name: "ci".into(),
            role: Role::Editor,
        };
        assert!(editor.require(Role::Viewer, "read").is_ok());
        assert!(editor.require(Role::Editor, "change flags").is_ok());
        assert!(matches!(
            editor.require(Role::Admin, "manage keys"),
            Err(Error::Forbidden(_))
        ));
    }
}
