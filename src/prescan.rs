//! A linear look at a GraphQL document before the parser sees it.
//!
//! async-graphql's parser bounds the recursion of selection sets but not of list and object
//! value literals: about 1,800 nested `[` overflow a worker's stack and abort the whole process.
//! So every document is measured here first, in one pass that cannot recurse, and a document
//! nested deeper than [`MAX_NESTING`] never reaches the parser.

use crate::error::ApiError;

/// Deepest nesting of `{`, `[` and `(` (outside strings and comments) a document may have.
///
/// Far above what a real operation needs (the selection depth limit is 12 and arguments add a
/// few levels), far below what overflows a 2 MiB worker stack.
pub const MAX_NESTING: usize = 64;

/// Whether brackets outside strings, block strings and comments nest deeper than `limit`.
/// Stops at the first bracket past the limit; linear in the document's length.
pub fn nesting_exceeds(document: &str, limit: usize) -> bool {
    let bytes = document.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            // A comment runs to the end of its line.
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // A block string ends at the next `"""` not escaped as `\"""`.
                i += 3;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else if bytes[i..].starts_with(b"\"\"\"") {
                        i += 3;
                        break;
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'"' => {
                // A string ends at an unescaped `"` (or, unterminated, at the line's end, which
                // the parser then refuses).
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\n' | b'\r' => break,
                        _ => i += 1,
                    }
                }
                continue;
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// LIMIT_EXCEEDED for a document nested deeper than [`MAX_NESTING`].
pub fn check_document(document: &str) -> Result<(), ApiError> {
    if nesting_exceeds(document, MAX_NESTING) {
        return Err(ApiError::LimitExceeded(format!(
            "the document nests brackets deeper than {MAX_NESTING} levels"
        )));
    }
    Ok(())
}

/// BAD_REQUEST for a NUL character in the document or in any variable: no text column stores
/// one (PostgreSQL refuses it outright), so it is refused before anything runs.
pub fn check_no_nul(document: &str, variables: &serde_json::Value) -> Result<(), ApiError> {
    fn has_nul(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(has_nul),
            serde_json::Value::Object(map) => map
                .iter()
                .any(|(key, value)| key.contains('\0') || has_nul(value)),
            _ => false,
        }
    }
    if document.contains('\0') || document.contains("\\u0000") || has_nul(variables) {
        return Err(ApiError::BadRequest(
            "text may not contain NUL characters".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_list_and_object_literals_exceed_the_nesting_bound() {
        let lists = format!("{{ a(x: {}) }}", "[".repeat(100_000));
        assert!(nesting_exceeds(&lists, MAX_NESTING));
        let objects = format!("{{ a(x: {}) }}", "{a: ".repeat(100_000));
        assert!(nesting_exceeds(&objects, MAX_NESTING));
        let selections = "{ a ".repeat(100_000);
        assert!(nesting_exceeds(&selections, MAX_NESTING));
    }

    #[test]
    fn nesting_is_counted_exactly_up_to_the_bound() {
        let at = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!nesting_exceeds(&at(5), 5));
        assert!(nesting_exceeds(&at(6), 5));
        // Closed brackets free their level: many shallow siblings are fine.
        assert!(!nesting_exceeds(&"[[]]".repeat(10_000), 2));
    }

    #[test]
    fn brackets_inside_strings_block_strings_and_comments_do_not_count() {
        let deep = "[".repeat(1_000);
        assert!(!nesting_exceeds(
            &format!("{{ a(x: \"{deep}\") }}"),
            MAX_NESTING
        ));
        assert!(!nesting_exceeds(
            &format!("{{ a(x: \"\\\"{deep}\") }}"),
            MAX_NESTING
        ));
        assert!(!nesting_exceeds(
            &format!("{{ a(x: \"\"\"{deep} \\\"\"\" {deep}\"\"\") }}"),
            MAX_NESTING
        ));
        assert!(!nesting_exceeds(&format!("# {deep}\n{{ a }}"), MAX_NESTING));
        // …but a string does not hide what follows it.
        assert!(nesting_exceeds(
            &format!("{{ a(x: \"]]]\", y: {deep}) }}"),
            MAX_NESTING
        ));
        // An unterminated string ends at its line; the brackets after it still count.
        assert!(nesting_exceeds(&format!("\"open\n{deep}"), MAX_NESTING));
    }

    #[test]
    fn nul_characters_are_refused_in_documents_and_variables() {
        let none = serde_json::json!({});
        assert!(check_no_nul("{ a }", &none).is_ok());
        assert!(check_no_nul("{ a(x: \"a\\u0000b\") }", &none).is_err());
        assert!(check_no_nul("{ a }", &serde_json::json!({ "x": ["ok", "a\u{0}b"] })).is_err());
    }
}
