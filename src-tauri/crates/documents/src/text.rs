//! Bytes that should be text into a string: UTF-8 (with or without a byte-order mark), UTF-16 with
//! its mark, else the Windows code page old text files were saved in; binary data refused.

use crate::DocumentError;

/// How much of the start is looked at to tell text from binary data.
const SNIFF: usize = 64 * 1024;

/// `name` is the file's, for the error.
pub fn decode(bytes: &[u8], name: &str) -> Result<String, DocumentError> {
    let binary = || DocumentError::Binary { name: name.rsplit(['/', '\\']).next().unwrap_or(name).to_owned() };
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(bytes) {
        // `decode` drops the mark; UTF-16 that does not decode is not text.
        let (text, _, had_errors) = encoding.decode(bytes);
        if had_errors && encoding != encoding_rs::UTF_8 {
            return Err(binary());
        }
        return Ok(text.into_owned());
    }
    if looks_binary(&bytes[..bytes.len().min(SNIFF)]) {
        return Err(binary());
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => {
            // A few bad bytes in a UTF-8 file (a log cut mid-character, a stray byte): the rest is
            // kept as it is, the bad bytes marked. Mostly not UTF-8, and no mark: a file from an
            // older editor, most likely Windows-1252 (a superset of Latin-1 that decodes every byte).
            let lossy = String::from_utf8_lossy(bytes);
            let bad = lossy.chars().filter(|&c| c == char::REPLACEMENT_CHARACTER).count();
            let non_ascii = bytes.iter().filter(|b| !b.is_ascii()).count();
            if bad * 10 < non_ascii {
                Ok(lossy.into_owned())
            } else {
                Ok(encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned())
            }
        }
    }
}

/// A NUL byte, or more than one byte in ten a control character that text never holds.
fn looks_binary(head: &[u8]) -> bool {
    if head.contains(&0) {
        return true;
    }
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b)).count();
    control * 10 > head.len()
}
