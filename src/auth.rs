//! Tokens and permissions. Every resolver asks [`Actor::require`] before it reads or writes.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// What a caller may do (DOMAIN.md, Permissions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// List and read purchase orders, lines and receipts ("Preview PO", security ID 18).
    PurchaseOrdersRead,
    /// Create, edit, submit, cancel, finalize and export-mark purchase orders ("Create/Modify PO", security ID 42).
    PurchaseOrdersWrite,
    /// Receive and cancel receipts.
    ReceivingWrite,
    /// Read inventory items, transfers, adjustments and reservations.
    InventoryRead,
    /// Change inventory items, transfer, adjust, reserve and pick.
    InventoryWrite,
    /// Read vendors and other master data.
    VendorsRead,
    /// Change vendors and other master data.
    VendorsWrite,
    /// Read bills.
    BillsRead,
    /// See unit costs, totals and bill amounts.
    CostsRead,
    /// Everything, plus issuing tokens.
    Admin,
}

impl Permission {
    /// Every permission, in the order DOMAIN.md lists them.
    pub const ALL: [Permission; 10] = [
        Permission::PurchaseOrdersRead,
        Permission::PurchaseOrdersWrite,
        Permission::ReceivingWrite,
        Permission::InventoryRead,
        Permission::InventoryWrite,
        Permission::VendorsRead,
        Permission::VendorsWrite,
        Permission::BillsRead,
        Permission::CostsRead,
        Permission::Admin,
    ];

    /// The name used in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::PurchaseOrdersRead => "purchase_orders:read",
            Permission::PurchaseOrdersWrite => "purchase_orders:write",
            Permission::ReceivingWrite => "receiving:write",
            Permission::InventoryRead => "inventory:read",
            Permission::InventoryWrite => "inventory:write",
            Permission::VendorsRead => "vendors:read",
            Permission::VendorsWrite => "vendors:write",
            Permission::BillsRead => "bills:read",
            Permission::CostsRead => "costs:read",
            Permission::Admin => "admin",
        }
    }

    /// Parses a permission name, or one of the seed systems' security IDs (18, 42).
    pub fn parse(name: &str) -> Option<Permission> {
        match name.trim() {
            "18" => Some(Permission::PurchaseOrdersRead),
            "42" => Some(Permission::PurchaseOrdersWrite),
            other => Permission::ALL.into_iter().find(|p| p.as_str() == other),
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// Token subject; recorded on what the caller changes.
    pub subject: String,
    granted: u16,
}

impl Actor {
    /// A caller with the given permissions.
    pub fn new(subject: impl Into<String>, permissions: &[Permission]) -> Self {
        Self {
            subject: subject.into(),
            granted: permissions.iter().fold(0, |acc, p| acc | p.bit()),
        }
    }

    /// The service itself (demo data, migrations): every permission.
    pub fn system() -> Self {
        Self::new("system", &[Permission::Admin])
    }

    /// True when the caller holds the permission (admin holds all).
    pub fn has(&self, permission: Permission) -> bool {
        self.granted & (permission.bit() | Permission::Admin.bit()) != 0
    }

    /// The permissions granted explicitly.
    pub fn permissions(&self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.granted & p.bit() != 0)
            .collect()
    }

    /// Fails with FORBIDDEN unless the caller holds the permission.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(permission.as_str()))
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    permissions: Vec<String>,
    exp: u64,
    iat: u64,
    /// Set only on `serve --demo` tokens: the session of the process that minted it, which alone
    /// accepts it (a restart, with or without `--demo`, makes it worthless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    demo: Option<String>,
}

/// The longest lifetime `stockgraph token` issues: 30 days.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 86_400);

/// Signs and verifies HS256 tokens with one secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The demo session of this process, if it minted a demo token.
    demo_session: Option<std::sync::Arc<str>>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Keys from a shared secret.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            demo_session: None,
        }
    }

    /// These keys plus a fresh demo session, and an admin token of that session valid for
    /// `ttl`: only keys carrying the same session (this process) accept it.
    pub fn with_demo_token(mut self, ttl: Duration) -> Result<(Self, String), ApiError> {
        let session: String = (0..16)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        self.demo_session = Some(session.clone().into());
        let token = self.sign("demo", &[Permission::Admin], ttl, Some(session))?;
        Ok((self, token))
    }

    /// A signed token for `subject` with the permissions, valid for `ttl`.
    pub fn mint(
        &self,
        subject: &str,
        permissions: &[Permission],
        ttl: Duration,
    ) -> Result<String, ApiError> {
        self.sign(subject, permissions, ttl, None)
    }

    fn sign(
        &self,
        subject: &str,
        permissions: &[Permission],
        ttl: Duration,
        demo: Option<String>,
    ) -> Result<String, ApiError> {
        if subject.trim().is_empty() {
            return Err(ApiError::BadRequest(
                "a token needs a non-empty subject".to_owned(),
            ));
        }
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now
            .checked_add(ttl.as_secs())
            .ok_or_else(|| ApiError::BadRequest("the token lifetime is too long".to_owned()))?;
        let claims = Claims {
            sub: subject.to_owned(),
            permissions: permissions.iter().map(|p| p.as_str().to_owned()).collect(),
            iat: now,
            exp,
            demo,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// The caller a token names; expired, malformed or wrongly signed tokens are UNAUTHENTICATED.
    pub fn verify(&self, token: &str) -> Result<Actor, ApiError> {
        self.verify_until(token).map(|(actor, _)| actor)
    }

    /// The caller a token names and the Unix time (seconds) its token expires.
    pub fn verify_until(&self, token: &str) -> Result<(Actor, u64), ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| ApiError::Unauthenticated)?;
        if let Some(session) = &data.claims.demo {
            if self.demo_session.as_deref() != Some(session.as_str()) {
                return Err(ApiError::Unauthenticated);
            }
        }
        if data.claims.sub.trim().is_empty() {
            return Err(ApiError::Unauthenticated);
        }
        // Unknown permission names are ignored rather than fatal: a newer service may issue them.
        let permissions: Vec<Permission> = data
            .claims
            .permissions
            .iter()
            .filter_map(|p| Permission::parse(p))
            .collect();
        Ok((Actor::new(data.claims.sub, &permissions), data.claims.exp))
    }

    /// The caller behind an `Authorization` header value.
    pub fn verify_header(&self, header: &str) -> Result<Actor, ApiError> {
        self.verify_header_until(header).map(|(actor, _)| actor)
    }

    /// The caller behind an `Authorization` header value and when its token expires.
    pub fn verify_header_until(&self, header: &str) -> Result<(Actor, u64), ApiError> {
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(ApiError::Unauthenticated)?;
        self.verify_until(token.trim())
    }
}

