//! Human-readable figures for the terminal.

const GIB: f64 = (1u64 << 30) as f64;

/// Bytes as GB with one decimal (binary gigabytes, as the window shows them).
pub fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / GIB)
}

/// Bytes as MB below a gigabyte, else GB: for sizes that range from a small model to a large one.
pub fn size(bytes: u64) -> String {
    if bytes < 1 << 30 {
        format!("{:.0} MB", bytes as f64 / (1u64 << 20) as f64)
    } else {
        gb(bytes)
    }
}

/// A parameter count as people say it: "135M", "8.0B".
pub fn params(n: u64) -> String {
    if n < 1_000_000_000 {
        format!("{:.0}M", n as f64 / 1e6)
    } else {
        format!("{:.1}B", n as f64 / 1e9)
    }
}

/// A predicted speed as one figure, as the window writes it: "≈ 45 tok/s", "≈ 2.5 tok/s".
pub fn tok_per_sec(expected: f32) -> String {
    format!("≈ {}", fit::tok_per_sec(expected))
}

/// A count with thousands separated: "20,480".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn gb_uses_one_decimal() {
        assert_eq!(super::gb(24 << 30), "24.0 GB");
        assert_eq!(super::gb(1536 << 20), "1.5 GB");
    }

    #[test]
    fn speeds_are_one_figure_as_the_window_writes_them() {
        assert_eq!(super::tok_per_sec(45.4), "≈ 45 tok/s");
        assert_eq!(super::tok_per_sec(2.46), "≈ 2.5 tok/s");
    }

    #[test]
    fn counts_have_thousands_separated() {
        assert_eq!([super::count(0), super::count(999), super::count(1000), super::count(20_480), super::count(1_234_567)], ["0", "999", "1,000", "20,480", "1,234,567"]);
    }
}
