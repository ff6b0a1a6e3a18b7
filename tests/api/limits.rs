//! The limits that protect the service: each at and over its edge.

use serde_json::json;
use stockgraph::app::Settings;
use stockgraph::config::LimitsConfig;

use crate::helpers::{spawn_app, spawn_app_with};

/// The introspection query GraphiQL sends on load: deeper than 12, and it must still work.
const GRAPHIQL_INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

#[tokio::test]
async fn graphiql_introspection_passes_the_limits() {
    let app = spawn_app().await;
    let data = app.gql(GRAPHIQL_INTROSPECTION, json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn a_page_of_fifty_orders_with_ten_lines_each_passes() {
    let app = spawn_app().await;
    let data = app
        .gql(
            "{ products(first: 50) { nodes { sku } } purchaseOrder(number: \"none\") { lines(first: 10) { nodes { quantity } } } }",
            json!({}),
        )
        .await;
    assert!(data["products"]["nodes"].is_array());
}

#[tokio::test]
async fn four_nested_pages_of_fifty_are_refused_naming_the_limit() {
    let app = spawn_app().await;
    let query = "{ vendors(first: 50) { nodes { purchaseOrders(first: 50) { nodes { lines(first: 50) { nodes { product { inventoryItems(first: 50) { nodes { onHand } } } } } } } } } }";
    let (code, message) = app.gql_error(query, json!({})).await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(message.contains("50000"), "{message}");
}

#[tokio::test]
async fn nodes_at_the_limit_pass_and_one_over_is_refused() {
    let limits = LimitsConfig {
        max_nodes: 30,
        ..LimitsConfig::default()
    };
    let app = spawn_app_with(Settings {
        limits,
        ..Settings::default()
    })
    .await;
    // 30 products: exactly the limit.
    app.gql("{ products(first: 30) { nodes { sku } } }", json!({}))
        .await;
    let (code, message) = app
        .gql_error("{ products(first: 31) { nodes { sku } } }", json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(message.contains("limit of 30"), "{message}");
    // A variable page size counts too.
    let (code, _) = app
        .gql_error(
            "query($n: Int) { products(first: $n) { edges { node { sku } } } }",
            json!({ "n": 31 }),
        )
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
}

/// A selection `depth` levels deep. Limits are checked before validation (so a huge document
/// costs nothing to refuse), hence the field names need not exist.
fn nested(depth: usize) -> String {
    let mut query = String::new();
    for level in 0..depth {
        query.push_str(&format!("{{ f{level} "));
    }
    query.push_str(&"}".repeat(depth));
    query
}

#[tokio::test]
async fn depth_at_the_limit_passes_and_one_deeper_is_refused() {
    let limits = LimitsConfig {
        max_depth: 4,
        ..LimitsConfig::default()
    };
    let app = spawn_app_with(Settings {
        limits,
        ..Settings::default()
    })
    .await;
    app.gql(
        "{ products(first: 1) { nodes { preferredVendor { id } } } }",
        json!({}),
    )
    .await;
    let (code, message) = app
        .gql_error(
            "{ products(first: 1) { nodes { preferredVendor { address { city } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(
        message.contains("depth 5 exceeds the limit of 4"),
        "{message}"
    );
    // The default limit of 12 refuses 13.
    let app = spawn_app().await;
    let (code, _) = app.gql_error(&nested(13), json!({})).await;
    assert_eq!(code, "LIMIT_EXCEEDED");
}

#[tokio::test]
async fn aliases_at_the_limit_pass_and_one_more_is_refused() {
    let app = spawn_app().await;
    let fields = |n: usize| {
        (0..n)
            .map(|i| format!("a{i}: viewer {{ subject }}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    app.gql(&format!("{{ {} }}", fields(30)), json!({})).await;
    let (code, message) = app
        .gql_error(&format!("{{ {} }}", fields(31)), json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(message.contains("31 aliases"), "{message}");
}

#[tokio::test]
async fn directives_at_the_limit_pass_and_one_more_is_refused() {
    let app = spawn_app().await;
    let fields = |n: usize| {
        (0..n)
            .map(|_| "subject @include(if: true)")
            .collect::<Vec<_>>()
            .join(" ")
    };
    app.gql(&format!("{{ viewer {{ {} }} }}", fields(30)), json!({}))
        .await;
    let (code, _) = app
        .gql_error(&format!("{{ viewer {{ {} }} }}", fields(31)), json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let limits = LimitsConfig {
        introspection: false,
        ..LimitsConfig::default()
    };
    let app = spawn_app_with(Settings {
        limits,
        ..Settings::default()
    })
    .await;
    let reply = app
        .post(
            &app.admin.clone(),
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    assert!(reply.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("introspection is disabled"));
}
