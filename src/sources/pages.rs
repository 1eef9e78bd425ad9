//! What one paginated list, and one scope's accounts, may take: the caps that end a server's
//! endless or oversized answers, and the identity rules that keep each account once.

use super::local_error;
use crate::http::Answer;
use crate::model::{Account, ScopeError};
use std::sync::Arc;

/// Pages one scope may take. A real organization stays far below (1,000 Sentry pages are
/// 100,000 members); a server that never stops paginating is ended within minutes.
pub(crate) const MAX_PAGES_PER_SCOPE: usize = 1_000;
/// Body bytes one scope may take, all pages together: what bounds the memory a hostile server
/// can make one scope hold (every account string comes out of these bytes).
pub(crate) const MAX_BYTES_PER_SCOPE: u64 = 256 << 20;
/// Pages of a discovery list (organizations, profiles): 10,000 entries at 100 a page.
pub(crate) const MAX_DISCOVERY_PAGES: usize = 100;

/// Counts what one paginated list has taken and ends it at the caps above.
pub(crate) struct PageBudget {
    what: &'static str,
    max_pages: usize,
    pages: usize,
    bytes: u64,
}

impl PageBudget {
    pub(crate) fn new(what: &'static str, max_pages: usize) -> PageBudget {
        PageBudget {
            what,
            max_pages,
            pages: 0,
            bytes: 0,
        }
    }

    pub(crate) fn pages(&self) -> usize {
        self.pages
    }

    /// Count a received page; an error once the bytes are spent.
    pub(crate) fn take(&mut self, answer: &Answer) -> Result<(), ScopeError> {
        self.pages += 1;
        self.bytes = self.bytes.saturating_add(answer.body.len() as u64);
        if self.bytes > MAX_BYTES_PER_SCOPE {
            return Err(local_error(format!(
                "the {} took more than {} MiB over {} pages; stopped so that a server cannot exhaust memory",
                self.what,
                MAX_BYTES_PER_SCOPE >> 20,
                self.pages
            )));
        }
        Ok(())
    }

    /// Before asking for another page: an error once the pages are spent.
    pub(crate) fn another(&self) -> Result<(), ScopeError> {
        if self.pages >= self.max_pages {
            return Err(local_error(format!(
                "the {} has more than {} pages and the server still says there are more; stopped to \
                 end what would otherwise be an endless loop",
                self.what, self.max_pages
            )));
        }
        Ok(())
    }
}

/// A page that brought entries, none of them new, means the server is not advancing through
/// the list (it ignores the page parameter or repeats a cursor's page): what it would go on to
/// send cannot be trusted to be the rest of the list.
pub(crate) fn check_progress(
    page: usize,
    received: usize,
    new: usize,
    what: &str,
) -> Result<(), ScopeError> {
    if received > 0 && new == 0 {
        return Err(local_error(format!(
            "page {page} of the {what} repeats {received} entries already received and nothing new; the \
             server is not advancing through the list, so it cannot be read completely"
        )));
    }
    Ok(())
}

/// Flag on an account the API sent without an id: it is kept and reported, never merged.
pub(crate) const NO_API_ID: &str = "api:no-id";

/// One scope's accounts as their pages arrive. Accounts with the same API id are one account
/// (offset pagination can send a row twice when the list changes under it): the later copy is
/// dropped and the merge logged. An account without an API id is never merged with another:
/// it keeps a derived id made unique within the scope, and the flag [`NO_API_ID`].
pub(crate) struct ScopeAccounts<'a> {
    source_name: &'a str,
    scope: &'a str,
    accounts: Vec<Account>,
    ids: std::collections::HashSet<Arc<str>>,
    merged: Vec<Arc<str>>,
    unidentified: usize,
}

/// The text every account of one scope shares — its source's name, the scope, each distinct
/// role and flag — allocated once per scope rather than once per account.
pub(crate) struct ScopeText {
    pub(crate) source_name: Arc<str>,
    pub(crate) scope: Arc<str>,
    seen: Vec<Arc<str>>,
}

impl ScopeText {
    /// A scope has a handful of roles and flags; past this many distinct ones (a hostile or
    /// unusual answer) text is no longer looked up, so the search stays short.
    const MAX_SHARED: usize = 32;

    pub(crate) fn new(source_name: &str, scope: &str) -> ScopeText {
        ScopeText {
            source_name: source_name.into(),
            scope: scope.into(),
            seen: Vec::new(),
        }
    }

    /// A role as the API sent it: trimmed, lower-case (copied only when it is not already),
    /// `None` when blank; shared like any other text of the scope.
    pub(crate) fn role(&mut self, raw: Option<&str>) -> Option<Arc<str>> {
        let raw = raw?.trim();
        if raw.is_empty() {
            return None;
        }
        if raw.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
            Some(self.shared(&raw.to_lowercase()))
        } else {
            Some(self.shared(raw))
        }
    }

    /// `text`, sharing the allocation of an equal text seen before in this scope.
    pub(crate) fn shared(&mut self, text: &str) -> Arc<str> {
        if let Some(known) = self.seen.iter().find(|known| ***known == *text) {
            return known.clone();
        }
        let new: Arc<str> = text.into();
        if self.seen.len() < Self::MAX_SHARED {
            self.seen.push(new.clone());
        }
        new
    }
}

impl<'a> ScopeAccounts<'a> {
    pub(crate) fn new(source_name: &'a str, scope: &'a str) -> Self {
        ScopeAccounts {
            source_name,
            scope,
            accounts: Vec::new(),
            ids: std::collections::HashSet::new(),
            merged: Vec::new(),
            unidentified: 0,
        }
    }

    /// Add one page of accounts (`true` = the id came from the API) and check it brought
    /// something new.
    pub(crate) fn add_page(
        &mut self,
        page: usize,
        accounts: Vec<(Account, bool)>,
        what: &str,
    ) -> Result<(), ScopeError> {
        let received = accounts.len();
        let before = self.accounts.len();
        self.accounts.reserve(received);
        self.ids.reserve(received);
        for (account, identified) in accounts {
            self.add(account, identified);
        }
        check_progress(page, received, self.accounts.len() - before, what)
    }

    fn add(&mut self, mut account: Account, identified: bool) {
        if identified {
            if self.ids.insert(account.account_id.clone()) {
                self.accounts.push(account);
            } else {
                self.merged.push(account.account_id);
            }
            return;
        }
        self.unidentified += 1;
        let base = account.account_id.clone();
        let mut n = 1;
        while !self.ids.insert(account.account_id.clone()) {
            n += 1;
            account.account_id = format!("{base}#{n}").into();
        }
        account.flags.push(NO_API_ID.into());
        self.accounts.push(account);
    }

    pub(crate) fn finish(self) -> Vec<Account> {
        if !self.merged.is_empty() {
            let shown: Vec<&str> = self.merged.iter().take(20).map(|id| &**id).collect();
            tracing::warn!(source = self.source_name, scope = self.scope, count = self.merged.len(),
                ids = %shown.join(", "), "accounts listed twice with the same id were merged");
        }
        if self.unidentified > 0 {
            tracing::warn!(
                source = self.source_name,
                scope = self.scope,
                count = self.unidentified,
                flag = NO_API_ID,
                "accounts without an id were kept and flagged; they cannot be matched across runs"
            );
        }
        // The list grew by doubling as pages came; a million accounts would otherwise keep a
        // third again of their size in spare room until the run ends.
        let mut accounts = self.accounts;
        accounts.shrink_to_fit();
        accounts
    }
}
