//! Basic and `Token` authentication, compared in constant time.

use base64::Engine;
use serde::Deserialize;

/// One Basic-auth account.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicUser {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

/// The credentials the service accepts; empty means no authentication.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    users: Vec<BasicUser>,
    tokens: Vec<String>,
}

/// Why a request is not let in.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// A header with unknown credentials or in an unknown form.
    Wrong,
}

impl Credentials {
    /// Accepts these accounts and tokens.
    pub fn new(users: Vec<BasicUser>, tokens: Vec<String>) -> Credentials {
        Credentials { users, tokens }
    }

    /// Whether any credentials are configured.
    pub fn is_enabled(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty()
    }

    /// Checks an `Authorization` header value and returns who it names: the user, or
    /// `token #N` (1-based, never the secret); `None` when no credentials are configured.
    /// Every configured secret is compared, in constant time, so the time taken says
    /// nothing about which one nearly matched.
    pub fn check(&self, header: Option<&[u8]>) -> Result<Option<String>, Refusal> {
        if !self.is_enabled() {
            return Ok(None);
        }
        let header = header.ok_or(Refusal::Missing)?;
        let (scheme, rest) = match header.iter().position(|&b| b == b' ') {
            Some(i) => (&header[..i], trim(&header[i + 1..])),
            None => (header, &[][..]),
        };
        let mut ok = false;
        let mut who = None;
        if scheme.eq_ignore_ascii_case(b"basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| Refusal::Wrong)?;
            let colon = decoded.iter().position(|&b| b == b':');
            let (user, password) = match colon {
                Some(i) => (&decoded[..i], &decoded[i + 1..]),
                None => (&decoded[..], &[][..]),
            };
            for account in &self.users {
                // Both compared always: `&` not `&&`.
                let matched = constant_time_eq(user, account.user.as_bytes())
                    & constant_time_eq(password, account.password.as_bytes());
                if matched {
                    who = Some(account.user.clone());
                }
                ok |= matched;
            }
        } else if scheme.eq_ignore_ascii_case(b"token") || scheme.eq_ignore_ascii_case(b"bearer") {
            for (i, token) in self.tokens.iter().enumerate() {
                let matched = constant_time_eq(rest, token.as_bytes());
                if matched {
                    who = Some(format!("token #{}", i + 1));
                }
                ok |= matched;
            }
        }
        if ok { Ok(who) } else { Err(Refusal::Wrong) }
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new(
            vec![BasicUser {
                user: "cashier".into(),
                password: "s3cret".into(),
            }],
            vec!["4c7e0c4c-93a4-4f5e-9d8e-0b1f2a3b4c5d".into()],
        )
    }

    fn basic(user_pass: &str) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(user_pass);
        format!("Basic {b64}").into_bytes()
    }

    #[test]
    fn basic_and_token() {
        let c = creds();
        assert_eq!(
            c.check(Some(&basic("cashier:s3cret"))),
            Ok(Some("cashier".into()))
        );
        assert_eq!(c.check(Some(&basic("cashier:s3cre"))), Err(Refusal::Wrong));
        assert_eq!(c.check(Some(&basic("admin:admin"))), Err(Refusal::Wrong));
        assert_eq!(c.check(Some(b"Basic")), Err(Refusal::Wrong));
        assert_eq!(c.check(Some(b"Basic !!!")), Err(Refusal::Wrong));
        assert_eq!(c.check(None), Err(Refusal::Missing));
        let token = b"Token 4c7e0c4c-93a4-4f5e-9d8e-0b1f2a3b4c5d";
        assert_eq!(c.check(Some(token)), Ok(Some("token #1".into())));
        assert_eq!(c.check(Some(b"Token 4c7e0c4c")), Err(Refusal::Wrong));
        assert_eq!(Credentials::default().check(Some(b"Basic")), Ok(None));
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
