//! Idempotency keys (DOMAIN.md, Idempotency): a key belongs to the caller (token subject) that
//! sent it. The same caller retrying with the same key, operation and input gets the first
//! result and writes nothing; the same key with another operation or input is refused; another
//! caller's keys are invisible, so nobody can read someone else's result or squat their key.
//! Keys are forgotten after the configured retention.
//!
//! The key is looked up inside the use case's transaction after the purchase order is locked,
//! so two concurrent retries of the same request serialize on that lock and the second sees the
//! first's row. Requests that share a key but target different orders race only on the unique
//! key, and the loser is refused as a conflict — which it is, its input differs.

use chrono::{DateTime, Utc};
use entity::idempotency_key::{ActiveModel, Column, Entity};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, QueryFilter,
};

use crate::domain::validate;
use crate::domain::violation::ViolationCode;
use crate::error::{Field, ServiceError};
use crate::services::UseCase;
use crate::services::{now, unique_violation};

/// The longest idempotency key, in characters.
const MAX_KEY_CHARS: usize = 200;

/// Where every command that takes an idempotency key has it.
fn key_field() -> Field {
    Field::of("idempotency_key")
}

/// An operation's idempotency key with the caller and the request it was first used for.
pub(crate) struct Idempotency {
    caller: String,
    /// The use case's scope, stored with the key: a key used in one scope conflicts in any
    /// other. Scopes are stored, so they keep the names keys were first stored under.
    operation: &'static str,
    key: String,
    fingerprint: String,
    /// Keys created before this are expired: ignored and pruned.
    cutoff: DateTime<Utc>,
}

impl Idempotency {
    /// `None` when the client sent no key. The fingerprint is the input as JSON (keys sorted,
    /// decimals normalised), compared exactly.
    pub(crate) fn new(
        uc: UseCase<'_>,
        operation: &'static str,
        key: Option<&str>,
        input: serde_json::Value,
    ) -> Result<Option<Self>, ServiceError> {
        let Some(key) = key else { return Ok(None) };
        let key = validate::text(key, "idempotency key", 1, MAX_KEY_CHARS).map_err(|message| {
            ServiceError::user(ViolationCode::InvalidInput, key_field(), message)
        })?;
        let fingerprint = input.to_string();
        Ok(Some(Self {
            caller: uc.actor.subject.clone(),
            operation,
            key,
            fingerprint,
            cutoff: now() - uc.business.idempotency_retention(),
        }))
    }

    /// The first result of this request when this caller already did it; a conflict when the
    /// caller used the key for another operation or input.
    pub(crate) async fn replay(
        &self,
        txn: &impl ConnectionTrait,
    ) -> Result<Option<serde_json::Value>, ServiceError> {
        let Some(row) = Entity::find()
            .filter(Column::Caller.eq(&self.caller))
            .filter(Column::IdempotencyKey.eq(&self.key))
            .filter(Column::CreatedAt.gte(self.cutoff))
            .one(txn)
            .await?
        else {
            return Ok(None);
        };
        if row.operation != self.operation {
            return Err(conflict(
                "this idempotency key was already used for another kind of request".to_owned(),
            ));
        }
        if row.request_hash != self.fingerprint {
            return Err(conflict(
                "this idempotency key was already used with different input".to_owned(),
            ));
        }
        serde_json::from_str(&row.response)
            .map(Some)
            .map_err(|e| ServiceError::Internal(format!("stored response: {e}")))
    }

    /// Remembers the result in the use case's transaction, first forgetting this caller's
    /// expired use of the same key (a retry after the retention is a new request).
    pub(crate) async fn remember(
        &self,
        txn: &DatabaseTransaction,
        response: serde_json::Value,
    ) -> Result<(), ServiceError> {
        Entity::delete_many()
            .filter(Column::Caller.eq(&self.caller))
            .filter(Column::IdempotencyKey.eq(&self.key))
            .filter(Column::CreatedAt.lt(self.cutoff))
            .exec(txn)
            .await?;
        ActiveModel {
            caller: Set(self.caller.clone()),
            operation: Set(self.operation.to_owned()),
            idempotency_key: Set(self.key.clone()),
            request_hash: Set(self.fingerprint.clone()),
            response: Set(response.to_string()),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(txn)
        .await
        .map_err(|e| {
            unique_violation(
                e,
                ViolationCode::IdempotencyConflict,
                key_field(),
                "this idempotency key was just used for another request",
            )
        })?;
        Ok(())
    }
}

/// Forgets every idempotency key created before `cutoff`; returns how many. The service calls
/// it periodically with now − retention; taking the cutoff makes it testable without waiting.
pub async fn prune(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, ServiceError> {
    Ok(Entity::delete_many()
        .filter(Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}

fn conflict(message: String) -> ServiceError {
    ServiceError::user(ViolationCode::IdempotencyConflict, key_field(), message)
}
