//! Where the token-signing secret comes from.

use std::io::Write;
use std::path::Path;

use crate::config::{secret_file_for, AuthConfig, DatabaseConfig};

/// Why no secret could be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("STOCKGRAPH_JWT_SECRET is required when the database is not a SQLite file")]
    Missing,
    #[error(
        "STOCKGRAPH_JWT_SECRET must be at least {MIN_LENGTH} characters with at least \
         {MIN_DISTINCT} different ones (e.g. `openssl rand -hex 32`)"
    )]
    TooShort,
    #[error("cannot read or write the token secret file {0}: {1}")]
    File(String, #[source] std::io::Error),
    #[error(
        "the token secret file {0} {1}: anyone who can change it can mint tokens; \
         fix it (chown to the service's user, chmod 600) or remove it to have a new one generated"
    )]
    Unsafe(String, &'static str),
}

/// Fewest characters a secret may have (leading and trailing whitespace not counted).
pub const MIN_LENGTH: usize = 32;
/// Fewest different characters a secret may have: refuses placeholders such as 32 spaces or
/// `aaaa…`, not a substitute for a random secret.
pub const MIN_DISTINCT: usize = 6;

/// Whether `secret` is long and varied enough to sign tokens.
pub fn strong_enough(secret: &str) -> bool {
    let secret = secret.trim();
    let distinct: std::collections::HashSet<char> =
        secret.chars().filter(|c| !c.is_whitespace()).collect();
    secret.chars().count() >= MIN_LENGTH && distinct.len() >= MIN_DISTINCT
}

/// The configured secret; on SQLite, the one kept beside the database file (generated on first
/// use, readable by its owner only) so tokens survive restarts.
pub fn load_or_create(
    database: &DatabaseConfig,
    auth: &AuthConfig,
) -> Result<Vec<u8>, SecretError> {
    if let Some(secret) = &auth.jwt_secret {
        if !strong_enough(secret) {
            return Err(SecretError::TooShort);
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = secret_file_for(&database.database_url).ok_or(SecretError::Missing)?;
    let describe = |e| SecretError::File(path.display().to_string(), e);
    match read_private(&path) {
        Ok(Err(problem)) => Err(SecretError::Unsafe(path.display().to_string(), problem)),
        Ok(Ok(text)) if strong_enough(&text) => Ok(text.trim().as_bytes().to_vec()),
        Ok(Ok(_)) => Err(describe(std::io::Error::other(
            "the file holds no usable secret",
        ))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let secret: String = (0..32)
                .map(|_| format!("{:02x}", rand::random::<u8>()))
                .collect();
            write_private(&path, &secret).map_err(describe)?;
            Ok(secret.into_bytes())
        }
        Err(err) => Err(describe(err)),
    }
}

/// The file's text, or why it cannot be trusted: it must belong to the service's user and
/// neither its group nor others may read or write it. The checks look at the opened file, so a
/// swap between check and read changes nothing.
fn read_private(path: &Path) -> std::io::Result<Result<String, &'static str>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let metadata = file.metadata()?;
        if metadata.uid() != rustix::process::geteuid().as_raw() {
            return Ok(Err("is not owned by the user running the service"));
        }
        if metadata.mode() & 0o022 != 0 {
            return Ok(Err("is writable by its group or by others"));
        }
        if metadata.mode() & 0o044 != 0 {
            return Ok(Err("is readable by its group or by others"));
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(Ok(text))
}

fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(dir: &Path) -> DatabaseConfig {
        DatabaseConfig {
            database_url: format!("sqlite://{}", dir.join("s.db").display()),
            pool_size: 1,
        }
    }

    #[test]
    fn sqlite_generates_a_private_secret_once_and_reuses_it() {
        let dir = std::env::temp_dir().join(format!("sg-secret-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let none = AuthConfig { jwt_secret: None };
        let first = load_or_create(&sqlite(&dir), &none).unwrap();
        let second = load_or_create(&sqlite(&dir), &none).unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("s.db.jwt-secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn postgres_requires_a_configured_secret() {
        let pg = DatabaseConfig {
            database_url: "postgres://postgres@127.0.0.1/x".into(),
            pool_size: 1,
        };
        assert!(matches!(
            load_or_create(&pg, &AuthConfig { jwt_secret: None }),
            Err(SecretError::Missing)
        ));
        let short = AuthConfig {
            jwt_secret: Some("short".into()),
        };
        assert!(matches!(
            load_or_create(&pg, &short),
            Err(SecretError::TooShort)
        ));
    }

    #[test]
    fn a_secret_of_thirty_two_spaces_or_one_repeated_character_is_too_weak() {
        let pg = DatabaseConfig {
            database_url: "postgres://postgres@127.0.0.1/x".into(),
            pool_size: 1,
        };
        for weak in [
            " ".repeat(32),
            "a".repeat(64),
            format!("{}abc", " ".repeat(40)),
        ] {
            let auth = AuthConfig {
                jwt_secret: Some(weak),
            };
            assert!(matches!(
                load_or_create(&pg, &auth),
                Err(SecretError::TooShort)
            ));
        }
        let good = AuthConfig {
            jwt_secret: Some("0123456789abcdef0123456789abcdef".into()),
        };
        assert!(load_or_create(&pg, &good).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_others_can_write_or_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sg-secret-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let none = AuthConfig { jwt_secret: None };
        let file = dir.join("s.db.jwt-secret");
        // A planted file: a secret the attacker knows, world-writable.
        std::fs::write(&file, "0123456789abcdef0123456789abcdef").unwrap();
        for mode in [0o666, 0o620, 0o644] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(
                matches!(
                    load_or_create(&sqlite(&dir), &none),
                    Err(SecretError::Unsafe(..))
                ),
                "mode {mode:o}"
            );
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_or_create(&sqlite(&dir), &none).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_owned_by_another_user_is_refused() {
        let dir = std::env::temp_dir().join(format!("sg-secret-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.db.jwt-secret");
        write_private(&file, "0123456789abcdef0123456789abcdef").unwrap();
        // Hand the file to `nobody` (only root may); otherwise a root-owned system file serves.
        let me = rustix::process::geteuid().as_raw();
        let foreign = match std::os::unix::fs::chown(&file, Some(65_534), None) {
            Ok(()) if me != 65_534 => file.clone(),
            _ => std::path::PathBuf::from("/etc/passwd"),
        };
        assert!(matches!(
            read_private(&foreign),
            Ok(Err("is not owned by the user running the service"))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
