//! Mutation payloads: the changed object(s) plus `userErrors`, and the one place that turns a
//! service result into a payload or a GraphQL error.

use crate::error::{ApiError, ServiceError};
use crate::graphql::user_error::UserError;

/// A mutation payload that can carry user errors instead of its objects.
pub trait Payload: Sized {
    /// The payload of a refused mutation: no objects, the reasons.
    fn rejected(errors: Vec<UserError>) -> Self;
}

/// Builds the payload of a service result: its objects on success, `userErrors` on a rule
/// violation, `SERVICE_UNAVAILABLE` when the database was out of reach (the client may retry),
/// an `INTERNAL` GraphQL error (details only in the log) on anything else.
pub fn respond<T, P: Payload>(
    result: Result<T, ServiceError>,
    build: impl FnOnce(T) -> P,
) -> async_graphql::Result<P> {
    match result {
        Ok(value) => Ok(build(value)),
        Err(ServiceError::Rejected(rejections)) => Ok(P::rejected(
            rejections
                .into_iter()
                .map(UserError::from_rejection)
                .collect(),
        )),
        Err(err) => Err(ApiError::from(err).into()),
    }
}

/// Declares a payload type with optional object fields and `userErrors`. Each object field is
/// null for a caller who may not read its type ([`crate::graphql::guard::readable`]): the
/// mutation committed, so its answer carries no error because of what the payload selects.
/// What the selection asks below each object is primed, as for a root list.
macro_rules! payload {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(async_graphql::SimpleObject, Default)]
        #[graphql(complex)]
        pub struct $name {
            $(#[graphql(skip)] pub $field: Option<$ty>,)+
            /// Why the mutation was refused; empty when it succeeded.
            pub user_errors: Vec<$crate::graphql::user_error::UserError>,
        }

        #[async_graphql::ComplexObject]
        impl $name {
            $(
                $(#[$fdoc])*
                ///
                /// Null when the caller may not read it.
                async fn $field(&self, ctx: &async_graphql::Context<'_>) -> Option<$ty> {
                    $crate::graphql::prime::readable(ctx, &self.$field).await
                }
            )+
        }

        impl $crate::graphql::payload::Payload for $name {
            fn rejected(errors: Vec<$crate::graphql::user_error::UserError>) -> Self {
                Self {
                    user_errors: errors,
                    ..Default::default()
                }
            }
        }
    };
}
pub(crate) use payload;
