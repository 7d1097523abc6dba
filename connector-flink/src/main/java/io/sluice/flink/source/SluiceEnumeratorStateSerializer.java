package io.sluice.flink.source;

import io.sluice.client.SegmentRange;
import io.sluice.client.Successor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * Versioned bytes of {@link SluiceEnumeratorState}. Version 1:
 *
 * <pre>
 * u8 flags (bit 0 initialized, bit 1 bounded)
 * i32 n, n splits (as {@link SluiceSplitSerializer} version 1)
 * i32 n, n UTF released; i32 n, n UTF finished; i32 n, n UTF successorsKnown
 * i32 n, n waiting successors: range (UTF segment, i32 number, i32 epoch, f64 keyStart, f64 keyEnd), i32 m, m UTF predecessors
 * if bounded: i32 n, n times UTF segment, i64 endOffset (in segment name order, so equal states give equal bytes)
 * </pre>
 */
public final class SluiceEnumeratorStateSerializer implements SimpleVersionedSerializer<SluiceEnumeratorState> {
  public static final SluiceEnumeratorStateSerializer INSTANCE = new SluiceEnumeratorStateSerializer();
  static final int VERSION = 1;
  /** No list in a state is longer: a larger count is damage, not data (checked before allocating). */
  static final int ITEMS_MAX = 1 << 24;

  @Override
  public int getVersion() {
    return VERSION;
  }

  @Override
  public byte[] serialize(SluiceEnumeratorState s) throws IOException {
    DataOutputSerializer out = new DataOutputSerializer(256);
    out.writeByte((s.initialized() ? 1 : 0) | (s.bounds() != null ? 2 : 0));
    out.writeInt(s.unassigned().size());
    for (SluiceSplit split : s.unassigned()) SluiceSplitSerializer.write(split, out);
    writeStrings(s.released(), out);
    writeStrings(s.finished(), out);
    writeStrings(s.successorsKnown(), out);
    out.writeInt(s.waiting().size());
    for (Successor w : s.waiting()) {
      SluiceSplitSerializer.writeRange(w.range(), out);
      writeStrings(w.predecessors(), out);
    }
    if (s.bounds() != null) {
      out.writeInt(s.bounds().size());
      for (Map.Entry<String, Long> e : new java.util.TreeMap<>(s.bounds()).entrySet()) {
        out.writeUTF(e.getKey());
        out.writeLong(e.getValue());
      }
    }
    return out.getCopyOfBuffer();
  }

  @Override
  public SluiceEnumeratorState deserialize(int version, byte[] bytes) throws IOException {
    if (version != 1) throw new IOException("unknown Sluice enumerator state version " + version + " (this connector reads version 1)");
    DataInputDeserializer in = new DataInputDeserializer(bytes);
    int flags = in.readUnsignedByte();
    int n = count(in);
    List<SluiceSplit> unassigned = new ArrayList<>(Math.min(n, 1024));
    for (int i = 0; i < n; i++) unassigned.add(SluiceSplitSerializer.read(in));
    List<String> released = readStrings(in);
    List<String> finished = readStrings(in);
    List<String> successorsKnown = readStrings(in);
    n = count(in);
    List<Successor> waiting = new ArrayList<>(Math.min(n, 1024));
    for (int i = 0; i < n; i++) {
      SegmentRange range = SluiceSplitSerializer.readRange(in);
      waiting.add(new Successor(range, readStrings(in)));
    }
    Map<String, Long> bounds = null;
    if ((flags & 2) != 0) {
      n = count(in);
      bounds = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) bounds.put(in.readUTF(), in.readLong());
    }
    if (in.available() != 0) throw new IOException("Sluice enumerator state has " + in.available() + " bytes left over: not version 1");
    return new SluiceEnumeratorState((flags & 1) != 0, unassigned, released, finished, successorsKnown, waiting, bounds);
  }

  private static void writeStrings(List<String> list, DataOutputSerializer out) throws IOException {
    out.writeInt(list.size());
    for (String s : list) out.writeUTF(s);
  }

  private static List<String> readStrings(DataInputDeserializer in) throws IOException {
    int n = count(in);
    List<String> out = new ArrayList<>(Math.min(n, 1024));
    for (int i = 0; i < n; i++) out.add(in.readUTF());
    return out;
  }

  private static int count(DataInputDeserializer in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > ITEMS_MAX || n > in.available()) throw new IOException("Sluice enumerator state holds a list of " + n + " items: the bytes are damaged");
    return n;
  }
}
