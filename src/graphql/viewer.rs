//! `viewer`: who is calling and what they may do.

use async_graphql::{Context, Object, SimpleObject};

use crate::auth::Actor;
use crate::error::ApiError;

/// The authenticated caller.
#[derive(SimpleObject, Clone, Debug)]
pub struct Viewer {
    /// Token subject.
    pub subject: String,
    /// Permissions granted by the token (`admin` implies all).
    pub permissions: Vec<String>,
}

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// Who am I, and which permissions do I hold.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let actor = ctx.data_opt::<Actor>().ok_or(ApiError::Unauthenticated)?;
        Ok(Viewer {
            subject: actor.subject.clone(),
            permissions: actor
                .permissions()
                .into_iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
        })
    }
}
