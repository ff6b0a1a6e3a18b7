//! Query cost limits, checked on the parsed document before anything runs.
//!
//! async-graphql's own `limit_depth` / `limit_complexity` count introspection too (GraphiQL's
//! schema query alone is deeper than 12) and know nothing of connections, so the limits here are
//! measured the way GitHub measures them: a connection multiplies everything below it by its page
//! size (`first` / `last`, the default page size when neither is given), and `nodes` is the sum,
//! over every connection, of the product of the page sizes on its path. They count what would
//! run: every occurrence of a field (async-graphql executes repeated unaliased fields again),
//! every expansion of a fragment or inline fragment, `nodes(ids:)` times its number of IDs, and
//! an unpaginated list of objects times [`LimitsConfig::list_cost`]. Introspection subtrees
//! (`__schema`, `__type`) are not counted.
//!
//! The check is not an async-graphql `Extension`: registering one wraps every field's
//! resolution (see ARCHITECTURE.md, *Known traps*). The transports call [`LimitedSchema`]
//! instead, which parses the document once, checks it, and hands the parsed document to the
//! schema, so nothing is parsed twice and nothing runs before the check.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, FragmentDefinition,
    OperationDefinition, OperationType, Selection, SelectionSet, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::parser::Positioned;
use async_graphql::{
    BatchRequest, BatchResponse, Data, ErrorExtensionValues, Executor, Name, Request, Response,
    ServerError, ServerResult, Value, Variables,
};
use futures_util::stream::{BoxStream, StreamExt};

use crate::auth::Actor;
use crate::caller_limit::CallerLimits;
use crate::config::LimitsConfig;
use crate::graphql::connection::DEFAULT_PAGE_SIZE;
use crate::graphql::StockgraphSchema;

/// What one operation costs (for a document, the costliest operation in each measure).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueryCost {
    /// Deepest field nesting (a root field is depth 1).
    pub depth: usize,
    /// Connection and list nodes, GitHub style.
    pub nodes: u64,
    /// Selections that would run: fields, fragment spreads and inline fragments, each
    /// occurrence and each expansion counted.
    pub selections: usize,
    /// Deepest nesting of fragment spreads inside fragments.
    pub fragment_nesting: usize,
    /// Aliased fields written in the document.
    pub aliases: usize,
    /// Directives written in the document.
    pub directives: usize,
    /// Operations the document defines.
    pub operations: usize,
    /// The document asks for `__schema` or `__type`.
    pub introspection: bool,
}

impl QueryCost {
    /// The larger of each measure.
    fn max(self, other: QueryCost) -> QueryCost {
        QueryCost {
            depth: self.depth.max(other.depth),
            nodes: self.nodes.max(other.nodes),
            selections: self.selections.max(other.selections),
            fragment_nesting: self.fragment_nesting.max(other.fragment_nesting),
            aliases: self.aliases.max(other.aliases),
            directives: self.directives.max(other.directives),
            operations: self.operations.max(other.operations),
            introspection: self.introspection || other.introspection,
        }
    }
}

/// Fragments spread inside fragments deeper than this are refused: no real client needs it,
/// and it bounds the measurement's own recursion (the parser bounds selection-set nesting, but
/// not chains of fragments).
pub const MAX_FRAGMENT_NESTING: usize = 32;

/// Lists of these types are built in memory from the request itself, not loaded: they cost
/// nothing per element.
const IN_MEMORY_LISTS: &[&str] = &["UserError"];

/// What a field returns, as far as its cost goes.
#[derive(Debug, Clone)]
struct Returns {
    /// The named type under any list and non-null wrappers.
    type_name: String,
    /// Whether the field returns a list.
    list: bool,
}

/// The schema's shape as the cost measurement needs it: what each field of each object and
/// interface returns.
#[derive(Debug, Default)]
pub struct CostModel {
    fields: HashMap<String, HashMap<String, Returns>>,
    /// Object, interface and union types: a list of these costs a load per element.
    composite: HashSet<String>,
}

