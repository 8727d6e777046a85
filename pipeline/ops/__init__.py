"""Operations: the lifecycle of a package on disk (inbox, work, outbox, quarantine)."""