/// Parses `a,b,c` into permissions, naming the first unknown one.
pub fn parse_permission_list(list: &str) -> Result<Vec<Permission>, String> {
    list.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| Permission::parse(p).ok_or_else(|| format!("unknown permission `{}`", p.trim())))
        .collect()
}

/// Parses a duration such as `30m`, `8h`, `7d` or `3600` (seconds): more than zero and at most
/// [`MAX_TTL`].
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 8h"))?;
    let unit_secs: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` is not a duration like 8h")),
    };
    let too_long = || format!("`{text}` is longer than the maximum of 30 days");
    let secs = n.checked_mul(unit_secs).ok_or_else(too_long)?;
    if secs == 0 {
        return Err(format!("`{text}` is not a positive duration"));
    }
    if secs > MAX_TTL.as_secs() {
        return Err(too_long());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_ids_18_and_42_mean_read_and_write_purchase_orders() {
        assert_eq!(
            Permission::parse("18"),
            Some(Permission::PurchaseOrdersRead)
        );
        assert_eq!(
            Permission::parse("42"),
            Some(Permission::PurchaseOrdersWrite)
        );
        assert_eq!(Permission::parse("costs:read"), Some(Permission::CostsRead));
        assert_eq!(Permission::parse("nope"), None);
    }

    #[test]
    fn admin_holds_every_permission() {
        let admin = Actor::new("a", &[Permission::Admin]);
        assert!(Permission::ALL.into_iter().all(|p| admin.has(p)));
        let reader = Actor::new("r", &[Permission::VendorsRead]);
        assert!(reader.has(Permission::VendorsRead));
        assert!(!reader.has(Permission::VendorsWrite));
        assert!(reader.require(Permission::CostsRead).is_err());
    }

    #[test]
    fn a_minted_token_verifies_and_a_foreign_one_does_not() {
        let keys = TokenKeys::from_secret(b"secret-one");
        let token = keys
            .mint("ann", &[Permission::BillsRead], Duration::from_secs(60))
            .unwrap();
        let actor = keys.verify_header(&format!("Bearer {token}")).unwrap();
        assert_eq!(actor.subject, "ann");
        assert_eq!(actor.permissions(), vec![Permission::BillsRead]);
        let other = TokenKeys::from_secret(b"secret-two");
        assert!(other.verify(&token).is_err());
        assert!(keys.verify("not.a.token").is_err());
        assert!(keys.verify_header(&token).is_err(), "scheme is required");
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::from_secret(b"s");
        let token = keys.mint("ann", &[], Duration::from_secs(0)).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert!(keys.verify(&token).is_err());
    }

    #[test]
    fn ttls_read_like_people_write_them() {
        assert_eq!(parse_ttl("8h").unwrap(), Duration::from_secs(28_800));
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert!(parse_ttl("8x").is_err());
        assert_eq!(parse_ttl("30d").unwrap(), MAX_TTL);
    }

    #[test]
    fn a_ttl_above_thirty_days_or_overflowing_or_zero_is_refused() {
        assert!(parse_ttl("31d").is_err());
        assert!(parse_ttl("2592001").is_err());
        // 2^64 / 86_400 + 1 days would wrap around to a short lifetime if unchecked.
        assert!(parse_ttl("213503982334602d").is_err());
        assert!(parse_ttl("99999999999999999999999").is_err());
        assert!(parse_ttl("0h").is_err());
    }

    #[test]
    fn a_token_needs_a_non_empty_subject() {
        let keys = TokenKeys::from_secret(b"secret-one");
        assert!(keys.mint("", &[], Duration::from_secs(60)).is_err());
        assert!(keys.mint("   ", &[], Duration::from_secs(60)).is_err());
        assert!(keys.mint(" ann ", &[], Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn a_demo_token_works_only_in_the_process_that_minted_it() {
        let keys = TokenKeys::from_secret(b"secret-one");
        let (demo_keys, token) = keys
            .clone()
            .with_demo_token(Duration::from_secs(60))
            .unwrap();
        let actor = demo_keys.verify(&token).unwrap();
        assert!(actor.has(Permission::Admin));
        // The same secret after a restart (with or without --demo) refuses it.
        assert!(keys.verify(&token).is_err());
        let (restarted, _) = keys.with_demo_token(Duration::from_secs(60)).unwrap();
        assert!(restarted.verify(&token).is_err());
        assert!(parse_permission_list("admin,18").is_ok());
        assert!(parse_permission_list("admin,bogus").is_err());
    }
}
