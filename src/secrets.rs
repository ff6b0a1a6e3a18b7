//! Where the token-signing secret comes from.

use std::io::Write;
use std::path::Path;

use crate::config::{secret_file_for, AuthConfig, DatabaseConfig};

/// Why no secret could be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("STOCKGRAPH_JWT_SECRET is required when the database is not a SQLite file")]
    Missing,
    #[error("STOCKGRAPH_JWT_SECRET must be at least 32 characters")]
    TooShort,
    #[error("cannot read or write the token secret file {0}: {1}")]
    File(String, std::io::Error),
}

/// The configured secret; on SQLite, the one kept beside the database file (generated on first
/// use, readable by its owner only) so tokens survive restarts.
pub fn load_or_create(
    database: &DatabaseConfig,
    auth: &AuthConfig,
) -> Result<Vec<u8>, SecretError> {
    if let Some(secret) = &auth.jwt_secret {
        if secret.len() < 32 {
            return Err(SecretError::TooShort);
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = secret_file_for(&database.database_url).ok_or(SecretError::Missing)?;
    let describe = |e| SecretError::File(path.display().to_string(), e);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => Err(describe(std::io::Error::other(
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
}
