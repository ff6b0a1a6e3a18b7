//! The per-request time limit for operations that do not arrive over HTTP (where `app.rs` wraps
//! the whole request): queries and mutations sent over a WebSocket.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};

use crate::error::ApiError;

/// Present in a WebSocket session's data: each query or mutation it runs must finish within
/// this time or it is stopped (a mutation's transaction rolls back) with LIMIT_EXCEEDED.
#[derive(Clone, Copy, Debug)]
pub struct SessionTimeLimit(pub Duration);

/// Applies [`SessionTimeLimit`] to every operation of a session that carries one.
pub struct OperationTimeLimit;

impl ExtensionFactory for OperationTimeLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationTimeLimit)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationTimeLimit {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        let Some(SessionTimeLimit(limit)) = ctx.data_opt::<SessionTimeLimit>().copied() else {
            return next.run(ctx, operation_name).await;
        };
        match tokio::time::timeout(limit, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => {
                let error: async_graphql::Error = ApiError::LimitExceeded(format!(
                    "the operation exceeded the time limit of {} s",
                    limit.as_secs()
                ))
                .into();
                async_graphql::Response::from_errors(vec![
                    error.into_server_error(async_graphql::Pos::default())
                ])
            }
        }
    }
}
