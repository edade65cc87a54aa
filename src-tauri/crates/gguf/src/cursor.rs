//! A bounds-checked little-endian reader over a byte slice. Running out of bytes is not a panic but
//! `Truncated { needed }`, which tells a streaming caller how much more to fetch.

use crate::error::{GgufError, Result};

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn pos(&self) -> u64 {
        self.pos as u64
    }

    pub fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let remaining = (self.buf.len() - self.pos) as u64;
        if n > remaining {
            return Err(GgufError::Truncated { needed: self.pos as u64 + n, have: self.buf.len() as u64 });
        }
        let n = n as usize; // fits: n <= remaining, which is a slice length
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A GGUF string: u64 length, then UTF-8 bytes. `limit` bounds the length before anything is read.
    pub fn string(&mut self, what: &'static str, limit: u64) -> Result<String> {
        let len = self.u64()?;
        if len > limit {
            return Err(GgufError::TooLarge { what, size: len, limit });
        }
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::InvalidUtf8 { what: what.to_string() })
    }

    /// Step over a string without keeping it (vocabulary entries).
    pub fn skip_string(&mut self, what: &'static str, limit: u64) -> Result<()> {
        let len = self.u64()?;
        if len > limit {
            return Err(GgufError::TooLarge { what, size: len, limit });
        }
        self.take(len).map(|_| ())
    }
}
