//! The job page's backfill form: its fields as typed, and the request they make. Times are read
//! in the job's zone unless they carry an offset.

use dkron_api::Backfill;
use dkron_model::BackfillOverlap;
use jiff::{SignedDuration, Timestamp, civil::DateTime, tz::TimeZone};

use crate::{form::FieldError, links::Pairs};

/// The backfill form's values as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BackfillForm {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) overlap: String,
}

impl BackfillForm {
    /// The form offered on the job page: the last day, up to `now`, in `tz`.
    pub(crate) fn last_day(now: Timestamp, tz: &TimeZone) -> BackfillForm {
        let civil = |at: Timestamp| {
            at.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        };
        let from = now
            .checked_sub(SignedDuration::from_hours(24))
            .unwrap_or(now);
        BackfillForm {
            from: civil(from),
            to: civil(now),
            overlap: BackfillOverlap::Allow.as_str().to_owned(),
        }
    }

    /// The form as submitted.
    pub(crate) fn from_pairs(pairs: &Pairs) -> BackfillForm {
        let text = |key: &str| pairs.get(key).unwrap_or_default().trim().to_owned();
        BackfillForm {
            from: text("from"),
            to: text("to"),
            overlap: text("overlap"),
        }
    }

    /// The request, times without an offset read in `tz`, or every problem at its field.
    pub(crate) fn request(&self, tz: &TimeZone) -> Result<Backfill, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut time = |field: &str, text: &str| {
            parse_time(text, tz).unwrap_or_else(|message| {
                errors.push(FieldError::new(field, message));
                Timestamp::UNIX_EPOCH
            })
        };
        let from = time("from", &self.from);
        let to = time("to", &self.to);
        let overlap = match self.overlap.as_str() {
            "" => BackfillOverlap::Allow,
            text => text.parse().unwrap_or_else(|_| {
                errors.push(FieldError::new(
                    "overlap",
                    "use \"allow\", \"skip\" or \"buffer_all\"",
                ));
                BackfillOverlap::Allow
            }),
        };
        if errors.is_empty() {
            Ok(Backfill { from, to, overlap })
        } else {
            Err(errors)
        }
    }
}

/// `2026-01-20 00:00` (or with `T`, with seconds) in `tz`, or an RFC 3339 time with its offset.
fn parse_time(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    if text.is_empty() {
        return Err("required".to_owned());
    }
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let civil = text.parse::<DateTime>().map_err(|_| {
        format!(
            "cannot read {text:?}: use YYYY-MM-DD HH:MM in the job's zone, or RFC 3339 such as 2026-01-20T00:00:00Z"
        )
    })?;
    civil
        .to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use dkron_model::BackfillOverlap;
    use jiff::{Timestamp, tz::TimeZone};

    use super::BackfillForm;
    use crate::links::Pairs;

    fn submitted(body: &str) -> BackfillForm {
        BackfillForm::from_pairs(&Pairs::parse(body.as_bytes()))
    }

    #[test]
    fn times_without_an_offset_are_in_the_jobs_zone() {
        let paris = TimeZone::get("Europe/Paris").expect("bundled");
        let form =
            submitted("from=2026-01-20+00%3A00&to=2026-01-21T06%3A30%3A00Z&overlap=buffer_all");
        let request = form.request(&paris).expect("valid");
        assert_eq!(
            request.from,
            "2026-01-19T23:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            request.to,
            "2026-01-21T06:30:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(request.overlap, BackfillOverlap::BufferAll);
        let plain =
            submitted("from=2026-01-20T00%3A00&to=2026-01-20T01%3A00").request(&TimeZone::UTC);
        assert_eq!(plain.expect("valid").overlap, BackfillOverlap::Allow);
    }

    #[test]
    fn bad_fields_are_all_reported() {
        let errors = submitted("from=&to=yesterday&overlap=sometimes")
            .request(&TimeZone::UTC)
            .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["from", "to", "overlap"]);
        assert_eq!(errors[0].message, "required");
        assert!(errors[1].message.contains("yesterday"));
    }

    #[test]
    fn the_offered_form_is_the_last_day_and_reads_back() {
        let now: Timestamp = "2026-07-01T12:00:00Z".parse().unwrap();
        let paris = TimeZone::get("Europe/Paris").expect("bundled");
        let form = BackfillForm::last_day(now, &paris);
        assert_eq!(form.from, "2026-06-30 14:00");
        assert_eq!(form.to, "2026-07-01 14:00");
        let request = form.request(&paris).expect("valid");
        assert_eq!(request.to, now);
    }
}
