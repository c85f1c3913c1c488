//! How the page writes a message's time: the server renders UTC, and once hydrated the browser
//! shows its local time (the same instant, so hydration only changes the text).

/// `HH:MM`, in the browser's local time when `local`, else UTC.
pub fn clock_time(timestamp: f64, local: bool) -> String {
    if local {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(timestamp * 1000.0));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    } else {
        let seconds_of_day = (timestamp.max(0.0) as u64) % 86_400;
        format!(
            "{:02}:{:02}",
            seconds_of_day / 3_600,
            seconds_of_day % 3_600 / 60
        )
    }
}

/// `YYYY-MM-DD HH:MM`, in the browser's local time when `local`, else UTC (and says so).
pub fn date_time(timestamp: f64, local: bool) -> String {
    if local {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(timestamp * 1000.0));
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date(),
            date.get_hours(),
            date.get_minutes()
        )
    } else {
        let iso = iso_utc(timestamp);
        format!("{} {} UTC", &iso[..10], &iso[11..16])
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix timestamp.
pub fn iso_utc(timestamp: f64) -> String {
    let seconds = timestamp.max(0.0) as i64;
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3_600,
        second_of_day % 3_600 / 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_utc_formats_known_instants() {
        assert_eq!(iso_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400.0), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_795_774_123.58), "2026-11-27T10:08:43Z");
    }
}
