//! Query cost limits, checked on the parsed document before anything runs.
//!
//! async-graphql's own `limit_depth` / `limit_complexity` count introspection too (GraphiQL's
//! schema query alone is deeper than 12) and know nothing of connections, so the limits here are
//! measured the way GitHub measures them: a connection multiplies everything below it by its page
//! size (`first` / `last`, the default page size when neither is given), and `nodes` is the sum,
//! over every connection, of the product of the page sizes on its path. Introspection subtrees
//! (`__schema`, `__type`) are not counted.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::parser::Positioned;
use async_graphql::{ErrorExtensionValues, Name, ServerError, ServerResult, Value, Variables};

use crate::config::LimitsConfig;
use crate::graphql::connection::DEFAULT_PAGE_SIZE;

/// What one document costs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueryCost {
    /// Deepest field nesting (a root field is depth 1).
    pub depth: usize,
    /// Connection nodes, GitHub style.
    pub nodes: u64,
    /// Aliased fields written in the document.
    pub aliases: usize,
    /// Directives written in the document.
    pub directives: usize,
    /// The document asks for `__schema` or `__type`.
    pub introspection: bool,
}

/// Walking stops once this many selections were visited, so fragments spread into each other
/// many times over cannot make the measurement itself expensive.
const MAX_VISITS: usize = 200_000;

/// The extension that refuses documents over the configured limits.
pub struct QueryLimits(pub LimitsConfig);

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimitsExtension(self.0.clone()))
    }
}

struct QueryLimitsExtension(LimitsConfig);

#[async_graphql::async_trait::async_trait]
impl Extension for QueryLimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check(&document, variables, &self.0)?;
        Ok(document)
    }
}

/// Refuses the document with an error naming the first limit it breaks.
pub fn check(
    document: &ExecutableDocument,
    variables: &Variables,
    limits: &LimitsConfig,
) -> ServerResult<()> {
    let cost = measure(document, variables, limits.max_nodes as u64)?;
    if cost.introspection && !limits.introspection {
        return Err(limit_error(
            "introspection is disabled on this server".to_owned(),
        ));
    }
    if cost.depth > limits.max_depth {
        return Err(limit_error(format!(
            "query depth {} exceeds the limit of {}",
            cost.depth, limits.max_depth
        )));
    }
    if cost.nodes > limits.max_nodes as u64 {
        return Err(limit_error(format!(
            "query would return {} nodes, more than the limit of {} (connections multiply their \
             children by their page size; ask for smaller pages)",
            cost.nodes, limits.max_nodes
        )));
    }
    if cost.aliases > limits.max_aliases {
        return Err(limit_error(format!(
            "query uses {} aliases, more than the limit of {}",
            cost.aliases, limits.max_aliases
        )));
    }
    if cost.directives > limits.max_directives {
        return Err(limit_error(format!(
            "query uses {} directives, more than the limit of {}",
            cost.directives, limits.max_directives
        )));
    }
    Ok(())
}

fn limit_error(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "LIMIT_EXCEEDED");
    error.extensions = Some(extensions);
    error
}

/// Measures every operation of the document (the costliest one counts).
pub fn measure(
    document: &ExecutableDocument,
    variables: &Variables,
    node_budget: u64,
) -> ServerResult<QueryCost> {
    let mut walker = Walker {
        fragments: &document.fragments,
        variables,
        stack: Vec::new(),
        visits: 0,
        node_budget,
        cost: QueryCost::default(),
    };
    let operations: Vec<_> = match &document.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops.values().collect(),
    };
    for op in operations {
        walker.cost.directives += op.node.directives.len();
        walker.walk(&op.node.selection_set.node, 0, 1)?;
    }
    // Aliases and directives are counted as written, fragments once each.
    for fragment in document.fragments.values() {
        walker.cost.directives += fragment.node.directives.len();
        count_written(&fragment.node.selection_set.node, &mut walker.cost);
    }
    for op in match &document.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(ops) => ops.values().collect(),
    } {
        count_written(&op.node.selection_set.node, &mut walker.cost);
    }
    Ok(walker.cost)
}

fn count_written(set: &SelectionSet, cost: &mut QueryCost) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                cost.aliases += usize::from(field.node.alias.is_some());
                cost.directives += field.node.directives.len();
                count_written(&field.node.selection_set.node, cost);
            }
            Selection::FragmentSpread(spread) => cost.directives += spread.node.directives.len(),
            Selection::InlineFragment(inline) => {
                cost.directives += inline.node.directives.len();
                count_written(&inline.node.selection_set.node, cost);
            }
        }
    }
}

struct Walker<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    /// Fragments being expanded, to stop at cycles (validation reports them afterwards).
    stack: Vec<&'a str>,
    visits: usize,
    node_budget: u64,
    cost: QueryCost,
}

