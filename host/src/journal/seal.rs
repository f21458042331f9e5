//! Sealing credentials with the operator's key: XChaCha20-Poly1305 with a
//! random 24-byte nonce per record, stored as nonce followed by ciphertext.
//! Each record is bound to a context (the journal entry it belongs to) as
//! associated data, so a record moved onto another entry does not open.
//! A random nonce of that size never repeats in practice, so no counter has
//! to survive restarts or be shared between hosts.
//!
//! The same key, through a derived subkey, makes the keyed digests that
//! bind an idempotency key to its request (HMAC-SHA256): a digest of a
//! request that carries a password reveals nothing of it without the key.
//! A journal keeps its digest key for good: after a rotation
//! (`provisioning journal rekey`) the key it had is kept sealed under the
//! new sealing key, so that digests made before still match
//! ([`Sealer::with_digest_key`]).
//!
//! A third derived subkey makes the key's check value
//! ([`Sealer::check_value`]): what the journal stores to tell the right key
//! from another one at start-up, and nothing from which the key follows.

use anyhow::{Context, bail};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// Seals and opens journal credentials with one key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    /// The key of request digests, derived from the sealing key so that
    /// the operator keeps one secret, and never used to seal; after a
    /// rotation, the journal's first one (see [`Sealer::with_digest_key`]).
    digest_key: [u8; 32],
    /// The key's check value (hex).
    check: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never reaches a Debug dump.
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer from a 32-byte key written as 64 hex characters (whitespace
    /// around it ignored). Errors never quote the input.
    pub fn from_hex(text: &str) -> anyhow::Result<Sealer> {
        let text = text.trim();
        if text.len() != KEY_BYTES * 2 {
            bail!(
                "a journal key is {} hex characters; this one has {}",
                KEY_BYTES * 2,
                text.len()
            );
        }
        // Checked byte by byte: `u8::from_str_radix` alone would take a
        // leading `+` ("+f" is 15), and a multi-byte character would split.
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("a journal key holds only hex characters (0-9, a-f)");
        }
        let mut key = [0u8; KEY_BYTES];
        for (byte, pair) in key.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            *byte = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
        }
        let digest_key = Sha256::new()
            .chain_update(b"provisioning journal request digest v1\0")
            .chain_update(key)
            .finalize()
            .into();
        let check_key: [u8; 32] = Sha256::new()
            .chain_update(b"provisioning journal key check v1\0")
            .chain_update(key)
            .finalize()
            .into();
        let check = hmac_hex(&check_key, b"provisioning journal key check v1");
        Ok(Sealer {
            cipher: XChaCha20Poly1305::new(&key.into()),
            digest_key,
            check,
        })
    }

    /// The key's check value, 64 hex characters: an HMAC of a fixed label
    /// under a subkey derived from the key. Equal for equal keys, different
    /// for different ones, and telling nothing of the key.
    pub fn check_value(&self) -> &str {
        &self.check
    }

    /// The key request digests are made with (secret).
    pub(crate) fn digest_key(&self) -> [u8; 32] {
        self.digest_key
    }

    /// This sealer making request digests with `digest_key` instead of the
    /// one derived from its own key: a journal's digest key outlives a
    /// rotation of its sealing key.
    pub(crate) fn with_digest_key(mut self, digest_key: [u8; 32]) -> Sealer {
        self.digest_key = digest_key;
        self
    }

    /// A fresh random key as 64 hex characters.
    pub fn generate_key_hex() -> String {
        crate::hex::encode(&XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// `plaintext` sealed for `context`: nonce, then ciphertext with its
    /// tag.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any in-memory buffer");
        let mut sealed = nonce.to_vec();
        sealed.extend(ciphertext);
        sealed
    }

    /// Opens what [`Sealer::seal`] produced with the same key and context.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            bail!("sealed record too short: damaged");
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .ok()
            .context("cannot open a sealed record: wrong journal key, damaged record or record of another entry")
    }
}

impl Sealer {
    /// The keyed digest (HMAC-SHA256, hex) of `message`: equal for equal
    /// messages under one key, and telling nothing of the message without
    /// the key.
    pub fn digest(&self, message: &[u8]) -> String {
        hmac_hex(&self.digest_key, message)
    }
}

/// HMAC-SHA256 of `message` under `key`, hex.
fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    crate::hex::encode(&mac.finalize().into_bytes())
}

