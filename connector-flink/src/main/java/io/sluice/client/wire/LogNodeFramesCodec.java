package io.sluice.client.wire;

import static io.sluice.client.wire.FieldWriter.I64_BYTES;
import static io.sluice.client.wire.FieldWriter.U32_BYTES;
import static io.sluice.client.wire.FieldWriter.U8_BYTES;
import static io.sluice.client.wire.FieldWriter.stringBytes;
import static io.sluice.client.wire.FieldWriter.stringFieldBytes;
import static io.sluice.client.wire.FrameCodec.INSTANCE_ID_BYTES_MAX;

import io.sluice.client.wire.LogNodeFrames.AddEntry;
import io.sluice.client.wire.LogNodeFrames.DeleteLedger;
import io.sluice.client.wire.LogNodeFrames.EntriesRead;
import io.sluice.client.wire.LogNodeFrames.EntryAdded;
import io.sluice.client.wire.LogNodeFrames.FenceLedger;
import io.sluice.client.wire.LogNodeFrames.LedgerDeleted;
import io.sluice.client.wire.LogNodeFrames.LedgerFenced;
import io.sluice.client.wire.LogNodeFrames.LedgerStateRead;
import io.sluice.client.wire.LogNodeFrames.NodeIdentity;
import io.sluice.client.wire.LogNodeFrames.ReadEntries;
import io.sluice.client.wire.LogNodeFrames.ReadLedgerState;
import io.sluice.client.wire.LogNodeFrames.ReadNodeIdentity;
import java.nio.ByteBuffer;

/** Codec of {@link LogNodeFrames} (ids 50..61), with the rules of proto/wire/codec.ts. */
final class LogNodeFramesCodec {
  private LogNodeFramesCodec() {}

  private static final int ADD_ENTRY_RECOVERY = 0b01;
  private static final int LEDGER_STATE_FENCED = 0b01;
  private static final int LEDGER_REQUEST_BYTES = 2 * U32_BYTES;
  private static final int ENTRY_REQUEST_BYTES = LEDGER_REQUEST_BYTES + I64_BYTES;
  private static final int LEDGER_STATE_BYTES = LEDGER_REQUEST_BYTES + 2 * I64_BYTES + U8_BYTES;

  static ByteBuffer encode(Frame f) {
    if (f instanceof AddEntry a) {
      FieldWriter w = new FieldWriter(a.type(), ENTRY_REQUEST_BYTES + I64_BYTES + U8_BYTES, a.data().remaining());
      w.u32(a.requestId());
      w.u32(a.ledger());
      w.i64("entryId", a.entryId(), 0);
      w.i64("lac", a.lac(), -1);
      w.u8(a.recovery() ? ADD_ENTRY_RECOVERY : 0);
      w.data(a.data());
      return w.finish();
    }
    if (f instanceof EntryAdded e) {
      FieldWriter w = new FieldWriter(e.type(), ENTRY_REQUEST_BYTES, 0);
      w.u32(e.requestId());
      w.u32(e.ledger());
      w.i64("entryId", e.entryId(), 0);
      return w.finish();
    }
    if (f instanceof ReadEntries e) {
      FieldWriter w = new FieldWriter(e.type(), ENTRY_REQUEST_BYTES + U32_BYTES, 0);
      w.u32(e.requestId());
      w.u32(e.ledger());
      w.i64("firstEntryId", e.firstEntryId(), 0);
      w.u32(e.maxBytes());
      return w.finish();
    }
    if (f instanceof EntriesRead e) {
      long entryBytes = 0;
      for (ByteBuffer entry : e.entries()) entryBytes += U32_BYTES + entry.remaining();
      FieldWriter w = new FieldWriter(e.type(), ENTRY_REQUEST_BYTES + U32_BYTES, entryBytes);
      w.u32(e.requestId());
      w.u32(e.ledger());
      w.i64("firstEntryId", e.firstEntryId(), 0);
      w.u32(e.entries().size());
      for (ByteBuffer entry : e.entries()) {
        w.u32(entry.remaining());
        w.data(entry);
      }
      return w.finish();
    }
    if (f instanceof ReadLedgerState s) return ledgerRequest(s.type(), s.requestId(), s.ledger());
    if (f instanceof FenceLedger s) return ledgerRequest(s.type(), s.requestId(), s.ledger());
    if (f instanceof DeleteLedger s) return ledgerRequest(s.type(), s.requestId(), s.ledger());
    if (f instanceof LedgerDeleted s) return ledgerRequest(s.type(), s.requestId(), s.ledger());
    if (f instanceof LedgerStateRead s) return ledgerState(s.type(), s.requestId(), s.ledger(), s.lac(), s.lastEntryId(), s.fenced());
    if (f instanceof LedgerFenced s) return ledgerState(s.type(), s.requestId(), s.ledger(), s.lac(), s.lastEntryId(), s.fenced());
    if (f instanceof ReadNodeIdentity r) {
      FieldWriter w = new FieldWriter(r.type(), U32_BYTES, 0);
      w.u32(r.requestId());
      return w.finish();
    }
    if (f instanceof NodeIdentity n) {
      byte[] id = stringBytes(n.type(), "instanceId", n.instanceId(), INSTANCE_ID_BYTES_MAX);
      FieldWriter w = new FieldWriter(n.type(), U32_BYTES + stringFieldBytes(id), 0);
      w.u32(n.requestId());
      w.string(id);
      return w.finish();
    }
    throw new IllegalStateException("invariant violated: not a log node frame: " + f.type());
  }

