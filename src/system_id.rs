//! System ids in protoactor-go's spelling.
//!
//! A Go `ActorSystem` names itself with `shortuuid.New()`: a random UUIDv4
//! written in base 57 (alphabet below), most significant digit first, padded
//! with the alphabet's first character to 22 characters. Go treats ids as
//! opaque, but using the same spelling keeps logs, block lists and the
//! `from_member_id`/watermark keys (`<target>.<owner>`) free of surprises:
//! the alphabet has no `.`, `/` or `@`.
//!
//! A node takes a fresh id on every start. Go's block lists are permanent
//! and keyed by id, so a restarted process that reused its id would never be
//! admitted again.

use alloc::string::String;

/// shortuuid's default alphabet (no 0, 1, I, O, l).
pub const ALPHABET: &[u8; 57] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// The length of every system id.
pub const SYSTEM_ID_LEN: usize = 22;

/// Spells a 128-bit UUID the way shortuuid does.
pub fn encode_uuid(uuid: u128) -> String {
    let mut digits = [ALPHABET[0]; SYSTEM_ID_LEN];
    let mut n = uuid;
    for slot in digits.iter_mut().rev() {
        if n == 0 {
            break;
        }
        // n % 57 < 57, so the index is in range.
        *slot = ALPHABET[(n % 57) as usize];
        n /= 57;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

/// Turns 16 random bytes into a UUIDv4 (version and variant bits set).
pub fn uuid_v4_from_bytes(mut bytes: [u8; 16]) -> u128 {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    u128::from_be_bytes(bytes)
}

/// A fresh random system id, as Go's `shortuuid.New()` makes them.
///
/// # Errors
/// When the operating system cannot provide randomness.
#[cfg(feature = "std")]
pub fn new_system_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(encode_uuid(uuid_v4_from_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes() {
        assert_eq!(encode_uuid(0), "2222222222222222222222");
        assert_eq!(encode_uuid(1), "2222222222222222222223");
        // 57^22 > 2^128, so the largest UUID still fits in 22 digits.
        assert_eq!(encode_uuid(u128::MAX).len(), SYSTEM_ID_LEN);
    }

    #[test]
    fn v4_bits() {
        let u = uuid_v4_from_bytes([0xff; 16]);
        assert_eq!((u >> 76) & 0xf, 4, "version nibble");
        assert_eq!((u >> 62) & 0x3, 0b10, "variant bits");
    }

    #[cfg(feature = "std")]
    #[test]
    fn fresh_ids_differ_and_use_the_alphabet() {
        let a = new_system_id().unwrap();
        let b = new_system_id().unwrap();
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)) && a.len() == SYSTEM_ID_LEN);
    }
}