impl<'a> Walker<'a> {
    /// Walks a selection set whose fields sit at `depth + 1`, each standing for `multiplier`
    /// objects.
    fn walk(&mut self, set: &'a SelectionSet, depth: usize, multiplier: u64) -> ServerResult<()> {
        for item in &set.items {
            self.visits += 1;
            if self.visits > MAX_VISITS || self.cost.nodes > self.node_budget {
                // Already over a limit: stop measuring, `check` reports it.
                self.cost.nodes = self.cost.nodes.max(self.node_budget.saturating_add(1));
                return Ok(());
            }
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if depth == 0 && (name == "__schema" || name == "__type") {
                        self.cost.introspection = true;
                        continue;
                    }
                    self.cost.depth = self.cost.depth.max(depth + 1);
                    let children = &field.node.selection_set.node;
                    let mut child_multiplier = multiplier;
                    if self.is_connection(children) {
                        let page = self.page_size(&field.node);
                        child_multiplier = multiplier.saturating_mul(page);
                        self.cost.nodes = self.cost.nodes.saturating_add(child_multiplier);
                    }
                    self.walk(children, depth + 1, child_multiplier)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.stack.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.fragments.get(&spread.node.fragment_name.node) {
                        self.stack.push(name);
                        self.walk(&fragment.node.selection_set.node, depth, multiplier)?;
                        self.stack.pop();
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.walk(&inline.node.selection_set.node, depth, multiplier)?;
                }
            }
        }
        Ok(())
    }

    /// A field is a connection when it selects `edges` or `nodes`.
    fn is_connection(&self, set: &'a SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => matches!(field.node.name.node.as_str(), "edges" | "nodes"),
            Selection::InlineFragment(inline) => {
                self.is_connection(&inline.node.selection_set.node)
            }
            Selection::FragmentSpread(spread) => self
                .fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|f| {
                    !self
                        .stack
                        .contains(&spread.node.fragment_name.node.as_str())
                        && f.node.selection_set.node.items.iter().any(|i| {
                            matches!(&i.node, Selection::Field(field)
                                if matches!(field.node.name.node.as_str(), "edges" | "nodes"))
                        })
                }),
        })
    }

    /// `first` or `last`, literal or variable; the default page size otherwise.
    fn page_size(&self, field: &Field) -> u64 {
        ["first", "last"]
            .into_iter()
            .filter_map(|name| field.get_argument(name))
            .filter_map(|value| {
                value
                    .node
                    .clone()
                    .into_const_with(|var| self.variables.get(&var).cloned().ok_or(()))
                    .ok()
            })
            .filter_map(|value| match value {
                Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .max()
            .unwrap_or(DEFAULT_PAGE_SIZE as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn cost(query: &str) -> QueryCost {
        let doc = parse_query(query).expect("parses");
        measure(&doc, &Variables::default(), 1_000_000).expect("measures")
    }

    #[test]
    fn connections_multiply_their_children() {
        let c = cost("{ purchaseOrders(first: 50) { nodes { number lines(first: 10) { nodes { quantity } } } } }");
        assert_eq!(c.nodes, 50 + 500);
        assert_eq!(c.depth, 5);
    }

    #[test]
    fn default_page_size_applies_without_first() {
        let c = cost("{ vendors { edges { node { name } } } }");
        assert_eq!(c.nodes, DEFAULT_PAGE_SIZE as u64);
    }

    #[test]
    fn four_nested_pages_of_fifty_are_counted_in_full() {
        let q = "{ a(first: 50) { nodes { b(first: 50) { nodes { c(first: 50) { nodes { d(first: 50) { nodes { id } } } } } } } } }";
        assert_eq!(cost(q).nodes, 50 + 2_500 + 125_000 + 6_250_000);
    }

    #[test]
    fn introspection_is_not_counted() {
        let c = cost("{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }");
        assert_eq!(c.depth, 0);
    }

    #[test]
    fn variables_give_the_page_size() {
        let doc =
            parse_query("query($n: Int) { vendors(first: $n) { nodes { id } } }").expect("parses");
        let vars = Variables::from_json(serde_json::json!({ "n": 7 }));
        assert_eq!(measure(&doc, &vars, 1_000).expect("measures").nodes, 7);
    }

    #[test]
    fn fragments_are_expanded_and_cycles_do_not_hang() {
        let c = cost(
            "{ vendors(first: 2) { ...V } } fragment V on VendorConnection { nodes { name } }",
        );
        assert_eq!(c.nodes, 2);
        let c = cost("{ vendors { ...A } } fragment A on X { ...B } fragment B on X { ...A id }");
        assert_eq!(c.depth, 2);
    }

    #[test]
    fn aliases_and_directives_are_counted_as_written() {
        let c = cost("{ a: viewer { s: subject @include(if: true) } b: viewer { subject @skip(if: false) } }");
        assert_eq!(c.aliases, 3);
        assert_eq!(c.directives, 2);
    }

    #[test]
    fn exponential_fragment_spreads_stop_early() {
        let mut q = String::from("{ vendors { ...F0 } }");
        for i in 0..40 {
            q.push_str(&format!(
                " fragment F{i} on X {{ id ...F{} ...F{} }}",
                i + 1,
                i + 1
            ));
        }
        q.push_str(" fragment F40 on X { id }");
        let doc = parse_query(&q).expect("parses");
        let limits = LimitsConfig::default();
        assert!(check(&doc, &Variables::default(), &limits).is_err());
    }
}
