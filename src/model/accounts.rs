//! Every account of a run, in the scopes' order, kept in the per-scope lists the sources
//! produced.
//!
//! A report used to move them into one list: with a million accounts that is a second quarter
//! of a gigabyte for a moment, since the memory of the per-scope lists is freed but not given
//! back. Nothing needs them in one piece: every reader goes through them in order.

use serde::ser::{Serialize, SerializeSeq, Serializer};

use super::Account;

/// Accounts in order, in parts (as the sources produced them: one per scope that succeeded).
/// Two are equal when they hold the same accounts in the same order, however they are split.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    parts: Vec<Vec<Account>>,
    len: usize,
}

impl Accounts {
    /// One more part, after those already here.
    pub fn append(&mut self, part: Vec<Account>) {
        self.len += part.len();
        if !part.is_empty() {
            self.parts.push(part);
        }
    }

    /// One more account, at the end of the last part.
    pub fn push(&mut self, account: Account) {
        self.len += 1;
        match self.parts.last_mut() {
            Some(last) => last.push(account),
            None => self.parts.push(vec![account]),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Account> + Clone {
        self.parts.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Account> {
        self.parts.iter_mut().flatten()
    }
}

impl PartialEq for Accounts {
    fn eq(&self, other: &Accounts) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl From<Vec<Account>> for Accounts {
    fn from(list: Vec<Account>) -> Accounts {
        let mut accounts = Accounts::default();
        accounts.append(list);
        accounts
    }
}

impl FromIterator<Account> for Accounts {
    fn from_iter<I: IntoIterator<Item = Account>>(iter: I) -> Accounts {
        Accounts::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl<'a> IntoIterator for &'a Accounts {
    type Item = &'a Account;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<Account>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.parts.iter().flatten()
    }
}

/// As one list, exactly as a `Vec<Account>` is written.
impl Serialize for Accounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len))?;
        for account in self {
            seq.serialize_element(account)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_read_as_one_list_in_order() {
        let account = |id: &str| Account {
            account_id: id.into(),
            ..crate::rules::test_support::account()
        };
        let mut accounts = Accounts::from(vec![account("1"), account("2")]);
        accounts.append(Vec::new());
        accounts.append(vec![account("3")]);
        accounts.push(account("4"));
        let whole = Accounts::from(accounts.iter().cloned().collect::<Vec<_>>());
        assert_eq!(accounts, whole, "equal however they are split");
        let ids: Vec<&str> = accounts.iter().map(|a| &*a.account_id).collect();
        assert_eq!(ids, ["1", "2", "3", "4"]);
        assert_eq!(accounts.len(), 4);
        let whole: Vec<Account> = accounts.iter().cloned().collect();
        assert_eq!(
            serde_json::to_string(&accounts).unwrap(),
            serde_json::to_string(&whole).unwrap()
        );
        assert!(Accounts::default().is_empty());
        assert_eq!(serde_json::to_string(&Accounts::default()).unwrap(), "[]");
    }
}
