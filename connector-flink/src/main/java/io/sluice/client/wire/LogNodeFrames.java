package io.sluice.client.wire;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Log node frames: a ledger client to a log node (wire.md, "Log node frames"). The Java client does
 * not talk to log nodes; these exist so the codec covers the whole protocol and the shared vectors
 * prove every frame byte for byte. Field conventions as in {@link Frame}; {@code ledger} is a u32.
 */
public final class LogNodeFrames {
  private LogNodeFrames() {}

  /** Client to node: entryId >= 0, lac -1 if none; data is the entry's bytes. */
  public record AddEntry(int requestId, int ledger, long entryId, long lac, boolean recovery, ByteBuffer data)
      implements Frame {
    public static final int TYPE = 50;
    public int type() { return TYPE; }
  }

  /** Node to client: the entry is written and synced (entryId >= 0). */
  public record EntryAdded(int requestId, int ledger, long entryId) implements Frame {
    public static final int TYPE = 51;
    public int type() { return TYPE; }
  }

  /** Client to node: entries from firstEntryId (>= 0), up to maxBytes (the first whatever its size). */
  public record ReadEntries(int requestId, int ledger, long firstEntryId, int maxBytes) implements Frame {
    public static final int TYPE = 52;
    public int type() { return TYPE; }
  }

  /** Node to client: entries firstEntryId, firstEntryId + 1, ...; views of the payload once decoded. */
  public record EntriesRead(int requestId, int ledger, long firstEntryId, List<ByteBuffer> entries) implements Frame {
    public static final int TYPE = 53;
    public EntriesRead { entries = List.copyOf(entries); }
    public int type() { return TYPE; }
  }

  /** Client to node: asks for the ledger's state. */
  public record ReadLedgerState(int requestId, int ledger) implements Frame {
    public static final int TYPE = 54;
    public int type() { return TYPE; }
  }

  /** Node to client: lac and lastEntryId (-1: none) and whether the ledger is fenced. */
  public record LedgerStateRead(int requestId, int ledger, long lac, long lastEntryId, boolean fenced) implements Frame {
    public static final int TYPE = 55;
    public int type() { return TYPE; }
  }

  /** Client to node: fences the ledger (durable, idempotent). */
  public record FenceLedger(int requestId, int ledger) implements Frame {
    public static final int TYPE = 56;
    public int type() { return TYPE; }
  }

  /** Node to client: the ledger's state after fencing. */
  public record LedgerFenced(int requestId, int ledger, long lac, long lastEntryId, boolean fenced) implements Frame {
    public static final int TYPE = 57;
    public int type() { return TYPE; }
  }

  /** Client to node: deletes the ledger (idempotent). */
  public record DeleteLedger(int requestId, int ledger) implements Frame {
    public static final int TYPE = 58;
    public int type() { return TYPE; }
  }

  /** Node to client: the ledger is deleted. */
  public record LedgerDeleted(int requestId, int ledger) implements Frame {
    public static final int TYPE = 59;
    public int type() { return TYPE; }
  }

  /** Client to node: asks for the node's identity (cookie). */
  public record ReadNodeIdentity(int requestId) implements Frame {
    public static final int TYPE = 60;
    public int type() { return TYPE; }
  }

  /** Node to client: instanceId is at most 128 UTF-8 bytes. */
  public record NodeIdentity(int requestId, String instanceId) implements Frame {
    public static final int TYPE = 61;
    public int type() { return TYPE; }
  }
}
