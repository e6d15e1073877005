//! Stored secrets (SimpleFIN access URLs, tokens, refresh tokens) are sealed with an AEAD under a
//! master key that never enters the database: `SALDO_SECRET_KEY`, or a key file created with mode
//! 0600 on first use. A dump of the database therefore holds no secret in clear.
//!
//! A sealed secret is `v1.` + base64url(key id ‖ nonce ‖ ciphertext). The key id (8 bytes of a hash
//! of the key) says which key sealed it, so a wrong key is reported as such rather than as
//! corruption, and a rotation interrupted half-way can still open everything. The connection id
//! is bound in as associated data: a sealed secret copied onto another connection does not open.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use saldo_core::secret::{Sealed, Secret};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

const VERSION: &str = "v1.";
const KEY_ID: usize = 8;
const NONCE: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "invalid SALDO_SECRET_KEY: expected 32 bytes as 64 hex digits or base64 (`saldo secrets new-key` prints one)"
    )]
    BadKey,
    #[error("invalid key in {path}: expected 32 bytes as 64 hex digits or base64")]
    BadKeyFile { path: PathBuf },
    #[error("cannot use the key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("a stored secret was sealed under key {found}, which is not configured (configured: {configured}); set SALDO_SECRET_KEY or secret_key_file to the key it was sealed with")]
    UnknownKey { found: String, configured: String },
    #[error(
        "the database holds secrets sealed under key {key_ids}, but the key file {path} is missing: restore it \
         (from the backup of the data directory), or set SALDO_SECRET_KEY to that key; saldo creates a new key \
         only for a database that holds no sealed secret"
    )]
    MissingKey { path: PathBuf, key_ids: String },
    #[error("a stored secret is damaged or belongs to another connection; reconnect it")]
    Damaged,
    #[error("{0}")]
    Rotation(String),
}

struct Key {
    id: [u8; KEY_ID],
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Key {
        let digest = Sha256::new().chain_update(b"saldo secret key id\0").chain_update(bytes).finalize();
        let mut id = [0u8; KEY_ID];
        id.copy_from_slice(&digest[..KEY_ID]);
        Key { id, cipher: XChaCha20Poly1305::new(bytes.into()) }
    }

    fn id_hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where the keys come from: the environment holds one key; a key file may have a `.new`
/// companion while a rotation is under way.
#[derive(Debug, Clone)]
enum KeySource {
    Env,
    File(PathBuf),
}

/// The keys a process can open secrets with; the first seals.
pub struct Keyring {
    keys: RwLock<Vec<Key>>,
    source: KeySource,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({:?}, keys {})", self.source, self.ids().join(", "))
    }
}

/// Parses a key given as 64 hex digits or as standard base64 of 32 bytes.
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()).collect::<Option<Vec<u8>>>()?
    } else {
        STANDARD.decode(text).ok()?
    };
    bytes.try_into().ok()
}

/// A fresh random key, as the hex a key file or `SALDO_SECRET_KEY` holds.
pub fn new_key_hex() -> String {
    rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02x}")).collect()
}

fn read_key_file(path: &Path) -> Result<Option<[u8; 32]>, SecretError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(&text).map(Some).ok_or_else(|| SecretError::BadKeyFile { path: path.to_path_buf() }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(SecretError::KeyFile { path: path.to_path_buf(), message: err.to_string() }),
    }
}

/// Writes a new key file that only its owner can read; never replaces an existing one.
fn create_key_file(path: &Path, key_hex: &str) -> Result<(), SecretError> {
    use std::io::Write;
    let failed = |err: std::io::Error| SecretError::KeyFile { path: path.to_path_buf(), message: err.to_string() };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        saldo_store::files::create_private_dir(dir).map_err(failed)?;
    }
    let mut file = saldo_store::files::create_private_file(path).map_err(failed)?;
    file.write_all(format!("{key_hex}\n").as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)
}

/// The companion file a rotation writes the new key to before re-sealing.
pub fn pending_key_file(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".new");
    path.with_file_name(name)
}

impl Keyring {
    /// The configured key: `key` (from `SALDO_SECRET_KEY`), else the key file. The file is created
    /// when missing only if the database holds no secret sealed under a key (`sealed`): a new key
    /// would open none of them, and every sync would fail as misconfigured.
    pub fn load(key: Option<&Secret>, key_file: &Path, sealed: &[Sealed]) -> Result<Keyring, SecretError> {
        if let Some(secret) = key {
            let key = parse_key(secret.expose()).ok_or(SecretError::BadKey)?;
            return Ok(Keyring { keys: RwLock::new(vec![Key::new(&key)]), source: KeySource::Env });
        }
        let path = key_file;
        if read_key_file(path)?.is_none() {
            let mut key_ids: Vec<String> = sealed.iter().filter_map(sealed_key_id).collect();
            key_ids.sort();
            key_ids.dedup();
            if !key_ids.is_empty() {
                return Err(SecretError::MissingKey { path: path.to_path_buf(), key_ids: key_ids.join(", ") });
            }
            match create_key_file(path, &new_key_hex()) {
                Ok(()) => tracing::info!(path = %path.display(), "created the key file that encrypts stored secrets"),
                // Another process created it first: use theirs.
                Err(_) if path.exists() => {}
                Err(err) => return Err(err),
            }
        }
        let keyring = Keyring { keys: RwLock::new(Vec::new()), source: KeySource::File(path.to_path_buf()) };
        keyring.reload()?;
        Ok(keyring)
    }

