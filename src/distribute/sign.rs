//! Signing pointers with Ed25519 in the minisign format, so that an operator can also
//! sign and check them with the standard `minisign` tool (`minisign -Vm LATEST -p
//! cisgate.pub`). Secret keys are never printed or put in messages: errors name the file.

use std::io::Cursor;
use std::path::Path;

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};

use super::error::DistributeError;

/// The environment variable that holds the password of an encrypted secret key.
pub const PASSWORD_VAR: &str = "CISGATE_KEY_PASSWORD";

fn key_error(path: &Path, reason: impl std::fmt::Display) -> DistributeError {
    DistributeError::Key {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Writes a new key pair: the secret key (mode 0600, unencrypted unless `password` is
/// given) and the public key. Refuses to overwrite either file.
pub fn keygen(
    secret: &Path,
    public: &Path,
    password: Option<String>,
) -> Result<String, DistributeError> {
    for path in [secret, public] {
        if path.exists() {
            return Err(key_error(path, "already exists; not overwritten"));
        }
    }
    let pair = match password {
        Some(p) => KeyPair::generate_encrypted_keypair(Some(p)),
        None => KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|e| key_error(secret, e))?;
    let public_text = pair
        .pk
        .to_box()
        .map_err(|e| key_error(public, e))?
        .to_string();
    let secret_text = pair
        .sk
        .to_box(Some("cisgate publisher secret key"))
        .map_err(|e| key_error(secret, e))?
        .to_string();
    write_private(secret, secret_text.as_bytes())?;
    std::fs::write(public, &public_text).map_err(|source| DistributeError::Io {
        path: public.to_path_buf(),
        source,
    })?;
    Ok(public_text)
}

/// Writes a secret key file, never over an existing one. On Unix only its owner may read
/// it (mode 0600). On Windows it takes the access list of its folder (what `icacls` shows):
/// keep it in a folder only the builder's account can open (its profile, say
/// `%LOCALAPPDATA%\cisgate`), or encrypt it (`keygen --encrypt`); docs/DISTRIBUTION.md.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DistributeError> {
    use std::io::Write;
    let io = |source| DistributeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// A loaded secret key (and its public half, to check what it signs).
pub(crate) struct Signer {
    secret: SecretKey,
    public: PublicKey,
}

impl Signer {
    /// Loads a secret key file; an encrypted one takes its password from
    /// `CISGATE_KEY_PASSWORD`.
    pub(crate) fn load(path: &Path) -> Result<Signer, DistributeError> {
        let text = std::fs::read_to_string(path).map_err(|source| DistributeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let boxed = SecretKeyBox::from_string(&text)
            .map_err(|_| key_error(path, "not a minisign secret key"))?;
        let secret = match std::env::var(PASSWORD_VAR) {
            Ok(password) => boxed.into_secret_key(Some(password)),
            Err(_) => boxed.into_unencrypted_secret_key(),
        }
        .map_err(|_| {
            key_error(
                path,
                format!("cannot read the secret key (encrypted keys need {PASSWORD_VAR})"),
            )
        })?;
        let public = PublicKey::from_secret_key(&secret)
            .map_err(|_| key_error(path, "damaged secret key"))?;
        Ok(Signer { secret, public })
    }

    /// A minisign signature of `data` whose signed ("trusted") comment is `comment`.
    pub(crate) fn sign(&self, data: &[u8], comment: &str) -> Result<String, DistributeError> {
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            Cursor::new(data),
            Some(comment),
            Some("signature from cisgate publish"),
        )
        .map_err(|e| DistributeError::Signature(format!("signing failed: {e}")))?;
        Ok(signature.into_string())
    }

    /// The public key, to check pointers already in the store.
    pub(crate) fn verifier(&self) -> Verifier {
        Verifier {
            public: self.public.clone(),
        }
    }
}

/// A loaded public key.
#[derive(Clone)]
pub(crate) struct Verifier {
    public: PublicKey,
}

impl Verifier {
    /// Loads a minisign public key file (or the base64 key itself).
    pub(crate) fn load(path: &Path) -> Result<Verifier, DistributeError> {
        let text = std::fs::read_to_string(path).map_err(|source| DistributeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let public = PublicKeyBox::from_string(&text)
            .and_then(PublicKey::from_box)
            .or_else(|_| PublicKey::from_base64(text.trim()))
            .map_err(|_| key_error(path, "not a minisign public key"))?;
        Ok(Verifier { public })
    }

    /// Checks a signature of `data`; returns the signed comment.
    pub(crate) fn verify(&self, data: &[u8], signature: &str) -> Result<String, DistributeError> {
        let bad = |why: String| DistributeError::Signature(why);
        let boxed = SignatureBox::from_string(signature)
            .map_err(|e| bad(format!("the signature is not minisign's: {e}")))?;
        let comment = boxed
            .trusted_comment()
            .map_err(|e| bad(format!("the signature has no signed comment: {e}")))?;
        minisign::verify(&self.public, &boxed, Cursor::new(data), true, false, false)
            .map_err(|e| bad(format!("the signature does not match the public key: {e}")))?;
        Ok(comment)
    }
}
