//! Exit codes. Scripts and cron jobs depend on these numbers: they never change meaning.

/// When several apply, the first in this order wins: 1, 5, 4, 3, 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Run complete, no unsuppressed failing finding at or above `fail_on`.
    Clean = 0,
    /// Invalid config, missing secret, unwritable output: no report was produced.
    Fatal = 1,
    /// Command-line usage error.
    Usage = 2,
    /// Run complete, failing findings at or above `fail_on`.
    Failing = 3,
    /// At least one scope could not be fetched completely; reports were written, marked incomplete.
    Incomplete = 4,
    /// Reports were written but email delivery failed.
    EmailFailed = 5,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The outcome of a run that wrote its reports.
    pub fn for_run(email_failed: bool, incomplete: bool, failing: bool) -> ExitStatus {
        if email_failed {
            ExitStatus::EmailFailed
        } else if incomplete {
            ExitStatus::Incomplete
        } else if failing {
            ExitStatus::Failing
        } else {
            ExitStatus::Clean
        }
    }

    /// The one of two outcomes that wins when both apply: 1, then 5, 4, 3, 0 (a usage refusal,
    /// 2, only over a clean outcome).
    pub(crate) fn worse(self, other: ExitStatus) -> ExitStatus {
        let rank = |s: ExitStatus| match s {
            ExitStatus::Fatal => 4,
            ExitStatus::EmailFailed => 3,
            ExitStatus::Incomplete => 2,
            ExitStatus::Failing => 1,
            ExitStatus::Clean | ExitStatus::Usage => 0,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worse_of_two_follows_the_contracts_order() {
        use ExitStatus::*;
        for (a, b, worse) in [
            (Clean, EmailFailed, EmailFailed),
            (Incomplete, EmailFailed, EmailFailed),
            (EmailFailed, Incomplete, EmailFailed),
            (Failing, Incomplete, Incomplete),
            (Clean, Failing, Failing),
            (Fatal, EmailFailed, Fatal),
            (Usage, Clean, Usage),
        ] {
            assert_eq!(a.worse(b), worse, "{a:?} and {b:?}");
        }
    }

    #[test]
    fn precedence_is_5_4_3_0() {
        assert_eq!(ExitStatus::for_run(true, true, true).code(), 5);
        assert_eq!(ExitStatus::for_run(false, true, true).code(), 4);
        assert_eq!(ExitStatus::for_run(false, false, true).code(), 3);
        assert_eq!(ExitStatus::for_run(false, false, false).code(), 0);
    }
}
