//! Findings' details kept once each: a large run's findings say the same few things (one rule,
//! one date, one limit) hundreds of thousands of times, and a copy each was a third of their
//! memory.

use std::collections::HashSet;
use std::sync::Arc;

/// The details seen so far in one run of the rules, shared by the findings that say the same.
#[derive(Debug, Default)]
pub(crate) struct DetailText {
    seen: HashSet<Arc<str>>,
}

impl DetailText {
    /// Beyond this many different details the pool starts afresh: details come partly from the
    /// APIs' data, and a source that makes every one different must not grow the pool without end.
    const MAX_KEPT: usize = 4096;

    /// `detail`, sharing the allocation of an equal detail seen before.
    pub(crate) fn share(&mut self, detail: &str) -> Arc<str> {
        if let Some(known) = self.seen.get(detail) {
            return Arc::clone(known);
        }
        let new: Arc<str> = detail.into();
        if self.seen.len() >= Self::MAX_KEPT {
            self.seen.clear();
        }
        self.seen.insert(Arc::clone(&new));
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_details_share_one_allocation_and_the_pool_stays_bounded() {
        let mut pool = DetailText::default();
        let a = pool.share("last seen 2026-08-11");
        let b = pool.share("last seen 2026-08-11");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &pool.share("last seen 2026-08-12")));
        for i in 0..3 * DetailText::MAX_KEPT {
            let text = format!("detail {i}");
            assert_eq!(&*pool.share(&text), text);
            assert!(pool.seen.len() <= DetailText::MAX_KEPT);
        }
    }
}
