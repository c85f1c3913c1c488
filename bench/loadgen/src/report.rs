//! How results are printed: one table line and one JSON line per result (`Report`), latency
//! percentiles in milliseconds, and numbers formatted so that JSON gets `null` for no value.

use std::fmt::Write as _;

/// Prints each result as a table line and as a JSON line (`JSON {...}`) for scripts.
pub(crate) struct Report {
    pub(crate) label: String,
}

impl Report {
    pub(crate) fn add(&self, scenario: String, fields: Vec<(&'static str, String)>) {
        let mut json = format!(r#"{{"run":"{}","scenario":"{scenario}""#, self.label);
        let mut line = format!("{:<16} {:<22}", self.label, scenario);
        for (name, value) in &fields {
            let _ = write!(json, r#","{name}":{value}"#);
            // A JSON string is shown as its text.
            let shown = serde_json::from_str::<String>(value)
                .unwrap_or_else(|_| value.trim_matches('"').to_owned());
            let _ = write!(line, " {name}={shown}");
        }
        json.push('}');
        println!("{line}");
        println!("JSON {json}");
    }
}

/// `value` with two decimals, or `null` if it is not a number (a percentile of no samples).
pub(crate) fn float(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "null".to_owned()
    }
}

/// The 99th percentile of `sorted` microseconds, as milliseconds formatted by `float`.
pub(crate) fn p99(sorted: &[u64]) -> String {
    float(percentile(sorted, 0.99))
}

/// The sample of `sorted` microseconds nearest the `p` quantile (0 to 1), in milliseconds;
/// NaN if there are none.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index] as f64 / 1000.0
}
