//! Idempotency keys: a retry with the same key and input gets the first result and writes
//! nothing; the same key with different input is refused.
//!
//! The key is looked up inside the use case's transaction after the purchase order is locked,
//! so two concurrent retries of the same request serialize on that lock and the second sees the
//! first's row. Requests that share a key but target different orders race only on the unique
//! key, and the loser is refused as a conflict — which it is, its input differs.

use entity::idempotency_key::{ActiveModel, Column, Entity};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};

use crate::error::{ServiceError, UserErrorCode};
use crate::services::{check, now, unique_violation};

/// An operation's idempotency key with the request it was first used for.
pub(crate) struct Idempotency {
    operation: &'static str,
    key: String,
    fingerprint: String,
}

impl Idempotency {
    /// `None` when the client sent no key. The fingerprint is the input as JSON (keys sorted,
    /// decimals normalised), compared exactly.
    pub(crate) fn new(
        operation: &'static str,
        key: Option<&str>,
        input: serde_json::Value,
    ) -> Result<Option<Self>, ServiceError> {
        let Some(key) = key else { return Ok(None) };
        let key = check(
            crate::domain::validate::text(key, "idempotency key", 1, 200),
            "input.idempotencyKey",
        )?;
        let fingerprint = input.to_string();
        Ok(Some(Self {
            operation,
            key,
            fingerprint,
        }))
    }

    /// The first result of this request when it was already done; a conflict when the key was
    /// used for another input.
    pub(crate) async fn replay(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
    ) -> Result<Option<serde_json::Value>, ServiceError> {
        let Some(row) = Entity::find()
            .filter(Column::Operation.eq(self.operation))
            .filter(Column::IdempotencyKey.eq(&self.key))
            .one(txn)
            .await?
        else {
            return Ok(None);
        };
        if row.request_hash != self.fingerprint {
            return Err(conflict());
        }
        serde_json::from_str(&row.response)
            .map(Some)
            .map_err(|e| ServiceError::Internal(format!("stored response: {e}")))
    }

    /// Remembers the result in the use case's transaction.
    pub(crate) async fn remember(
        &self,
        txn: &DatabaseTransaction,
        response: serde_json::Value,
    ) -> Result<(), ServiceError> {
        ActiveModel {
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
                UserErrorCode::IdempotencyConflict,
                "input.idempotencyKey",
                "this idempotency key was just used for another request",
            )
        })?;
        Ok(())
    }
}

fn conflict() -> ServiceError {
    ServiceError::user(
        UserErrorCode::IdempotencyConflict,
        "input.idempotencyKey",
        "this idempotency key was already used with different input",
    )
}
