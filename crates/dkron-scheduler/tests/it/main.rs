//! Integration tests of dkron-scheduler, under paused tokio time unless they run real processes.

mod concurrency;
#[cfg(feature = "executor")]
mod executor;
mod followups;
mod helpers;
mod launch;
mod lead;
mod lifecycle;
mod overload;
mod parents;
mod policies;
mod storm;
mod timing;
