//! Human-readable figures for the terminal.

const GIB: f64 = (1u64 << 30) as f64;

/// Bytes as GB with one decimal (binary gigabytes, as the window shows them).
pub fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / GIB)
}

#[cfg(test)]
mod tests {
    #[test]
    fn gb_uses_one_decimal() {
        assert_eq!(super::gb(24 << 30), "24.0 GB");
        assert_eq!(super::gb(1536 << 20), "1.5 GB");
    }
}
