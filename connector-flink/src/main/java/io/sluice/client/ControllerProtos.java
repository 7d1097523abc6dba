package io.sluice.client;

import io.sluice.client.proto.KeyRange;
import io.sluice.client.proto.SegmentOffset;
import java.util.ArrayList;
import java.util.List;

/**
 * Conversions between controller.proto messages and the client's value records. The proto classes
 * share names with the records, so they are spelt out in full here and nowhere else.
 */
final class ControllerProtos {
  private ControllerProtos() {}

  static SegmentRange range(io.sluice.client.proto.SegmentRange r) {
    return new SegmentRange(r.getSegment(), r.getNumber(), r.getEpoch(), r.getKeyStart(), r.getKeyEnd());
  }

  static List<SegmentRange> ranges(List<io.sluice.client.proto.SegmentRange> list) {
    List<SegmentRange> out = new ArrayList<>(list.size());
    for (io.sluice.client.proto.SegmentRange r : list) out.add(range(r));
    return List.copyOf(out);
  }

  /** The proto form of {@code cut}; null gives the empty cut (the head, or unbounded, as the call says). */
  static io.sluice.client.proto.StreamCut cut(StreamCut cut) {
    io.sluice.client.proto.StreamCut.Builder b = io.sluice.client.proto.StreamCut.newBuilder();
    if (cut == null) return b.build();
    for (StreamCut.Position p : cut.positions()) {
      b.addPositions(SegmentOffset.newBuilder().setSegment(p.segment()).setOffset(p.offset()));
    }
    return b.build();
  }

  /** The client form of a proto cut; null for the empty cut. */
  static StreamCut cut(io.sluice.client.proto.StreamCut cut) {
    if (cut.getPositionsCount() == 0) return null;
    List<StreamCut.Position> positions = new ArrayList<>(cut.getPositionsCount());
    for (SegmentOffset o : cut.getPositionsList()) positions.add(new StreamCut.Position(o.getSegment(), o.getOffset()));
    return StreamCut.of(positions);
  }

  static List<PositionedSegment> positioned(List<io.sluice.client.proto.PositionedSegment> list) {
    List<PositionedSegment> out = new ArrayList<>(list.size());
    for (io.sluice.client.proto.PositionedSegment p : list) out.add(new PositionedSegment(range(p.getRange()), p.getOffset()));
    return List.copyOf(out);
  }

  static List<Successor> successors(List<io.sluice.client.proto.Successor> list) {
    List<Successor> out = new ArrayList<>(list.size());
    for (io.sluice.client.proto.Successor s : list) out.add(new Successor(range(s.getRange()), s.getPredecessorsList()));
    return List.copyOf(out);
  }

  static List<SegmentSpan> spans(List<io.sluice.client.proto.SegmentSpan> list) {
    List<SegmentSpan> out = new ArrayList<>(list.size());
    for (io.sluice.client.proto.SegmentSpan s : list) out.add(new SegmentSpan(range(s.getRange()), s.getStartOffset(), s.getEndOffset()));
    return List.copyOf(out);
  }

  static List<KeyRange> keyRanges(List<double[]> ranges) {
    List<KeyRange> out = new ArrayList<>(ranges.size());
    for (double[] r : ranges) {
      if (r == null || r.length != 2) throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "a new key range is two numbers [keyStart, keyEnd)");
      out.add(KeyRange.newBuilder().setKeyStart(r[0]).setKeyEnd(r[1]).build());
    }
    return out;
  }

  static io.sluice.client.proto.ScalingPolicy policy(ScalingPolicy p) {
    io.sluice.client.proto.ScalingType type = switch (p.type()) {
      case FIXED -> io.sluice.client.proto.ScalingType.FIXED;
      case BY_EVENT_RATE -> io.sluice.client.proto.ScalingType.BY_EVENT_RATE;
      case BY_DATA_RATE -> io.sluice.client.proto.ScalingType.BY_DATA_RATE;
    };
    return io.sluice.client.proto.ScalingPolicy.newBuilder()
        .setType(type).setMinSegments(p.minSegments()).setTargetRate(p.targetRate()).setScaleFactor(p.scaleFactor()).build();
  }

  static TxnInfo txn(io.sluice.client.proto.CreateTransactionResponse r) {
    List<TxnSegment> segments = new ArrayList<>(r.getSegmentsCount());
    for (io.sluice.client.proto.TxnSegment s : r.getSegmentsList()) segments.add(new TxnSegment(range(s.getParent()), s.getTxnSegment()));
    return new TxnInfo(r.getTxnId(), r.getEpoch(), segments, r.getLeaseExpiresAtMs());
  }

  static List<OpenTxn> openTxns(List<io.sluice.client.proto.OpenTransaction> list) {
    List<OpenTxn> out = new ArrayList<>(list.size());
    for (io.sluice.client.proto.OpenTransaction t : list) out.add(new OpenTxn(t.getTxnId(), t.getTag(), t.getCreatedAtMs(), t.getLeaseExpiresAtMs()));
    return List.copyOf(out);
  }

  static TxnState state(io.sluice.client.proto.TxnState s) {
    return switch (s) {
      case OPEN -> TxnState.OPEN;
      case COMMITTING -> TxnState.COMMITTING;
      case COMMITTED -> TxnState.COMMITTED;
      case ABORTING -> TxnState.ABORTING;
      case ABORTED -> TxnState.ABORTED;
      case TXN_STATE_UNSPECIFIED, UNRECOGNIZED -> throw new SluiceException(ErrorCode.INTERNAL, "controller answered transaction state " + s);
    };
  }
}
