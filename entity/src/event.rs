//! An outbox row: a domain event written in the transaction that caused it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub entity_type: String,
    pub entity_id: i32,
    pub payload: String,
    pub actor: String,
    pub occurred_at: DateTimeUtc,
    /// Commit-order position, assigned after commit by the sequencer; null until then.
    pub seq: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
