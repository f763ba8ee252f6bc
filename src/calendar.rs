//! Date buckets in one configurable time zone (default UTC), used everywhere usage and cost
//! are grouped by hour, day, month or week — and for the reset times limits report.
//! Bucket names are written field by field: `strftime` parsing showed up in the relay's profile.
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use switchyard_actors::clock::Millis;

#[derive(Debug, Clone, Copy)]
pub struct Calendar {
    tz: Tz,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown time zone `{0}` (use an IANA name such as UTC or Europe/Berlin)")]
pub struct BadZone(String);

/// The week a weekly limit counts in: its bucket name and when the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Week {
    pub bucket: String,
    pub starts_at: Millis,
    pub next_at: Millis,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar { tz: Tz::UTC }
    }
}

impl Calendar {
    pub fn new(zone: &str) -> Result<Self, BadZone> {
        zone.parse::<Tz>()
            .map(|tz| Calendar { tz })
            .map_err(|_| BadZone(zone.to_owned()))
    }

    fn at(&self, ms: Millis) -> DateTime<Tz> {
        self.tz
            .timestamp_millis_opt(ms)
            .single()
            .unwrap_or_else(|| self.tz.timestamp_millis_opt(0).unwrap())
    }

    fn local_ms(&self, local: NaiveDateTime) -> Millis {
        // Across a DST gap, take the first valid instant after it.
        let mut t = local;
        for _ in 0..4 {
            if let Some(dt) = self.tz.from_local_datetime(&t).earliest() {
                return dt.timestamp_millis();
            }
            t += Duration::hours(1);
        }
        local.and_utc().timestamp_millis()
    }

    /// The hour, day and month bucket names of `ms`, from one time-zone conversion.
    pub fn stamps(&self, ms: Millis) -> Stamps {
        let t = self.at(ms);
        let month = format!("{:04}-{:02}", t.year(), t.month());
        let day = format!("{month}-{:02}", t.day());
        let hour = format!("{day}T{:02}", t.hour());
        Stamps { hour, day, month }
    }

    // One bucket name alone (admission asks for the day on every request): one string, not three.
    pub fn hour(&self, ms: Millis) -> String {
        hour_name(&self.at(ms).naive_local())
    }

    pub fn day(&self, ms: Millis) -> String {
        let t = self.at(ms);
        format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
    }

    pub fn month(&self, ms: Millis) -> String {
        let t = self.at(ms);
        format!("{:04}-{:02}", t.year(), t.month())
    }

    /// The next local midnight after `ms`.
    pub fn next_midnight(&self, ms: Millis) -> Millis {
        let date = self.at(ms).date_naive() + Duration::days(1);
        self.local_ms(date.and_time(NaiveTime::MIN))
    }

    /// The local start of the week that resets on `day` (1 = Monday … 7 = Sunday) at `hour`,
    /// containing `ms`.
    fn week_start(&self, ms: Millis, day: u8, hour: u8) -> NaiveDateTime {
        let now = self.at(ms);
        let day = u32::from(day.clamp(1, 7)) - 1;
        let hour = u32::from(hour.min(23));
        let today = now.date_naive();
        let back = (now.weekday().num_days_from_monday() + 7 - day) % 7;
        let mut start_date: NaiveDate = today - Duration::days(i64::from(back));
        let reset_time = NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN);
        if back == 0 && now.hour() < hour {
            start_date -= Duration::days(7);
        }
        start_date.and_time(reset_time)
    }

    /// The bucket name of that week (what settlements need, without its start and end).
    pub fn week_bucket(&self, ms: Millis, day: u8, hour: u8) -> String {
        hour_name(&self.week_start(ms, day, hour))
    }

    /// That week: its bucket name and when it starts and ends.
    pub fn week(&self, ms: Millis, day: u8, hour: u8) -> Week {
        let start = self.week_start(ms, day, hour);
        Week {
            bucket: hour_name(&start),
            starts_at: self.local_ms(start),
            next_at: self.local_ms(start + Duration::days(7)),
        }
    }
}

/// `YYYY-MM-DDTHH`.
fn hour_name(t: &NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02}T{:02}", t.year(), t.month(), t.day(), t.hour())
}

/// Bucket names of one moment (see [`Calendar::stamps`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamps {
    pub hour: String,
    pub day: String,
    pub month: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-27 (a Friday) 10:30:00 UTC.
    const NOW: Millis = 1_795_775_400_000;

    #[test]
    fn buckets_follow_the_zone() {
        let utc = Calendar::default();
        assert_eq!(
            (utc.day(NOW), utc.hour(NOW), utc.month(NOW)),
            ("2026-11-27".into(), "2026-11-27T10".into(), "2026-11".into())
        );
        let tokyo = Calendar::new("Asia/Tokyo").unwrap();
        assert_eq!(tokyo.hour(NOW), "2026-11-27T19");
        let la = Calendar::new("America/Los_Angeles").unwrap();
        assert_eq!(la.day(NOW), "2026-11-27");
        assert_eq!(utc.next_midnight(NOW), 1_795_824_000_000);
        assert!(Calendar::new("Mars/Olympus").is_err());
    }

    #[test]
    fn weeks_start_at_the_reset_day_and_hour() {
        let utc = Calendar::default();
        let w = utc.week(NOW, 1, 0); // Monday 00:00
        assert_eq!(w.bucket, "2026-11-23T00");
        assert_eq!(w.next_at - w.starts_at, 7 * 86_400_000);
        let fri_noon = utc.week(NOW, 5, 12); // Friday 12:00, not yet reached today
        assert_eq!(fri_noon.bucket, "2026-11-20T12");
        let fri_eight = utc.week(NOW, 5, 8);
        assert_eq!(fri_eight.bucket, "2026-11-27T08");
        assert!(fri_eight.starts_at <= NOW && NOW < fri_eight.next_at);
        assert_eq!(utc.week_bucket(NOW, 5, 12), fri_noon.bucket);
        let tokyo = Calendar::new("Asia/Tokyo").unwrap();
        assert_eq!(tokyo.week_bucket(NOW, 1, 0), tokyo.week(NOW, 1, 0).bucket);
    }
}