/// The value of one ASCII hex digit (checked by the caller).
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_round_trips_and_never_repeats() {
        let sealer = Sealer::from_hex(&Sealer::generate_key_hex()).unwrap();
        let one = sealer.seal(b"generated password", b"entry:1");
        let two = sealer.seal(b"generated password", b"entry:1");
        assert_ne!(one, two, "a fresh nonce each time");
        assert!(!one.windows(9).any(|w| w == b"generated"));
        assert_eq!(
            sealer.open(&one, b"entry:1").unwrap(),
            b"generated password"
        );
        assert_eq!(
            sealer.open(&two, b"entry:1").unwrap(),
            b"generated password"
        );
    }

    #[test]
    fn a_wrong_key_or_a_flipped_byte_does_not_open() {
        let sealer = Sealer::from_hex(&Sealer::generate_key_hex()).unwrap();
        let other = Sealer::from_hex(&Sealer::generate_key_hex()).unwrap();
        let mut sealed = sealer.seal(b"license key", b"entry:1");
        assert!(other.open(&sealed, b"entry:1").is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        let error = sealer.open(&sealed, b"entry:1").unwrap_err().to_string();
        assert!(
            error.contains("wrong journal key, damaged record"),
            "{error}"
        );
        assert!(sealer.open(&sealed[..10], b"entry:1").is_err());
        let moved = sealer.seal(b"license key", b"entry:1");
        assert!(
            sealer.open(&moved, b"entry:2").is_err(),
            "a record does not open for another entry"
        );
    }

    #[test]
    fn bad_keys_are_refused_without_being_quoted() {
        let signed = "+f".repeat(32);
        let wide = format!("{}é", "ab".repeat(31));
        for bad in [
            "",
            "abc",
            &"zz".repeat(32),
            &"ab".repeat(33),
            &signed,
            &wide,
        ] {
            let error = format!("{:#}", Sealer::from_hex(bad).unwrap_err());
            if !bad.is_empty() {
                assert!(!error.contains(bad), "{error}");
            }
        }
        assert!(Sealer::from_hex(&format!("  {}\n", "0f".repeat(32))).is_ok());
        assert!(Sealer::from_hex(&"0F".repeat(32)).is_ok(), "upper case too");
    }

    #[test]
    fn upper_and_lower_case_spell_the_same_key() {
        let lower = Sealer::from_hex(&"a1".repeat(32)).unwrap();
        let upper = Sealer::from_hex(&"A1".repeat(32)).unwrap();
        assert_eq!(
            upper
                .open(&lower.seal(b"x", b"entry:1"), b"entry:1")
                .unwrap(),
            b"x"
        );
    }

    #[test]
    fn digests_are_keyed_and_tell_requests_apart() {
        let sealer = Sealer::from_hex(&"a1".repeat(32)).unwrap();
        let other = Sealer::from_hex(&"b2".repeat(32)).unwrap();
        let digest = sealer.digest(b"create-account svc-1 Pa55word");
        assert_eq!(digest.len(), 64);
        assert_eq!(digest, sealer.digest(b"create-account svc-1 Pa55word"));
        assert_ne!(digest, sealer.digest(b"create-account svc-1 Pa55word!"));
        assert_ne!(digest, other.digest(b"create-account svc-1 Pa55word"));
        let plain: String = crate::hex::encode(&Sha256::digest(b"create-account svc-1 Pa55word"));
        assert_ne!(digest, plain, "not a plain hash anyone could recompute");
    }

    #[test]
    fn check_values_tell_keys_apart_and_are_neither_the_key_nor_a_digest() {
        let key = "a1".repeat(32);
        let sealer = Sealer::from_hex(&key).unwrap();
        let check = sealer.check_value().to_string();
        assert_eq!(check.len(), 64);
        assert_eq!(check, Sealer::from_hex(&key).unwrap().check_value());
        assert_ne!(
            check,
            Sealer::from_hex(&"b2".repeat(32)).unwrap().check_value()
        );
        assert_ne!(check.to_lowercase(), key);
        assert_ne!(check, sealer.digest(b"provisioning journal key check v1"));
        assert_ne!(check, crate::hex::encode(&sealer.digest_key()));
    }

    #[test]
    fn a_carried_digest_key_makes_the_old_digests() {
        let old = Sealer::from_hex(&"a1".repeat(32)).unwrap();
        let new = Sealer::from_hex(&"b2".repeat(32)).unwrap();
        let digest = old.digest(b"create-account svc-1");
        assert_ne!(new.digest(b"create-account svc-1"), digest);
        let carried = new.with_digest_key(old.digest_key());
        assert_eq!(carried.digest(b"create-account svc-1"), digest);
        assert_eq!(
            carried.open(&carried.seal(b"x", b"c"), b"c").unwrap(),
            b"x",
            "sealing stays with the new key"
        );
        assert!(old.open(&carried.seal(b"x", b"c"), b"c").is_err());
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let key = "ab".repeat(32);
        let sealer = Sealer::from_hex(&key).unwrap();
        assert!(!format!("{sealer:?}").contains("ab"));
    }
}
