//! Reading the sizes and CPU counts users type: `--memory 64m`, `--cpus 0.5`.
//!
//! Docker's command line takes memory sizes as a number with an optional
//! unit, and the units are powers of 1024 (what the kernel counts in), not
//! of 1000:
//!
//! | input       | bytes              |
//! |-------------|--------------------|
//! | `1048576`   | 1 048 576          |
//! | `512k`      | 512 × 1024         |
//! | `64m`       | 64 × 1024²         |
//! | `1g`, `1GB` | 1024³              |
//! | `1.5g`      | 1.5 × 1024³        |
//!
//! The unit is one of `b`, `k`, `m`, `g`, `t`, in either case, and `k`, `m`,
//! `g`, `t` may be followed by `b` (`64mb`). The kernel keeps memory limits in
//! whole pages, so a limit that is not a multiple of the page size is rounded
//! down when it is written; the parser does not round.
//!
//! `--cpus` is a decimal number of CPUs: `0.5` is half of one CPU's time,
//! `2` is two CPUs' worth of time, spread over any CPUs (pinning to CPUs is
//! `--cpuset-cpus`, a different knob).

/// Why a size or CPU count could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Nothing was given.
    #[error("empty size")]
    Empty,
    /// The text is not a number with an optional unit.
    #[error("invalid size {0:?}: expected a number with an optional unit b, k, m or g (like 64m)")]
    Invalid(String),
    /// The unit is not one we know.
    #[error("invalid size {input:?}: unknown unit {unit:?} (use b, k, m or g)")]
    UnknownUnit {
        /// What the user typed.
        input: String,
        /// The unit part of it.
        unit: String,
    },
    /// The size does not fit in 64 bits.
    #[error("size {0:?} is too large")]
    TooLarge(String),
    /// `--cpus` is not a positive decimal number.
    #[error("invalid number of cpus {0:?}: expected a positive decimal number (like 0.5 or 2)")]
    InvalidCpus(String),
    /// `--memory-swap` is neither a size nor `-1`.
    #[error("invalid swap limit {0:?}: expected a size (like 128m) or -1 for unlimited")]
    InvalidSwap(String),
}

// ANCHOR: parse_size
/// Parses a docker-style memory size: `"64m"` is 64 MiB, `"1048576"` is bytes.
///
/// ```
/// use ch03_cgroups::parse_size;
/// assert_eq!(parse_size("64m"), Ok(64 * 1024 * 1024));
/// assert_eq!(parse_size("1G"), Ok(1 << 30));
/// assert_eq!(parse_size("512k"), Ok(512 * 1024));
/// assert_eq!(parse_size("1048576"), Ok(1_048_576));
/// assert!(parse_size("64x").is_err());
/// ```
pub fn parse_size(input: &str) -> Result<u64, SizeError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(SizeError::Empty);
    }
    // Split "1.5g" into the number "1.5" and the unit "g".
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim_start();
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        "t" | "tb" => 1 << 40,
        _ if number.is_empty() => return Err(SizeError::Invalid(input.to_string())),
        _ => {
            return Err(SizeError::UnknownUnit {
                input: input.to_string(),
                unit: unit.to_string(),
            });
        }
    };
    let invalid = || SizeError::Invalid(input.to_string());
    let too_large = || SizeError::TooLarge(input.to_string());
    match number.split_once('.') {
        // A whole number: exact integer arithmetic.
        None => {
            if number.is_empty() {
                return Err(invalid());
            }
            let n: u64 = number.parse().map_err(|_| too_large())?;
            n.checked_mul(multiplier).ok_or_else(too_large)
        }
        // A fraction like "1.5g": whole part exactly, fraction in floating point.
        Some((whole, fraction)) => {
            if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
                return Err(invalid());
            }
            let whole: u64 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| too_large())?
            };
            let fraction: f64 = format!("0.{fraction}").parse().map_err(|_| invalid())?;
            let extra = (fraction * multiplier as f64) as u64;
            whole
                .checked_mul(multiplier)
                .and_then(|n| n.checked_add(extra))
                .ok_or_else(too_large)
        }
    }
}
// ANCHOR_END: parse_size

/// Parses `--memory-swap`: a size, or `-1` for unlimited swap.
///
/// Like docker, the value is the limit on memory *plus* swap, not on swap
/// alone. `-1` is returned as `-1`.
///
/// ```
/// use ch03_cgroups::parse_memory_swap;
/// assert_eq!(parse_memory_swap("-1"), Ok(-1));
/// assert_eq!(parse_memory_swap("128m"), Ok(128 << 20));
/// ```
pub fn parse_memory_swap(input: &str) -> Result<i64, SizeError> {
    if input.trim() == "-1" {
        return Ok(-1);
    }
    let bytes = parse_size(input).map_err(|e| match e {
        SizeError::TooLarge(s) => SizeError::TooLarge(s),
        _ => SizeError::InvalidSwap(input.to_string()),
    })?;
    i64::try_from(bytes).map_err(|_| SizeError::TooLarge(input.to_string()))
}

// ANCHOR: parse_cpus
/// Parses `--cpus`: how many CPUs' worth of time the container may use.
///
/// ```
/// use ch03_cgroups::parse_cpus;
/// assert_eq!(parse_cpus("0.5"), Ok(0.5));
/// assert_eq!(parse_cpus("2"), Ok(2.0));
/// assert!(parse_cpus("0").is_err());
/// assert!(parse_cpus("-1").is_err());
/// assert!(parse_cpus("half").is_err());
/// ```
pub fn parse_cpus(input: &str) -> Result<f64, SizeError> {
    let text = input.trim();
    let invalid = || SizeError::InvalidCpus(input.to_string());
    // Only plain decimals: Rust's parser would also take "inf", "NaN" and "1e3".
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(invalid());
    }
    let cpus: f64 = text.parse().map_err(|_| invalid())?;
    if cpus.is_finite() && cpus > 0.0 {
        Ok(cpus)
    } else {
        Err(invalid())
    }
}
// ANCHOR_END: parse_cpus
