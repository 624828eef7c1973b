//! HTTP Basic for legacy Data Highway clients: a password file of argon2 or
//! bcrypt hashes, never plain text, re-read when it changes.
//!
//! A line is `name:hash` or `name:hash:authority,authority`; `#` starts a
//! comment. Verifying a hash is slow on purpose (tens of milliseconds), and
//! the gateway sends the credentials with every request, so a verified pair
//! is remembered (by its SHA-256, never the password) until the file
//! changes or a few minutes pass.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use sha2::{Digest, Sha256};

use super::Unauthenticated;
use super::reload::Reloading;

/// How long a verified pair is remembered.
const REMEMBER: Duration = Duration::from_secs(300);
/// Pairs remembered at most; past it the memory starts over.
const REMEMBER_AT_MOST: usize = 10_000;

struct User {
    hash: String,
    authorities: BTreeSet<String>,
}

struct Users {
    by_name: HashMap<String, User>,
    verified: Mutex<HashMap<[u8; 32], Instant>>,
}

/// The password file.
pub struct Passwords {
    users: Reloading<Users>,
}

impl Passwords {
    pub fn new(path: &Path) -> Result<Self, String> {
        Ok(Self { users: Reloading::new(path, parse)? })
    }

    /// The authorities of `name` when `password` is theirs. An unknown
    /// user is answered as a wrong password, after as much work, so that
    /// neither the answer nor its time tells which names exist.
    pub fn verify(&self, name: &str, password: &str) -> Result<BTreeSet<String>, Unauthenticated> {
        let users = self.users.get();
        let bad = || Unauthenticated::new("BAD_PASSWORD", "wrong user name or password");
        let Some(user) = users.by_name.get(name) else {
            let _ = check(password, decoy());
            return Err(bad());
        };
        let digest: [u8; 32] = Sha256::new()
            .chain_update(name)
            .chain_update([0])
            .chain_update(password)
            .finalize()
            .into();
        let verified = users.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.get(&digest).is_some_and(|at| at.elapsed() < REMEMBER) {
            return Ok(user.authorities.clone());
        }
        drop(verified);
        if !check(password, &user.hash) {
            return Err(bad());
        }
        let mut verified = users.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= REMEMBER_AT_MOST {
            verified.clear();
        }
        verified.insert(digest, Instant::now());
        Ok(user.authorities.clone())
    }
}

/// Whether `password` matches an argon2 or bcrypt `hash`.
fn check(password: &str, hash: &str) -> bool {
    if hash.starts_with("$argon2") {
        PasswordHash::new(hash)
            .map(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    } else {
        bcrypt::verify(password, hash).unwrap_or(false)
    }
}

/// A hash no password is known to match, verified for unknown users.
fn decoy() -> &'static str {
    use argon2::password_hash::{PasswordHasher, SaltString};
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::encode_b64(b"roadroller-decoy").expect("a valid salt");
        argon2::Argon2::default()
            .hash_password(uuid::Uuid::new_v4().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Parses the file; a problem names the line, never its content.
fn parse(text: &str) -> Result<Users, String> {
    let mut by_name = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = i + 1;
        let mut fields = line.splitn(3, ':');
        let name = fields.next().unwrap_or_default().trim();
        let hash = fields.next().unwrap_or_default().trim();
        let authorities = fields.next().unwrap_or_default();
        if name.is_empty() {
            return Err(format!("line {n}: no user name before the first ':'"));
        }
        let argon = hash.starts_with("$argon2") && PasswordHash::new(hash).is_ok();
        let bcrypt =
            ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) && hash.len() == 60;
        if !argon && !bcrypt {
            return Err(format!(
                "line {n}: the password of {name:?} is not an argon2 or bcrypt hash (plain text is refused)"
            ));
        }
        let authorities = authorities
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        if by_name.insert(name.to_string(), User { hash: hash.to_string(), authorities }).is_some()
        {
            return Err(format!("line {n}: user {name:?} appears twice"));
        }
    }
    Ok(Users { by_name, verified: Mutex::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};

    fn argon(password: &str) -> String {
        let salt = SaltString::encode_b64(b"roadroller-salt!").expect("salt");
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("hash")
            .to_string()
    }

    fn file(text: &str) -> (tempfile::TempDir, Passwords) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("passwords");
        std::fs::write(&path, text).expect("write");
        let passwords = Passwords::new(&path).expect("parses");
        (dir, passwords)
    }

    #[test]
    fn argon2_and_bcrypt_hashes_verify_and_carry_authorities() {
        let bcrypt = bcrypt::hash("s3cret", 4).expect("bcrypt");
        let text = format!("# users\nada:{}:shop,admins\nbob:{bcrypt}\n", argon("hunter2"));
        let (_dir, passwords) = file(&text);
        let ada = passwords.verify("ada", "hunter2").expect("ada");
        assert_eq!(ada.into_iter().collect::<Vec<_>>(), ["admins", "shop"]);
        // Remembered the second time, with the same answer.
        assert!(passwords.verify("ada", "hunter2").is_ok());
        assert!(passwords.verify("bob", "s3cret").expect("bob").is_empty());
        assert_eq!(passwords.verify("ada", "hunter3").expect_err("wrong").reason, "BAD_PASSWORD");
        // An unknown user reads as a wrong password.
        let unknown = passwords.verify("eve", "x").expect_err("unknown");
        let wrong = passwords.verify("ada", "x").expect_err("wrong");
        assert_eq!(unknown, wrong);
    }

    #[test]
    fn plain_text_is_refused_without_echoing_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("passwords");
        std::fs::write(&path, "ada:hunter2\n").expect("write");
        let e = Passwords::new(&path).err().expect("refused");
        assert!(e.contains("line 1") && e.contains("plain text is refused"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }
}
