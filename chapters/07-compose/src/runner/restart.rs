//! Restart policies, applied while `up` runs, with docker's back-off.
//!
//! Docker's rules (its "restart manager"):
//!
//! - `no`: never; `always` and `unless-stopped`: whatever the exit code;
//!   `on-failure[:N]`: after a non-zero exit only, at most N times.
//! - A container stopped on purpose (Ctrl-C, `down`) is never restarted.
//! - The delay before a restart starts at 100 ms and doubles at each
//!   restart, up to one minute, so a container that crashes at once does
//!   not spin; once a run lasted 10 s, the container counts as having
//!   worked and the delay starts over at 100 ms.

use crate::model::Restart;
use std::time::Duration;

/// The first delay.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the delay.
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// A container's restarts so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restarts {
    /// How many restarts (for `on-failure:N`).
    pub count: u32,
    /// The delay of the last restart (`None` before the first).
    pub last_delay: Option<Duration>,
}

impl Restarts {
    /// No restart yet.
    pub const NONE: Restarts = Restarts {
        count: 0,
        last_delay: None,
    };
}

// ANCHOR: decide
/// After a run that lasted `ran` and ended with `code`: the delay before
/// restarting the container, or `None` to leave it stopped.
pub fn next_restart(
    policy: Restart,
    code: i32,
    ran: Duration,
    restarts: &mut Restarts,
) -> Option<Duration> {
    let restart = match policy {
        Restart::No => false,
        Restart::Always | Restart::UnlessStopped => true,
        Restart::OnFailure(max) => code != 0 && max.is_none_or(|max| restarts.count < max),
    };
    if !restart {
        return None;
    }
    let delay = match restarts.last_delay {
        Some(last) if ran < RESET_AFTER => (last * 2).min(MAX_DELAY),
        _ => FIRST_DELAY,
    };
    restarts.count += 1;
    restarts.last_delay = Some(delay);
    Some(delay)
}
// ANCHOR_END: decide

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: Duration = Duration::from_millis(5);

    #[test]
    fn the_delay_doubles_up_to_a_minute_and_resets_after_a_long_run() {
        let mut r = Restarts::NONE;
        let delays: Vec<u128> = (0..12)
            .map(|_| {
                next_restart(Restart::Always, 1, QUICK, &mut r)
                    .unwrap()
                    .as_millis()
            })
            .collect();
        assert_eq!(
            delays,
            [
                100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000
            ]
        );
        let after_long_run = next_restart(Restart::Always, 1, RESET_AFTER, &mut r);
        assert_eq!(after_long_run, Some(FIRST_DELAY));
        assert_eq!(r.count, 13);
    }

    #[test]
    fn policies() {
        let mut r = Restarts::NONE;
        assert_eq!(next_restart(Restart::No, 1, QUICK, &mut r), None);
        assert!(next_restart(Restart::UnlessStopped, 0, QUICK, &mut r).is_some());
        let mut r = Restarts::NONE;
        assert_eq!(
            next_restart(Restart::OnFailure(None), 0, QUICK, &mut r),
            None
        );
        assert!(next_restart(Restart::OnFailure(None), 2, QUICK, &mut r).is_some());
        let mut r = Restarts::NONE;
        let limited = Restart::OnFailure(Some(2));
        assert!(next_restart(limited, 1, QUICK, &mut r).is_some());
        assert!(next_restart(limited, 1, QUICK, &mut r).is_some());
        assert_eq!(next_restart(limited, 1, QUICK, &mut r), None);
        assert_eq!(r.count, 2);
    }
}