    /// A keyring of one key, for rotation and tests.
    pub fn from_key(key: &[u8; 32]) -> Keyring {
        Keyring { keys: RwLock::new(vec![Key::new(key)]), source: KeySource::Env }
    }

    /// Re-reads the key file and its `.new` companion: after another process rotated the key,
    /// secrets sealed under the new one open without a restart.
    fn reload(&self) -> Result<(), SecretError> {
        let KeySource::File(path) = &self.source else { return Ok(()) };
        let mut keys = Vec::new();
        let primary = read_key_file(path)?
            .ok_or_else(|| SecretError::KeyFile { path: path.clone(), message: "the key file is missing".into() })?;
        keys.push(Key::new(&primary));
        if let Some(pending) = read_key_file(&pending_key_file(path))? {
            keys.push(Key::new(&pending));
        }
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
        Ok(())
    }

    fn ids(&self) -> Vec<String> {
        self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner).iter().map(Key::id_hex).collect()
    }

    /// Encrypts a secret for the row `context` names (a connection id).
    pub fn seal(&self, secret: &Secret, context: &[u8]) -> Sealed {
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match keys.first() {
            Some(key) => seal_with(key, secret, context),
            None => Sealed(String::new()),
        }
    }

    /// Decrypts a secret sealed for `context`.
    pub fn open(&self, sealed: &Sealed, context: &[u8]) -> Result<Secret, SecretError> {
        let bytes = sealed
            .0
            .strip_prefix(VERSION)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .filter(|b| b.len() > KEY_ID + NONCE)
            .ok_or(SecretError::Damaged)?;
        let (id, rest) = bytes.split_at(KEY_ID);
        let (nonce, ciphertext) = rest.split_at(NONCE);
        let attempt = || {
            let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            keys.iter().find(|k| k.id == id).map(|key| {
                key.cipher
                    .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context })
                    .map_err(|_| SecretError::Damaged)
                    .and_then(|plain| String::from_utf8(plain).map_err(|_| SecretError::Damaged))
                    .map(Secret::new)
            })
        };
        if let Some(result) = attempt() {
            return result;
        }
        self.reload()?;
        attempt().unwrap_or_else(|| {
            Err(SecretError::UnknownKey {
                found: id.iter().map(|b| format!("{b:02x}")).collect(),
                configured: self.ids().join(", "),
            })
        })
    }
}

/// The id (hex) of the key a secret was sealed under, when it reads as a sealed secret at all.
pub fn sealed_key_id(sealed: &Sealed) -> Option<String> {
    let bytes = sealed.0.strip_prefix(VERSION).and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())?;
    bytes.get(..KEY_ID).map(|id| id.iter().map(|b| format!("{b:02x}")).collect())
}

fn seal_with(key: &Key, secret: &Secret, context: &[u8]) -> Sealed {
    let nonce: [u8; NONCE] = rand::random();
    // Encryption with a valid key and nonce cannot fail; an empty seal would fail to open loudly.
    let ciphertext = key
        .cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret.expose().as_bytes(), aad: context })
        .unwrap_or_default();
    let mut bytes = Vec::with_capacity(KEY_ID + NONCE + ciphertext.len());
    bytes.extend_from_slice(&key.id);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&ciphertext);
    Sealed(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub resealed: usize,
    pub new_key_id: String,
    /// Where the new key now is (the key file), or that the operator must set it.
    pub key_location: String,
}