impl CostModel {
    /// The model of the SDL `sdl`; empty (every field measured by shape alone) if it does not
    /// parse.
    pub fn from_sdl(sdl: &str) -> Self {
        let mut model = Self::default();
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            return model;
        };
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let definition = definition.node;
            let name = definition.name.node.to_string();
            let fields = match definition.kind {
                TypeKind::Object(object) => object.fields,
                TypeKind::Interface(interface) => interface.fields,
                TypeKind::Union(_) => Vec::new(),
                _ => continue,
            };
            let returns = fields
                .into_iter()
                .map(|field| {
                    let (type_name, list) = named(&field.node.ty.node);
                    (
                        field.node.name.node.to_string(),
                        Returns { type_name, list },
                    )
                })
                .collect();
            model.fields.insert(name.clone(), returns);
            model.composite.insert(name);
        }
        model
    }

    /// The model of stockgraph's own schema, built once.
    pub fn stockgraph() -> &'static CostModel {
        static MODEL: OnceLock<CostModel> = OnceLock::new();
        MODEL.get_or_init(|| CostModel::from_sdl(&crate::graphql::sdl()))
    }

    fn field(&self, parent: &str, name: &str) -> Option<&Returns> {
        self.fields.get(parent)?.get(name)
    }

    fn is_composite(&self, type_name: &str) -> bool {
        self.composite.contains(type_name)
    }
}

/// The named type of `ty` and whether a list wraps it.
fn named(ty: &Type) -> (String, bool) {
    match &ty.base {
        BaseType::Named(name) => (name.to_string(), false),
        BaseType::List(inner) => (named(inner).0, true),
    }
}

fn is_connection_type(name: &str) -> bool {
    name.ends_with("Connection")
}

/// The page types whose `edges` / `nodes` lists were already counted at their connection.
fn is_page_type(name: &str) -> bool {
    name.ends_with("Connection") || name.ends_with("Edge")
}

/// Refuses the document with an error naming the first limit it breaks. `operation_name`
/// picks the operation to measure, as execution will pick it; without one every operation is
/// measured and the costliest counts.
pub fn check(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    limits: &LimitsConfig,
    model: &CostModel,
) -> ServerResult<()> {
    let operations = match &document.operations {
        DocumentOperations::Single(_) => 1,
        DocumentOperations::Multiple(ops) => ops.len(),
    };
    // Before measuring anything: a document of thousands of operations is refused in time
    // proportional to nothing but its parse.
    if operations > limits.max_operations {
        return Err(limit_error(format!(
            "the document defines {operations} operations, more than the limit of {}",
            limits.max_operations
        )));
    }
    let cost = measure(document, operation_name, variables, limits, model);
    if cost.introspection && !limits.introspection {
        return Err(limit_error(
            "introspection is disabled on this server".to_owned(),
        ));
    }
    if cost.fragment_nesting > MAX_FRAGMENT_NESTING {
        return Err(limit_error(format!(
            "fragments are spread inside each other more than {MAX_FRAGMENT_NESTING} deep"
        )));
    }
    if cost.selections > limits.max_selections {
        return Err(limit_error(format!(
            "the operation runs more than {} selections (every repeated field and every \
             fragment expansion counts), the limit",
            limits.max_selections
        )));
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
             children by their page size, lists by their length; ask for smaller pages)",
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

/// Parses the request's document, checks it against the limits, and leaves the parsed document
/// in the request so that execution does not parse it again. Returns the type of the operation
/// that will run (none when the name matches no operation: execution reports that).
pub fn check_request(
    request: &mut Request,
    limits: &LimitsConfig,
    model: &CostModel,
) -> ServerResult<Option<OperationType>> {
    let document = async_graphql::parser::parse_query(&request.query)?;
    let operation_name = request.operation_name.as_deref();
    crate::request_id::record_operation(&document, operation_name);
    check(&document, operation_name, &request.variables, limits, model)?;
    let ty = selected(&document, operation_name).map(|op| op.node.ty);
    request.set_parsed_query(document);
    Ok(ty)
}

/// The operation execution will run: the named one, or the only one.
fn selected<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// A GraphQL error with `extensions.code: LIMIT_EXCEEDED`.
pub fn limit_error(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "LIMIT_EXCEEDED");
    error.extensions = Some(extensions);
    error
}

