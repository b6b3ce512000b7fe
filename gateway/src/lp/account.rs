//! Account (1) on a per-account child order: the sub-account's **id** (what the LP's and the
//! broker's back office know it by), never mam's internal index.

use mam_core::pipeline::AccountDirectory;

/// What the LP stage writes in Account (1).
#[derive(Debug, Clone, Default)]
pub struct AccountField {
    /// Write Account (1) on per-account orders (block orders never carry one).
    pub on: bool,
    /// Account ids by index, NUL-padded as the account store keeps them. An index past the
    /// end (or an empty id) is written as the decimal index, so a caller without ids still
    /// gets a stable value.
    pub ids: Vec<[u8; 16]>,
    /// Where the ids of accounts added since [`ids`](Self::ids) was copied are found (only
    /// for an index past its end: the lock stays off the path of every other order).
    pub added: AccountDirectory,
}

/// An account id as written (at most 16 bytes, or a decimal u32), on the stack.
#[derive(Debug, Clone, Copy)]
pub struct AccountText {
    buf: [u8; 16],
    len: usize,
}

impl AccountText {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl AccountField {
    /// Writes Account (1) when `on`, with the ids `directory` holds now and any it gets later.
    pub fn new(on: bool, directory: AccountDirectory) -> Self {
        let ids = (0..directory.len() as u32)
            .filter_map(|i| directory.get(i))
            .collect();
        AccountField {
            on,
            ids,
            added: directory,
        }
    }

    /// Account (1) for an order of account index `account` (`u32::MAX`: a block order, none).
    pub fn text(&self, account: u32) -> Option<AccountText> {
        if !self.on || account == u32::MAX {
            return None;
        }
        Some(self.id(account))
    }

    /// The id of account index `account` (whether or not orders carry it).
    pub fn id(&self, account: u32) -> AccountText {
        let mut t = AccountText {
            buf: [0; 16],
            len: 0,
        };
        let added;
        let id = match self.ids.get(account as usize) {
            Some(id) => Some(id),
            None => {
                added = self.added.get(account);
                added.as_ref()
            }
        };
        match id {
            Some(id) if id[0] != 0 => {
                t.len = id.iter().position(|&b| b == 0).unwrap_or(16);
                t.buf[..t.len].copy_from_slice(&id[..t.len]);
            }
            _ => {
                let s = account.to_string();
                t.len = s.len();
                t.buf[..t.len].copy_from_slice(s.as_bytes());
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_by_index_else_the_index() {
        let mut id = [0u8; 16];
        id[..6].copy_from_slice(b"INV007");
        let dir = AccountDirectory::new(vec![[0; 16], id, *b"ABCDEFGHIJKLMNOP"]);
        let f = AccountField::new(true, dir.clone());
        let t = |a| f.text(a).map(|t| t.as_bytes().to_vec());
        assert_eq!(t(1), Some(b"INV007".to_vec()));
        assert_eq!(t(2), Some(b"ABCDEFGHIJKLMNOP".to_vec()));
        assert_eq!(t(0), Some(b"0".to_vec()), "an empty id: the index");
        assert_eq!(t(4_000_000_000), Some(b"4000000000".to_vec()));
        assert_eq!(t(u32::MAX), None, "a block order");
        assert_eq!(t(3), Some(b"3".to_vec()), "not added yet");
        dir.push(*b"ADDED\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(t(3), Some(b"ADDED".to_vec()), "added while running");
        let off = AccountField { on: false, ..f };
        assert!(off.text(1).is_none());
    }
}
