//! Lower-case hex, the one spelling of digests and keys the host prints.

/// `bytes` as lower-case hex, two characters a byte.
pub(crate) fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    text
}

/// The bytes `text` spells in hex (either case); `None` for anything else.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// The sha256 of `bytes`, as lower-case hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    encode(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_lower_case_digits_a_byte() {
        assert_eq!(super::encode(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(super::encode(&[]), "");
    }

    #[test]
    fn decoding_undoes_encoding_and_refuses_anything_else() {
        assert_eq!(
            super::decode("000fA0ff"),
            Some(vec![0x00, 0x0f, 0xa0, 0xff])
        );
        assert_eq!(super::decode(""), Some(vec![]));
        for bad in ["0", "zz", "+f", "0g"] {
            assert_eq!(super::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_sha256_is_sixty_four_digits() {
        assert_eq!(
            super::sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
