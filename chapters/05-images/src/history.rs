//! `history IMAGE`: how an image was made, one row per build step.
//!
//! The image config keeps a `history` list, oldest first: for each step
//! when it ran, the command that made it (`created_by`) and whether it
//! added a layer (`empty_layer: false`). Steps that added a layer take the
//! next layer of `rootfs.diff_ids`, in order; the others (ENV, CMD, ...)
//! have size 0. `docker history` shows the steps newest first:
//!
//! ```text
//! IMAGE          CREATED        CREATED BY                                      SIZE      COMMENT
//! 3f57d9401f8d   2 hours ago    /bin/sh -c #(nop)  CMD ["sh"]                   0B
//! <missing>      2 hours ago    /bin/sh -c #(nop) ADD file:7e9002edaafd4e457…   4.26MB
//! ```
//!
//! Only the newest row has an image id: the lower steps were built
//! elsewhere and are not images here (`<missing>`, as docker says).

use crate::image::ImageConfig;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// One row of `history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The short image id on the newest row, `<missing>` on the others.
    pub image: String,
    /// When, in seconds since the epoch (None when the config does not say).
    pub created: Option<i64>,
    pub created_by: String,
    /// Bytes the step's layer adds (0 for config-only steps).
    pub size: u64,
    pub comment: String,
}

// ANCHOR: rows
/// The rows of `history`, newest first. `image_id` is the config digest's
/// hex; `layer_sizes` the size of each layer, bottom first.
pub fn rows(config: &ImageConfig, image_id: &str, layer_sizes: &[u64]) -> Vec<HistoryRow> {
    let mut layers = layer_sizes.iter();
    let mut rows: Vec<HistoryRow> = config
        .history
        .iter()
        .map(|entry| HistoryRow {
            image: "<missing>".into(),
            created: entry.created.as_deref().and_then(parse_rfc3339),
            created_by: entry.created_by.clone().unwrap_or_default(),
            size: if entry.empty_layer {
                0
            } else {
                layers.next().copied().unwrap_or(0)
            },
            comment: entry.comment.clone().unwrap_or_default(),
        })
        .collect();
    if rows.is_empty() {
        // A config without history (some tools write none): one row per layer.
        let created = config.created.as_deref().and_then(parse_rfc3339);
        rows = layer_sizes
            .iter()
            .map(|size| HistoryRow {
                image: "<missing>".into(),
                created,
                created_by: String::new(),
                size: *size,
                comment: String::new(),
            })
            .collect();
    }
    rows.reverse();
    if let Some(newest) = rows.first_mut() {
        newest.image = image_id.chars().take(12).collect();
    }
    rows
}
// ANCHOR_END: rows

// ANCHOR: render
/// Renders rows as docker's table: columns padded as Go's tabwriter pads
/// them (3 spaces, 10 columns at least), CREATED BY cut to 45 characters
/// unless `truncate` is false.
pub fn render(rows: &[HistoryRow], now: i64, truncate: bool) -> String {
    let mut table = vec![[
        "IMAGE".to_string(),
        "CREATED".into(),
        "CREATED BY".into(),
        "SIZE".into(),
        "COMMENT".into(),
    ]];
    for row in rows {
        let created_by = row.created_by.replace(['\t', '\n'], " ");
        table.push([
            row.image.clone(),
            row.created
                .map_or("N/A".into(), |t| format!("{} ago", human_duration(now - t))),
            if truncate {
                ellipsis(&created_by, 45)
            } else {
                created_by
            },
            human_size(row.size),
            row.comment.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| {
            let widest = table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0);
            (widest + 3).max(10)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        for (cell, width) in row.iter().zip(&widths) {
            out += &format!("{cell:<width$}");
        }
        out += &row[4];
        out.push('\n');
    }
    out
}
// ANCHOR_END: render

/// `s`, or its first `max - 1` characters and `…` when it is longer.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Docker's "how long ago" (go-units `HumanDuration`).
pub fn human_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let minutes = seconds / 60;
    let hours = (seconds as f64 / 3600.0 + 0.5) as i64;
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / 3600 / 24 / 365),
    }
}

/// Docker's size (go-units `HumanSizeWithPrecision(size, 3)`): decimal
/// units, three significant digits, as Go's `%.3g` writes them.
pub fn human_size(size: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut value = size as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", go_g3(value), UNITS[unit])
}