/// Re-seals every stored secret under a new key. With a key file, the new key is written to
/// `<file>.new` first (and synced), the secrets are re-sealed in one database transaction that is
/// made durable, and only then is the file replaced and its directory synced: a crash or a power
/// cut at any point leaves every secret openable, and running it again finishes.
/// With `SALDO_SECRET_KEY`, the new key comes from `SALDO_NEW_SECRET_KEY` (`new_secret_key`).
pub async fn rotate(
    ctx: &crate::ops::App,
    keyring: &Keyring,
    new_secret_key: Option<&Secret>,
) -> Result<Rotation, crate::ops::OpsError> {
    let fail = |err: SecretError| crate::ops::OpsError::Invalid(err.to_string());
    let (new_key, file) = match (&keyring.source, new_secret_key) {
        (KeySource::Env, Some(new)) => (parse_key(new.expose()).ok_or(SecretError::BadKey).map_err(fail)?, None),
        (KeySource::Env, None) => {
            return Err(fail(SecretError::Rotation(
                "the key comes from SALDO_SECRET_KEY: give the new one in SALDO_NEW_SECRET_KEY (`saldo secrets new-key` prints one)".into(),
            )))
        }
        (KeySource::File(path), _) => {
            let pending = pending_key_file(path);
            let key = match read_key_file(&pending).map_err(fail)? {
                Some(key) => key,
                None => {
                    create_key_file(&pending, &new_key_hex()).map_err(fail)?;
                    read_key_file(&pending).map_err(fail)?.ok_or_else(|| fail(SecretError::BadKeyFile { path: pending.clone() }))?
                }
            };
            keyring.reload().map_err(fail)?;
            (key, Some((path.clone(), pending)))
        }
    };
    let new = Key::new(&new_key);
    let stored = ctx.db.sealed_secrets().await?;
    let mut changes = Vec::with_capacity(stored.len());
    for (connection, sealed) in stored {
        let context = connection.0.as_bytes().to_vec();
        let secret = keyring.open(&sealed, &context).map_err(fail)?;
        changes.push((connection, sealed, seal_with(&new, &secret, &context)));
    }
    ctx.db.reseal_secrets(&changes).await?;
    let key_location = match file {
        Some((path, pending)) => {
            std::fs::rename(&pending, &path).map_err(|err| {
                fail(SecretError::KeyFile {
                    path: path.clone(),
                    message: format!("replacing it with {}: {err}", pending.display()),
                })
            })?;
            // A rename is durable once its directory is.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|err| {
                    fail(SecretError::KeyFile { path: path.clone(), message: format!("syncing its directory: {err}") })
                })?;
            }
            format!("the key file {}", path.display())
        }
        None => "SALDO_NEW_SECRET_KEY: set SALDO_SECRET_KEY to it and restart saldo".into(),
    };
    Ok(Rotation { resealed: changes.len(), new_key_id: new.id_hex(), key_location })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_connection() {
        let keyring = Keyring::from_key(&[7; 32]);
        let secret = Secret::new("https://user:pass@bridge.example/simplefin");
        let sealed = keyring.seal(&secret, b"connection-1");
        assert!(!sealed.0.contains("pass") && sealed.0.starts_with("v1."), "{}", sealed.0);
        assert_ne!(keyring.seal(&secret, b"connection-1"), sealed, "a fresh nonce every time");
        assert_eq!(keyring.open(&sealed, b"connection-1").unwrap(), secret);
        assert!(matches!(keyring.open(&sealed, b"connection-2"), Err(SecretError::Damaged)));
        let other = Keyring::from_key(&[8; 32]);
        let err = other.open(&sealed, b"connection-1").unwrap_err();
        assert!(matches!(err, SecretError::UnknownKey { .. }), "{err}");
        let mut tampered = sealed.0.clone();
        tampered.pop();
        tampered.push(if sealed.0.ends_with('A') { 'B' } else { 'A' });
        assert!(keyring.open(&Sealed(tampered), b"connection-1").is_err());
        assert!(matches!(keyring.open(&Sealed("plain".into()), b"connection-1"), Err(SecretError::Damaged)));
    }

    #[test]
    fn keys_parse_from_hex_or_base64_only_at_32_bytes() {
        assert_eq!(parse_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(parse_key(&STANDARD.encode([3u8; 32])), Some([3; 32]));
        assert_eq!(parse_key(&"ab".repeat(31)), None);
        assert_eq!(parse_key("not a key"), None);
        assert_eq!(parse_key(&new_key_hex()).map(|k| k.len()), Some(32));
    }

    #[cfg(unix)]
    #[test]
    fn a_missing_key_file_is_made_only_for_a_database_without_sealed_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = Keyring::load(None, &path, &[]).unwrap();
        let sealed = first.seal(&Secret::new("https://user:pass@bridge.example"), b"c1");
        let id = sealed_key_id(&sealed).unwrap();
        std::fs::remove_file(&path).unwrap();
        let err = Keyring::load(None, &path, std::slice::from_ref(&sealed)).err().unwrap().to_string();
        assert!(err.contains(&id) && err.contains(path.to_str().unwrap()), "{err}");
        assert!(!path.exists(), "no key was made");
        Keyring::load(None, &path, &[]).unwrap();
        assert!(path.exists(), "a database without secrets gets its key");
    }

    #[test]
    fn the_key_file_is_created_once_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("secret.key");
        create_key_file(&path, &new_key_hex()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(create_key_file(&path, &new_key_hex()).is_err(), "never replaces a key");
        assert!(read_key_file(&path).unwrap().is_some());
        assert_eq!(pending_key_file(&path), dir.path().join("keys").join("secret.key.new"));
    }
}
