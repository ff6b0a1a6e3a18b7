#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The layout ARCHITECTURE.md promises, checked on the source (issue 14): the domain knows
//! neither the database nor GraphQL, the services do not know GraphQL, use cases and domain
//! functions fit on a screen, resolvers only check, convert and delegate, and the rule map
//! (`RULES.md`) names files and functions that exist.

use std::path::{Path, PathBuf};

/// Longest body of a use-case or domain function, in lines.
const MAX_FUNCTION_LINES: usize = 80;
/// Longest body of a GraphQL resolver, in lines.
const MAX_RESOLVER_LINES: usize = 25;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.rs` files under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The code of a file without its unit tests (a `#[cfg(test)]` module is test code).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// A function found in a file: its name, first line (1-based) and body length in lines.
struct Function {
    name: String,
    line: usize,
    body_lines: usize,
    is_resolver: bool,
}

/// The functions of `code`: a line declaring `fn name(` starts one; its body runs from the
/// line that opens it to the line at the same indentation that closes it.
fn functions(code: &str) -> Vec<Function> {
    let lines: Vec<&str> = code.lines().collect();
    let in_resolvers = resolver_blocks(&lines);
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(after_fn) = trimmed
            .split_once("fn ")
            .filter(|(before, _)| {
                before.is_empty()
                    || before
                        .split_whitespace()
                        .all(|w| ["pub", "pub(crate)", "pub(super)", "async", "const"].contains(&w))
            })
            .map(|(_, after)| after)
        else {
            continue;
        };
        let name: String = after_fn
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        let indent = line.len() - trimmed.len();
        // The body opens on the first line from here that ends with `{` (signatures may wrap);
        // a declaration without a body (a trait method) ends with `;` first.
        let Some(open) = (i..lines.len()).find(|&j| {
            let l = lines[j].trim_end();
            l.ends_with('{') || l.ends_with(';') || l.ends_with('}')
        }) else {
            continue;
        };
        if lines[open].trim_end().ends_with(';') {
            continue;
        }
        // A one-line body (`fn x() -> T { .. }`) closes on its own line.
        if lines[open].trim_end().ends_with('}') {
            continue;
        }
        let close = (open + 1..lines.len()).find(|&j| {
            let l = lines[j];
            l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}')
        });
        let Some(close) = close else { continue };
        let signature = lines[i..=open].join(" ");
        out.push(Function {
            name,
            line: i + 1,
            body_lines: close - open - 1,
            is_resolver: in_resolvers[i] && signature.contains("async fn"),
        });
    }
    out
}

/// For each line, whether it lies in an impl block that async-graphql turns into resolvers
/// (`#[Object]`, `#[ComplexObject]`, `#[Subscription]`).
fn resolver_blocks(lines: &[&str]) -> Vec<bool> {
    let mut inside = vec![false; lines.len()];
    let mut marked = false;
    let mut open = false;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if ["#[Object", "#[ComplexObject", "#[Subscription"]
            .iter()
            .any(|a| trimmed.starts_with(a))
        {
            marked = true;
        } else if marked && trimmed.starts_with("impl") {
            marked = false;
            open = true;
        } else if open && line.starts_with('}') {
            open = false;
        }
        inside[i] = open;
    }
    inside
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_domain_knows_neither_the_database_nor_graphql() {
    let mut leaks = Vec::new();
    for path in sources(&root().join("src/domain")) {
        for (n, line) in code_of(&path).lines().enumerate() {
            if ["async_graphql", "sea_orm", "entity::"]
                .iter()
                .any(|name| line.contains(name))
            {
                leaks.push(format!("{}:{}: {}", relative(&path), n + 1, line.trim()));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn the_services_do_not_know_graphql_or_its_input_paths() {
    let mut leaks = Vec::new();
    for path in sources(&root().join("src/services")) {
        for (n, line) in code_of(&path).lines().enumerate() {
            if line.contains("async_graphql")
                || line.contains("\"input.")
                || line.contains("\"input\"")
                || line.contains("UserError")
            {
                leaks.push(format!("{}:{}: {}", relative(&path), n + 1, line.trim()));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

#[test]
fn use_cases_and_domain_functions_fit_on_a_screen() {
    let mut long = Vec::new();
    for dir in ["src/services", "src/domain"] {
        for path in sources(&root().join(dir)) {
            for f in functions(&code_of(&path)) {
                if f.body_lines > MAX_FUNCTION_LINES {
                    long.push(format!(
                        "{}:{} {} has {} lines",
                        relative(&path),
                        f.line,
                        f.name,
                        f.body_lines
                    ));
                }
            }
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_FUNCTION_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn resolvers_check_convert_and_delegate_in_a_few_lines() {
    let mut long = Vec::new();
    for path in sources(&root().join("src/graphql")) {
        for f in functions(&code_of(&path)) {
            if f.is_resolver && f.body_lines > MAX_RESOLVER_LINES {
                long.push(format!(
                    "{}:{} {} has {} lines",
                    relative(&path),
                    f.line,
                    f.name,
                    f.body_lines
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_RESOLVER_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_rule_map_names_files_and_functions_that_exist() {
    let map = std::fs::read_to_string(root().join("RULES.md")).unwrap();
    let mut rows = 0;
    let mut missing = Vec::new();
    for line in map
        .lines()
        .filter(|l| l.starts_with('|') && l.contains("`src/"))
    {
        rows += 1;
        // The last cell lists `src/file.rs` followed by the `function`s it holds.
        let cell = line.trim_end_matches('|').rsplit('|').next().unwrap();
        let mut file: Option<String> = None;
        for item in cell.split('`').skip(1).step_by(2) {
            if item.starts_with("src/") {
                let path = root().join(item);
                if !path.exists() {
                    missing.push(format!("no file {item}"));
                }
                file = Some(item.to_owned());
            } else if let Some(file) = &file {
                let name = item.trim_end_matches("()");
                let found = std::fs::read_to_string(root().join(file))
                    .map(|text| {
                        [
                            format!("fn {name}("),
                            format!("fn {name}<"),
                            format!("struct {name}"),
                            format!("enum {name}"),
                            format!("const {name}"),
                            format!("trait {name}"),
                        ]
                        .iter()
                        .any(|decl| text.contains(decl.as_str()))
                    })
                    .unwrap_or(false);
                if !found {
                    missing.push(format!("{file} has no `{name}`"));
                }
            }
        }
    }
    assert!(rows >= 10, "the rule map lists {rows} rules");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn the_function_finder_measures_bodies() {
    let code = "fn short() {\n    a();\n}\n\npub async fn long(\n    x: i32,\n) -> i32 {\n    1;\n    2;\n}\nfn one_line() -> i32 { 1 }\n#[Object]\nimpl Query {\n    async fn field(&self) -> i32 {\n        1\n    }\n}\n";
    let found = functions(code);
    let resolvers: Vec<&str> = found
        .iter()
        .filter(|f| f.is_resolver)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(resolvers, ["field"]);
    let lengths: Vec<(&str, usize)> = found
        .iter()
        .map(|f| (f.name.as_str(), f.body_lines))
        .collect();
    assert_eq!(lengths, [("short", 1), ("long", 2), ("field", 1)]);
}