/// Go's `%.3g` for a value from 0 to 1000: three significant digits,
/// trailing zeros dropped, and `1e+03` when it rounds up to 1000.
fn go_g3(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let scientific = format!("{value:.2e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("{:e} has an e");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    if exponent >= 3 {
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e+{exponent:02}");
    }
    let decimals = (2 - exponent).max(0) as usize;
    let fixed = format!("{value:.decimals$}");
    if fixed.contains('.') {
        fixed
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        fixed
    }
}

/// The sizes of unpacked layer directories, as docker counts a layer's
/// size: every entry that is not a directory, a file with several names
/// once.
pub fn directory_size(dir: &Path) -> std::io::Result<u64> {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                todo.push(entry.path());
            } else if meta.len() > 0 && seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

// ANCHOR: rfc3339
/// Seconds since the epoch as RFC 3339 in UTC (`2026-11-02T10:00:00Z`),
/// the form image configs use for `created`.
pub fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Nanoseconds since the epoch as RFC 3339 with nanoseconds, in UTC
/// (`2026-11-02T10:00:00.123456789Z`), the form docker's API and logs use.
pub fn rfc3339_nanos(nanos: u64) -> String {
    let seconds = rfc3339(nanos / 1_000_000_000);
    format!(
        "{}.{:09}Z",
        seconds.trim_end_matches('Z'),
        nanos % 1_000_000_000
    )
}

/// Reads RFC 3339 (`2026-11-02T10:00:00.123456789Z`, or with `+01:00`)
/// into seconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let number = |s: &str| -> Option<i64> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.splitn(3, '-');
    let (year, month, day) = (
        number(date_parts.next()?)?,
        number(date_parts.next()?)?,
        number(date_parts.next()?)?,
    );
    let zone_at = time.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = time.split_at(zone_at);
    let clock = clock.split('.').next()?;
    parse_clock(year, month, day, clock, zone, number)
}

/// The nanoseconds since the epoch of an RFC 3339 time, fraction included.
pub fn parse_rfc3339_nanos(text: &str) -> Option<i128> {
    let seconds = parse_rfc3339(text)?;
    let fraction = text
        .split_once('.')
        .map(|(_, rest)| rest.trim_end_matches(|c: char| !c.is_ascii_digit()))
        .map(|digits| {
            digits
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("")
        })
        .unwrap_or("");
    let mut nanos: i128 = 0;
    for (i, digit) in fraction.bytes().take(9).enumerate() {
        nanos += i128::from(digit - b'0') * 10i128.pow(8 - i as u32);
    }
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

fn parse_clock(
    year: i64,
    month: i64,
    day: i64,
    clock: &str,
    zone: &str,
    number: impl Fn(&str) -> Option<i64>,
) -> Option<i64> {
    let mut clock_parts = clock.splitn(3, ':');
    let (hour, minute, second) = (
        number(clock_parts.next()?)?,
        number(clock_parts.next()?)?,
        number(clock_parts.next()?)?,
    );
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':')?;
            sign * (number(h)? * 3600 + number(m)? * 60)
        }
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a date of the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm: eras of 400 years, years starting in March).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
// ANCHOR_END: rfc3339

/// Why `history` could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the config of {image} is not valid JSON: {source}")]
    Config {
        image: String,
        source: serde_json::Error,
    },
    #[error("cannot measure layer {path:?}: {source}")]
    Layer {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// `history IMAGE`, ready to print: reads the image's record and config
/// from the store and measures its unpacked layers.
pub fn table(
    store: &crate::store::Store,
    reference: &crate::reference::Reference,
    truncate: bool,
) -> Result<String, HistoryError> {
    let record = store
        .image(reference)?
        .ok_or_else(|| crate::store::StoreError::NoSuchImage(reference.to_string()))?;
    let config: ImageConfig =
        serde_json::from_slice(&store.read_blob(&record.config)?).map_err(|source| {
            HistoryError::Config {
                image: reference.to_string(),
                source,
            }
        })?;
    let mut sizes = Vec::new();
    for chain in &record.layers {
        let path = store.layer_path(chain);
        sizes.push(directory_size(&path).map_err(|source| HistoryError::Layer { path, source })?);
    }
    let now = crate::store::now() as i64;
    Ok(render(
        &rows(&config, record.config.hex(), &sizes),
        now,
        truncate,
    ))
}