/// Measures the operation `operation_name` picks, or every operation of the document (the
/// costliest counts in each measure).
pub fn measure(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    limits: &LimitsConfig,
    model: &CostModel,
) -> QueryCost {
    let operations: Vec<_> = match selected(document, operation_name) {
        Some(op) => vec![op],
        None => document.operations.iter().map(|(_, op)| op).collect(),
    };
    let mut cost = QueryCost {
        operations: document.operations.iter().count(),
        ..QueryCost::default()
    };
    for op in operations {
        let root = match op.node.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        };
        let mut walker = Walker {
            model,
            fragments: &document.fragments,
            variables,
            limits,
            stack: Vec::new(),
            cost: QueryCost::default(),
        };
        walker.walk(&op.node.selection_set.node, Some(root), 0, 1);
        cost = cost.max(walker.cost);
    }
    // Aliases and directives are counted as written, fragments once each.
    let mut written = QueryCost::default();
    for (_, op) in document.operations.iter() {
        written.directives += op.node.directives.len();
        count_written(&op.node.selection_set.node, &mut written);
    }
    for fragment in document.fragments.values() {
        written.directives += fragment.node.directives.len();
        count_written(&fragment.node.selection_set.node, &mut written);
    }
    cost.aliases = written.aliases;
    cost.directives = written.directives;
    cost
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
    model: &'a CostModel,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    limits: &'a LimitsConfig,
    /// Fragments being expanded, to stop at cycles (validation reports them afterwards).
    stack: Vec<&'a str>,
    cost: QueryCost,
}

impl<'a> Walker<'a> {
    /// True once the operation is over a limit: measuring further cannot change the answer, and
    /// stopping keeps exponential fragment expansions cheap to refuse.
    fn over(&self) -> bool {
        self.cost.selections > self.limits.max_selections
            || self.cost.nodes > self.limits.max_nodes as u64
            || self.cost.fragment_nesting > MAX_FRAGMENT_NESTING
    }

