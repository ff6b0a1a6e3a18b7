//! One permission model for the whole graph (DOMAIN.md, *Permissions*): an object shows its
//! identity to anyone who reached it, and everything else only to a caller holding the object's
//! own read permission — wherever it was reached (root, nested field, `node`, mutation payload,
//! subscription event).
//!
//! Every guarded object type implements [`Guarded`] and puts [`Reads`] on the type
//! (`#[graphql(guard = "Reads(Self::READ)")]` on the struct and on its `#[ComplexObject]`),
//! so a field added later is guarded by default; identity fields opt out with
//! `#[graphql(guard = "Identity")]` (a field's own guard replaces the type's). Mutation payloads
//! and subscription events ask [`readable`] instead: their objects come back null, not as an
//! error, for a caller who may not read them.

use async_graphql::{Context, Guard};

use crate::auth::{Actor, Permission};
use crate::graphql::require;

/// An object type whose fields beyond its identity need a read permission.
pub trait Guarded {
    /// The permission that reads everything but the identity.
    const READ: Permission;
}

impl<T: Guarded> Guarded for Vec<T> {
    const READ: Permission = T::READ;
}

/// Type-level guard: the field needs the permission (FORBIDDEN otherwise).
pub struct Reads(pub Permission);

impl Guard for Reads {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        require(ctx, self.0)?;
        Ok(())
    }
}

/// Field-level guard of identity fields (id, code or number, name, status): visible to whoever
/// reached the object, since reaching it already passed the parent's guard.
pub struct Identity;

impl Guard for Identity {
    async fn check(&self, _ctx: &Context<'_>) -> async_graphql::Result<()> {
        Ok(())
    }
}

/// True when the caller may read `T` beyond its identity.
pub fn may_read<T: Guarded>(ctx: &Context<'_>) -> bool {
    ctx.data_opt::<Actor>()
        .is_some_and(|actor| actor.has(T::READ))
}

/// A payload's or event's object as the caller may see it: itself, or null when the caller may
/// not read it (a committed mutation never answers with an error because of its selection).
pub fn readable<T: Guarded + Clone>(ctx: &Context<'_>, value: &Option<T>) -> Option<T> {
    if may_read::<T>(ctx) {
        value.clone()
    } else {
        None
    }
}
