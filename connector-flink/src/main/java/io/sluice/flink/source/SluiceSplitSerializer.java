package io.sluice.flink.source;

import io.sluice.client.SegmentRange;
import java.io.IOException;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * Versioned bytes of a {@link SluiceSplit}. Version 1:
 *
 * <pre>
 * UTF stream, UTF segment, i32 number, i32 epoch, f64 keyStart, f64 keyEnd,
 * i64 offset, i64 endOffset (-1: none), u8 flags (bit 0 finished)
 * </pre>
 *
 * A later version adds a new case to {@link #deserialize}; version 1 stays readable for savepoints.
 */
public final class SluiceSplitSerializer implements SimpleVersionedSerializer<SluiceSplit> {
  public static final SluiceSplitSerializer INSTANCE = new SluiceSplitSerializer();
  static final int VERSION = 1;

  @Override
  public int getVersion() {
    return VERSION;
  }

  @Override
  public byte[] serialize(SluiceSplit split) throws IOException {
    DataOutputSerializer out = new DataOutputSerializer(96);
    write(split, out);
    return out.getCopyOfBuffer();
  }

  @Override
  public SluiceSplit deserialize(int version, byte[] bytes) throws IOException {
    if (version != 1) throw new IOException("unknown SluiceSplit serializer version " + version + " (this connector reads version 1)");
    DataInputDeserializer in = new DataInputDeserializer(bytes);
    SluiceSplit split = read(in);
    if (in.available() != 0) throw new IOException("SluiceSplit bytes have " + in.available() + " bytes left over: not a version 1 split");
    return split;
  }

  static void write(SluiceSplit split, DataOutputSerializer out) throws IOException {
    out.writeUTF(split.stream());
    writeRange(split.range(), out);
    out.writeLong(split.offset());
    out.writeLong(split.endOffset());
    out.writeByte(split.finished() ? 1 : 0);
  }

  static SluiceSplit read(DataInputDeserializer in) throws IOException {
    String stream = in.readUTF();
    SegmentRange range = readRange(in);
    long offset = in.readLong();
    long endOffset = in.readLong();
    int flags = in.readUnsignedByte();
    try {
      return new SluiceSplit(stream, range, offset, endOffset, (flags & 1) != 0);
    } catch (IllegalArgumentException e) {
      throw new IOException("SluiceSplit bytes do not hold a valid split: " + e.getMessage(), e);
    }
  }

  static void writeRange(SegmentRange r, DataOutputSerializer out) throws IOException {
    out.writeUTF(r.segment());
    out.writeInt(r.number());
    out.writeInt(r.epoch());
    out.writeDouble(r.keyStart());
    out.writeDouble(r.keyEnd());
  }

  static SegmentRange readRange(DataInputDeserializer in) throws IOException {
    return new SegmentRange(in.readUTF(), in.readInt(), in.readInt(), in.readDouble(), in.readDouble());
  }
}