    /// Walks a selection set of an object of type `parent` (None when unknown) whose fields sit
    /// at `depth + 1`, each standing for `multiplier` objects.
    fn walk(
        &mut self,
        set: &'a SelectionSet,
        parent: Option<&'a str>,
        depth: usize,
        multiplier: u64,
    ) {
        for item in &set.items {
            if self.over() {
                return;
            }
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if depth == 0 && (name == "__schema" || name == "__type") {
                        self.cost.introspection = true;
                        continue;
                    }
                    self.cost.selections += 1;
                    self.cost.depth = self.cost.depth.max(depth + 1);
                    if depth + 1 > self.limits.max_depth {
                        // Refused for its depth whatever lies below.
                        continue;
                    }
                    let children = &field.node.selection_set.node;
                    let (child_type, size) = self.shape(parent, &field.node);
                    let child_multiplier = match size {
                        Some(size) => {
                            let count = multiplier.saturating_mul(size);
                            self.cost.nodes = self.cost.nodes.saturating_add(count);
                            count
                        }
                        None => multiplier,
                    };
                    self.walk(children, child_type, depth + 1, child_multiplier);
                }
                Selection::FragmentSpread(spread) => {
                    self.cost.selections += 1;
                    let name = spread.node.fragment_name.node.as_str();
                    if self.stack.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.fragments.get(&spread.node.fragment_name.node) {
                        self.stack.push(name);
                        self.cost.fragment_nesting =
                            self.cost.fragment_nesting.max(self.stack.len());
                        if self.stack.len() <= MAX_FRAGMENT_NESTING {
                            let on = fragment.node.type_condition.node.on.node.as_str();
                            self.walk(
                                &fragment.node.selection_set.node,
                                Some(on),
                                depth,
                                multiplier,
                            );
                        }
                        self.stack.pop();
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.cost.selections += 1;
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map(|condition| condition.node.on.node.as_str())
                        .or(parent);
                    self.walk(&inline.node.selection_set.node, on, depth, multiplier);
                }
            }
        }
    }

    /// The type `field` of `parent` returns (None when unknown), and how many objects each of
    /// its parents' objects gets from it when it is a connection or a list of objects.
    fn shape(&self, parent: Option<&'a str>, field: &Field) -> (Option<&'a str>, Option<u64>) {
        let name = field.name.node.as_str();
        let Some(returns) = parent.and_then(|parent| self.model.field(parent, name)) else {
            // Not in the schema (validation will say so): judge by shape alone.
            let size = self
                .is_connection(&field.selection_set.node, 0)
                .then(|| self.page_size(field));
            return (None, size);
        };
        let child = Some(returns.type_name.as_str());
        let size = if is_connection_type(&returns.type_name) {
            Some(self.page_size(field))
        } else if returns.list
            && self.model.is_composite(&returns.type_name)
            && !parent.is_some_and(is_page_type)
            && !IN_MEMORY_LISTS.contains(&returns.type_name.as_str())
        {
            Some(match field.get_argument("ids") {
                Some(_) => self.list_length(field, "ids"),
                None => self.limits.list_cost as u64,
            })
        } else {
            None
        };
        (child, size)
    }

    /// A field of unknown type is taken for a connection when it selects `edges` or `nodes`,
    /// directly or through fragments.
    fn is_connection(&self, set: &'a SelectionSet, nesting: usize) -> bool {
        if nesting > MAX_FRAGMENT_NESTING {
            return false;
        }
        set.items.iter().any(|item| match &item.node {
            Selection::Field(field) => matches!(field.node.name.node.as_str(), "edges" | "nodes"),
            Selection::InlineFragment(inline) => {
                self.is_connection(&inline.node.selection_set.node, nesting + 1)
            }
            Selection::FragmentSpread(spread) => self
                .fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|f| self.is_connection(&f.node.selection_set.node, nesting + 1)),
        })
    }

    /// `first` or `last`, literal or variable; the default page size otherwise.
    fn page_size(&self, field: &Field) -> u64 {
        ["first", "last"]
            .into_iter()
            .filter_map(|name| self.argument(field, name))
            .filter_map(|value| match value {
                Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .max()
            .unwrap_or(DEFAULT_PAGE_SIZE as u64)
    }

    /// The length of the list argument `name` (a single value counts as one, as GraphQL
    /// coerces it); the assumed list size when it cannot be known.
    fn list_length(&self, field: &Field, name: &str) -> u64 {
        match self.argument(field, name) {
            Some(Value::List(items)) => items.len() as u64,
            Some(Value::Null) => 0,
            Some(_) => 1,
            None => self.limits.list_cost as u64,
        }
    }

    /// The argument `name` of `field` with its variables filled in.
    fn argument(&self, field: &Field, name: &str) -> Option<Value> {
        field
            .get_argument(name)?
            .node
            .clone()
            .into_const_with(|var| self.variables.get(&var).cloned().ok_or(()))
            .ok()
    }
}

/// The schema behind the limits: every operation, over HTTP or WebSocket, is parsed once and
/// checked before it runs; WebSocket queries and mutations also take a slot of their caller's
/// concurrency limit and obey the time limit, as HTTP requests do in the handler.
#[derive(Clone)]
pub struct LimitedSchema {
    schema: StockgraphSchema,
    limits: Arc<LimitsConfig>,
    callers: CallerLimits,
}

impl LimitedSchema {
    /// `schema` behind `limits`, sharing the concurrency slots `callers` with the HTTP routes.
    pub fn new(schema: StockgraphSchema, limits: LimitsConfig, callers: CallerLimits) -> Self {
        Self {
            schema,
            limits: Arc::new(limits),
            callers,
        }
    }
}

fn refused(error: ServerError) -> Response {
    Response::from_errors(vec![error])
}

impl Executor for LimitedSchema {
    fn execute(&self, mut request: Request) -> impl std::future::Future<Output = Response> + Send {
        let checked = check_request(&mut request, &self.limits, CostModel::stockgraph());
        let schema = self.schema.clone();
        async move {
            match checked {
                Ok(_) => schema.execute(request).await,
                Err(error) => refused(error),
            }
        }
    }

    /// The operations of a batch run one after another: the whole batch holds one slot of its
    /// caller's concurrency limit, so running them in parallel would multiply it.
    fn execute_batch(
        &self,
        batch: BatchRequest,
    ) -> impl std::future::Future<Output = BatchResponse> + Send {
        let this = self.clone();
        async move {
            match batch {
                BatchRequest::Single(request) => BatchResponse::Single(this.execute(request).await),
                BatchRequest::Batch(requests) => {
                    let mut responses = Vec::with_capacity(requests.len());
                    for request in requests {
                        responses.push(this.execute(request).await);
                    }
                    BatchResponse::Batch(responses)
                }
            }
        }
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let ty = match check_request(&mut request, &self.limits, CostModel::stockgraph()) {
            Ok(ty) => ty,
            Err(error) => return futures_util::stream::once(async move { refused(error) }).boxed(),
        };
        if ty == Some(OperationType::Subscription) {
            // A subscription mostly waits for events; the per-connection subscription limit
            // bounds them, and holding a slot for its lifetime would lock its caller out.
            return Executor::execute_stream(&self.schema, request, session_data);
        }
        let subject = session_data
            .as_deref()
            .and_then(|data| data.get(&std::any::TypeId::of::<Actor>()))
            .and_then(|actor| actor.downcast_ref::<Actor>())
            .map(|actor| actor.subject.clone());
        let timeout = self.limits.request_timeout();
        let timeout_secs = self.limits.request_timeout_secs;
        let callers = self.callers.clone();
        let schema = self.schema.clone();
        futures_util::stream::once(async move {
            let run = async {
                // The handshake always stores the caller; without one there is nobody to count.
                let _permit = match &subject {
                    Some(subject) => Some(callers.acquire(subject).await?),
                    None => None,
                };
                let mut responses = Executor::execute_stream(&schema, request, session_data);
                Ok::<_, crate::error::ApiError>(responses.next().await)
            };
            // Waiting for a slot counts against the time limit, as over HTTP.
            match tokio::time::timeout(timeout, run).await {
                Ok(Ok(Some(response))) => response,
                Ok(Ok(None)) => refused(ServerError::new("the operation returned nothing", None)),
                Ok(Err(error)) => refused(limit_error(error.message())),
                Err(_) => refused(limit_error(format!(
                    "the operation exceeded the time limit of {timeout_secs} s"
                ))),
            }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn model() -> &'static CostModel {
        CostModel::stockgraph()
    }

    fn cost(query: &str) -> QueryCost {
        cost_with(query, &LimitsConfig::default())
    }

    fn cost_with(query: &str, limits: &LimitsConfig) -> QueryCost {
        let doc = parse_query(query).expect("parses");
        let limits = LimitsConfig {
            max_nodes: usize::MAX / 2,
            ..limits.clone()
        };
        measure(&doc, None, &Variables::default(), &limits, model())
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
        let limits = LimitsConfig::default();
        assert_eq!(measure(&doc, None, &vars, &limits, model()).nodes, 7);
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
        assert!(check(&doc, None, &Variables::default(), &limits, model()).is_err());
    }

    #[test]
    fn every_occurrence_of_a_repeated_field_counts() {
        let q = format!("{{ {} }}", "purchaseOrders { totalCount } ".repeat(100));
        let c = cost(&q);
        assert_eq!(c.selections, 200);
        // A connection costs its page even when only its count is asked for.
        assert_eq!(c.nodes, 100 * DEFAULT_PAGE_SIZE as u64);
    }

    #[test]
    fn connections_inside_fragments_are_typed_by_the_schema() {
        // No `edges` / `nodes` in sight of the connection field: the schema says what it is.
        let q = "{ vendors(first: 50) { ...A } }
            fragment A on VendorConnection { nodes { ...B } }
            fragment B on Vendor { purchaseOrders(first: 50) { ...C } }
            fragment C on PurchaseOrderConnection { nodes { ... on PurchaseOrder { lines(first: 50) { ...D } } } }
            fragment D on PurchaseOrderLineConnection { totalCount }";
        assert_eq!(cost(q).nodes, 50 + 2_500 + 125_000);
    }

    #[test]
    fn nodes_by_id_count_one_node_per_id() {
        let c = cost(r#"{ nodes(ids: ["a", "b", "c"]) { id } }"#);
        assert_eq!(c.nodes, 3);
        let doc = parse_query("query($ids: [ID!]!) { nodes(ids: $ids) { id } }").expect("parses");
        let vars = Variables::from_json(serde_json::json!({ "ids": ["a", "b", "c", "d"] }));
        let limits = LimitsConfig::default();
        assert_eq!(measure(&doc, None, &vars, &limits, model()).nodes, 4);
    }

    #[test]
    fn unpaginated_lists_multiply_by_the_configured_size() {
        let limits = LimitsConfig {
            list_cost: 10,
            ..LimitsConfig::default()
        };
        let c = cost_with(
            "{ purchaseOrders(first: 5) { nodes { receipts { lines { quantity } } bills { lines { quantity } } backorders { id } } } }",
            &limits,
        );
        // 5 orders; per order 10 receipts × 10 lines, 10 bills × 10 lines, 10 backorders.
        assert_eq!(c.nodes, 5 + (50 + 500) + (50 + 500) + 50);
        let c = cost_with("{ reorderSuggestions { quantity } }", &limits);
        assert_eq!(c.nodes, 10);
    }

    #[test]
    fn lists_of_scalars_and_page_lists_are_not_multiplied_again() {
        let c = cost("{ purchaseOrders(first: 2) { edges { node { id } } nodes { id } } }");
        assert_eq!(c.nodes, 2);
    }

    #[test]
    fn too_many_operations_are_refused() {
        let limits = LimitsConfig {
            max_operations: 3,
            ..LimitsConfig::default()
        };
        let ops = |n: usize| {
            (0..n)
                .map(|i| format!("query Q{i} {{ viewer {{ subject }} }}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let doc = parse_query(ops(3)).expect("parses");
        assert!(check(&doc, Some("Q0"), &Variables::default(), &limits, model()).is_ok());
        let doc = parse_query(ops(4)).expect("parses");
        let error =
            check(&doc, Some("Q0"), &Variables::default(), &limits, model()).expect_err("refused");
        assert!(error.message.contains("4 operations"), "{}", error.message);
    }

    #[test]
    fn only_the_operation_that_runs_is_measured() {
        let doc = parse_query(
            "query Cheap { viewer { subject } } query Dear { a(first: 50) { nodes { b(first: 50) { nodes { id } } } } }",
        )
        .expect("parses");
        let limits = LimitsConfig {
            max_nodes: 100,
            ..LimitsConfig::default()
        };
        assert!(check(&doc, Some("Cheap"), &Variables::default(), &limits, model()).is_ok());
        assert!(check(&doc, Some("Dear"), &Variables::default(), &limits, model()).is_err());
    }

    #[test]
    fn a_chain_of_fragments_is_refused_without_deep_recursion() {
        let mut q = String::from("{ viewer { ...F0 } }");
        for i in 0..5_000 {
            q.push_str(&format!(" fragment F{i} on Viewer {{ ...F{} }}", i + 1));
        }
        q.push_str(" fragment F5000 on Viewer { subject }");
        let doc = parse_query(&q).expect("parses");
        let error = check(
            &doc,
            None,
            &Variables::default(),
            &LimitsConfig::default(),
            model(),
        )
        .expect_err("refused");
        assert!(error.message.contains("fragments"), "{}", error.message);
    }

    #[test]
    fn the_model_knows_the_schema() {
        let m = model();
        assert!(m.field("Query", "purchaseOrders").is_some());
        let receipts = m.field("PurchaseOrder", "receipts").expect("receipts");
        assert!(receipts.list);
        assert_eq!(receipts.type_name, "Receipt");
    }
}
