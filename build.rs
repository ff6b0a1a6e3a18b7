//! Tells the integration tests which database they run on, so a test that needs one database
//! is reported as ignored on the other instead of returning early and counting as a pass.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_postgres)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    // Only this file's own changes rerun it (without this line any file in the package would).
    println!("cargo::rerun-if-changed=build.rs");
    let on_postgres =
        std::env::var("TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres"));
    if on_postgres {
        println!("cargo::rustc-cfg=test_postgres");
    }
}