  private static ByteBuffer ledgerRequest(int type, int requestId, int ledger) {
    FieldWriter w = new FieldWriter(type, LEDGER_REQUEST_BYTES, 0);
    w.u32(requestId);
    w.u32(ledger);
    return w.finish();
  }

  private static ByteBuffer ledgerState(int type, int requestId, int ledger, long lac, long lastEntryId, boolean fenced) {
    FieldWriter w = new FieldWriter(type, LEDGER_STATE_BYTES, 0);
    w.u32(requestId);
    w.u32(ledger);
    w.i64("lac", lac, -1);
    w.i64("lastEntryId", lastEntryId, -1);
    w.u8(fenced ? LEDGER_STATE_FENCED : 0);
    return w.finish();
  }

  static Frame decode(int type, FieldReader r) {
    switch (type) {
      case AddEntry.TYPE: {
        int requestId = r.u32("requestId");
        int ledger = r.u32("ledger");
        long entryId = r.i64("entryId", 0);
        long lac = r.i64("lac", -1);
        int flags = r.flags("flags", ADD_ENTRY_RECOVERY);
        return new AddEntry(requestId, ledger, entryId, lac, (flags & ADD_ENTRY_RECOVERY) != 0, r.rest());
      }
      case EntryAdded.TYPE:
        return new EntryAdded(r.u32("requestId"), r.u32("ledger"), r.i64("entryId", 0));
      case ReadEntries.TYPE:
        return new ReadEntries(r.u32("requestId"), r.u32("ledger"), r.i64("firstEntryId", 0), r.u32("maxBytes"));
      case EntriesRead.TYPE:
        return new EntriesRead(r.u32("requestId"), r.u32("ledger"), r.i64("firstEntryId", 0), r.entries("entries"));
      case ReadLedgerState.TYPE:
        return new ReadLedgerState(r.u32("requestId"), r.u32("ledger"));
      case FenceLedger.TYPE:
        return new FenceLedger(r.u32("requestId"), r.u32("ledger"));
      case DeleteLedger.TYPE:
        return new DeleteLedger(r.u32("requestId"), r.u32("ledger"));
      case LedgerDeleted.TYPE:
        return new LedgerDeleted(r.u32("requestId"), r.u32("ledger"));
      case LedgerStateRead.TYPE: {
        int requestId = r.u32("requestId");
        int ledger = r.u32("ledger");
        long lac = r.i64("lac", -1);
        long lastEntryId = r.i64("lastEntryId", -1);
        int flags = r.flags("flags", LEDGER_STATE_FENCED);
        return new LedgerStateRead(requestId, ledger, lac, lastEntryId, (flags & LEDGER_STATE_FENCED) != 0);
      }
      case LedgerFenced.TYPE: {
        int requestId = r.u32("requestId");
        int ledger = r.u32("ledger");
        long lac = r.i64("lac", -1);
        long lastEntryId = r.i64("lastEntryId", -1);
        int flags = r.flags("flags", LEDGER_STATE_FENCED);
        return new LedgerFenced(requestId, ledger, lac, lastEntryId, (flags & LEDGER_STATE_FENCED) != 0);
      }
      case ReadNodeIdentity.TYPE:
        return new ReadNodeIdentity(r.u32("requestId"));
      case NodeIdentity.TYPE:
        return new NodeIdentity(r.u32("requestId"), r.string("instanceId", INSTANCE_ID_BYTES_MAX));
      default:
        throw new IllegalStateException("invariant violated: not a log node frame: " + type);
    }
  }
}
