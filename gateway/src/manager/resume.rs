//! Where a manager session resumes after a restart, for both protocols (FIX and binary).

/// The sequence number a restarted session's store should expect next: the one after the
/// journal's last master message (`resume_after`) when the store expects a later one. The
/// store then saw messages the journal lost (killed between the two writes), and only the
/// manager can send them again. `None`: keep the store's number.
pub(super) fn rewound(expected: u64, resume_after: Option<u64>, session: &str) -> Option<u64> {
    let want = resume_after?.saturating_add(1);
    if expected <= want {
        return None;
    }
    tracing::info!(
        session,
        from = expected,
        to = want,
        "manager session: expecting the first master order the journal lacks"
    );
    Some(want)
}

#[cfg(test)]
mod tests {
    use super::rewound;

    #[test]
    fn rewinds_only_a_store_ahead_of_the_journal() {
        assert_eq!(rewound(10, Some(4), "t"), Some(5));
        assert_eq!(rewound(5, Some(4), "t"), None);
        assert_eq!(rewound(3, Some(4), "t"), None);
        assert_eq!(rewound(10, None, "t"), None);
    }
}
