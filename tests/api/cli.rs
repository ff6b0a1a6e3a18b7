//! The `stockgraph` command on bad input: one clear line on stderr and a non-zero exit.

use std::process::{Command, Output};

fn stockgraph(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = std::env::temp_dir().join(format!("sg-cli-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_stockgraph"));
    command
        .args(args)
        .current_dir(&dir)
        .env_remove("DATABASE_URL")
        .env_remove("STOCKGRAPH_JWT_SECRET");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn assert_one_clear_line(output: &Output, expected: &str) {
    assert!(!output.status.success(), "should fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line, got: {stderr}");
    assert!(errors[0].contains(expected), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_database_url_is_one_clear_line() {
    let output = stockgraph(&["migrate"], &[("DATABASE_URL", "mysql//nope")]);
    assert_one_clear_line(&output, "DATABASE_URL");
}

#[test]
fn an_unreachable_database_is_one_clear_line() {
    let output = stockgraph(
        &["migrate"],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nothing")],
    );
    assert_one_clear_line(&output, "cannot open the database");
}

#[test]
fn a_corrupt_sqlite_file_is_one_clear_line() {
    let dir = std::env::temp_dir().join(format!("sg-corrupt-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.db");
    std::fs::write(
        &file,
        b"this is not a database, just some text that fills a page",
    )
    .unwrap();
    let url = format!("sqlite://{}", file.display());
    let output = stockgraph(&["migrate"], &[("DATABASE_URL", &url)]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_port_in_use_is_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = stockgraph(&["serve", "--port", &port], &[]);
    assert_one_clear_line(&output, "cannot listen");
}

#[test]
fn postgres_without_a_secret_refuses_to_serve() {
    let output = stockgraph(
        &["serve"],
        &[(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )],
    );
    assert_one_clear_line(&output, "STOCKGRAPH_JWT_SECRET");
}

#[test]
fn token_prints_a_token_that_uses_the_serve_secret() {
    let output = stockgraph(
        &[
            "token",
            "--sub",
            "ann",
            "--permissions",
            "purchase_orders:read,42",
            "--ttl",
            "1h",
        ],
        &[("STOCKGRAPH_JWT_SECRET", "0123456789abcdef0123456789abcdef")],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    let actor = stockgraph::auth::TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef")
        .verify(token.trim())
        .unwrap();
    assert_eq!(actor.subject, "ann");
    assert!(actor.has(stockgraph::auth::Permission::PurchaseOrdersWrite));
}

#[test]
fn an_unknown_permission_is_refused_by_token() {
    let output = stockgraph(
        &["token", "--sub", "ann", "--permissions", "everything"],
        &[("STOCKGRAPH_JWT_SECRET", "0123456789abcdef0123456789abcdef")],
    );
    assert_one_clear_line(&output, "unknown permission");
}

#[test]
fn export_schema_check_fails_when_the_file_differs() {
    let output = stockgraph(
        &["export-schema", "--check", "--output", "missing.graphql"],
        &[],
    );
    assert_one_clear_line(&output, "differs from the code");
}
