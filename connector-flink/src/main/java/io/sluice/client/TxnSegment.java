package io.sluice.client;

import java.io.Serializable;

/** A transaction's segment for one parent segment: events routed to {@code parent}'s range go to {@code txnSegment}. */
public record TxnSegment(SegmentRange parent, String txnSegment) implements Serializable {}
