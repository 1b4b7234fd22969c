//! Entry points for the fuzz targets in `fuzz/` (hidden, not part of the API): the request
//! decoding a handler runs before it calls the [`crate::Cluster`], exposed without widening
//! the crate's API.

use dkron_model::Job;

/// What `POST /v1/jobs` does with a body before it calls the cluster: dkron's wire JSON into a
/// [`Job`], then the model's validation. `Err` carries the message the client would get.
pub fn decode_job(body: &[u8]) -> Result<Job, String> {
    let job = crate::wire::parse_job(body).map_err(|error| format!("{error:?}"))?;
    job.validate().map_err(|error| error.to_string())?;
    Ok(job)
}

/// A job as `GET /v1/jobs/{job}` writes it (dkron's wire JSON).
pub fn encode_job(job: &Job) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&crate::wire::JobOut::from(job)).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests;
