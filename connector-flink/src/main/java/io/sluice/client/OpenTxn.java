package io.sluice.client;

import java.io.Serializable;

/**
 * An OPEN transaction as {@link ControllerClient#listOpenTransactions} lists it: its id, its tag
 * (empty when untagged), when it was created and when its lease runs out (epoch ms).
 */
public record OpenTxn(String txnId, String tag, long createdAtMs, long leaseExpiresAtMs) implements Serializable {}
