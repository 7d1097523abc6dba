package io.sluice.client;

/**
 * What a commit answered: the transaction's state (COMMITTED) and whether the controller found it
 * committed before this call ({@code alreadyCommitted}: a repeated commit, e.g. by a committer
 * retrying after a restore), which callers treat as success.
 */
public record TxnCommit(TxnState state, boolean alreadyCommitted) {}
