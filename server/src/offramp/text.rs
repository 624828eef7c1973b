//! The text of delivered records, shared rather than copied.
//!
//! A record's key, payload and headers are copied once, out of the Kafka
//! message or the view's page, into an [`Arena`]: a block of memory that many
//! records share. Cloning a [`Text`] then costs a reference count, so a page
//! rendered once reaches every subscriber of a fleet without a copy per
//! subscriber, and the Offramp makes one allocation per block of records
//! instead of several per record.

use bytes::{Bytes, BytesMut};

/// UTF-8 text in shared memory: never anything else, since every way of
/// making one checks or converts.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Text(Bytes);

impl Text {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text as `str`. Every `Text` is UTF-8, but without unsafe code
    /// that is checked again here, so the hot path keeps to bytes.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl From<String> for Text {
    /// Takes the string's memory over, without a copy.
    fn from(s: String) -> Self {
        Text(Bytes::from(s.into_bytes()))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Blocks taken at a time: a few hundred typical records each. A block is
/// freed once the last text in it is.
const BLOCK: usize = 64 * 1024;

/// Where rendered texts are copied to.
#[derive(Default)]
pub struct Arena {
    block: BytesMut,
}

impl Arena {
    /// `bytes` as text: copied as they are when they are UTF-8, else with
    /// each invalid sequence replaced by U+FFFD (as Kafka records written by
    /// others may hold anything).
    pub fn text(&mut self, bytes: &[u8]) -> Text {
        match std::str::from_utf8(bytes) {
            Ok(_) => {
                if self.block.capacity() - self.block.len() < bytes.len() {
                    // A new block; one larger than a block is the record's own.
                    self.block = BytesMut::with_capacity(bytes.len().max(BLOCK));
                }
                self.block.extend_from_slice(bytes);
                Text(self.block.split().freeze())
            }
            Err(_) => Text::from(String::from_utf8_lossy(bytes).into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_share_a_block_until_it_is_full() {
        let mut arena = Arena::default();
        let a = arena.text(b"first");
        let b = arena.text(b"second");
        assert_eq!((a.as_str(), b.as_str()), ("first", "second"));
        // Consecutive in one block.
        assert_eq!(a.as_bytes().as_ptr().wrapping_add(a.len()), b.as_bytes().as_ptr());
        let big = vec![b'x'; BLOCK + 1];
        let c = arena.text(&big);
        assert_eq!(c.len(), BLOCK + 1);
        let d = arena.text(b"after");
        assert_eq!(d.as_str(), "after");
        // Earlier texts are untouched by later blocks.
        assert_eq!((a.as_str(), b.as_str()), ("first", "second"));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_passed_on() {
        let mut arena = Arena::default();
        let t = arena.text(b"ok \xff end");
        assert_eq!(t.as_str(), "ok \u{fffd} end");
        assert!(std::str::from_utf8(t.as_bytes()).is_ok());
        assert_eq!(arena.text(b"").as_str(), "");
    }
}
