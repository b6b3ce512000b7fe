//! Account ids by index, for the stages that write an account's id on the wire (the LP
//! stage's Account (1) and AllocAccount (79)) while accounts are added on a running daemon.
//!
//! The engine stage appends an id when the engine has added the account, before it pushes
//! any order of that account onto the order ring; the ring's release/acquire pair then makes
//! the id visible to the LP stage before the order. Readers keep their own copy of the ids
//! they started with and come here only for an index past it: the lock is never on the path
//! of an order for an account that existed at start.

use std::sync::{Arc, PoisonError, RwLock};

/// Account ids by index, shared (cloning shares).
#[derive(Debug, Clone, Default)]
pub struct AccountDirectory {
    ids: Arc<RwLock<Vec<[u8; 16]>>>,
}

impl AccountDirectory {
    /// A directory holding `ids` (index order).
    pub fn new(ids: Vec<[u8; 16]>) -> Self {
        AccountDirectory {
            ids: Arc::new(RwLock::new(ids)),
        }
    }

    /// Appends the id of the account just added (its index is the old length).
    pub fn push(&self, id: [u8; 16]) {
        self.ids
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
    }

    /// The id of account index `account`, if there is one.
    pub fn get(&self, account: u32) -> Option<[u8; 16]> {
        self.ids
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account as usize)
            .copied()
    }

    /// The index of the account whose id is `id` (NUL-padded to 16 bytes, as stored).
    pub fn index_of(&self, id: &[u8]) -> Option<u32> {
        if id.is_empty() || id.len() > 16 {
            return None;
        }
        let mut want = [0u8; 16];
        want[..id.len()].copy_from_slice(id);
        self.ids
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .position(|x| *x == want)
            .map(|i| i as u32)
    }

    /// How many ids it holds.
    pub fn len(&self) -> usize {
        self.ids
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True if it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_sees_what_is_pushed() {
        let d = AccountDirectory::new(vec![*b"A\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"]);
        let reader = d.clone();
        assert_eq!(reader.get(1), None);
        d.push(*b"NEW0000000000001");
        assert_eq!(reader.get(1), Some(*b"NEW0000000000001"));
        assert_eq!(reader.len(), 2);
    }
}
