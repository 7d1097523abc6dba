package io.sluice.flink.source;

import java.io.IOException;
import java.io.ObjectStreamException;
import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * The events between Sluice source readers and their enumerator. Flink ships a {@link SourceEvent}
 * with Java serialization; each event here replaces itself by {@link Versioned} bytes (a version and
 * the fields written by hand), so the format is ours and versioned like the split and state.
 *
 * <p>Version 1: {@code u8 kind (1 finished, 2 acknowledged), i32 n, n times (UTF segment, and for
 * kind 1 i64 endOffset)}.
 */
public final class SourceEvents {
  private SourceEvents() {}

  static final int VERSION = 1;
  private static final int KIND_FINISHED = 1;
  private static final int KIND_ACKNOWLEDGED = 2;
  private static final int ITEMS_MAX = 1 << 20;

  /** Reader -> enumerator: these segments were read to their end (at these offsets), and every record of them was emitted. */
  public record SegmentsFinished(List<String> segments, List<Long> endOffsets) implements SourceEvent {
    public SegmentsFinished {
      segments = List.copyOf(segments);
      endOffsets = List.copyOf(endOffsets);
      if (segments.size() != endOffsets.size()) throw new IllegalArgumentException("one end offset per segment");
    }

    @Serial
    private Object writeReplace() throws ObjectStreamException {
      return new Versioned(VERSION, serialize(this));
    }
  }

  /** Enumerator -> readers: a completed checkpoint holds these reports; readers drop their markers. */
  public record FinishedAcknowledged(List<String> segments) implements SourceEvent {
    public FinishedAcknowledged {
      segments = List.copyOf(segments);
    }

    @Serial
    private Object writeReplace() throws ObjectStreamException {
      return new Versioned(VERSION, serialize(this));
    }
  }

  /** What travels: a version and bytes; read back into the event it replaced. */
  record Versioned(int version, byte[] bytes) implements Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    @Serial
    private Object readResolve() throws ObjectStreamException {
      try {
        return deserialize(version, bytes);
      } catch (IOException e) {
        java.io.InvalidObjectException bad = new java.io.InvalidObjectException(e.getMessage());
        bad.initCause(e);
        throw bad;
      }
    }
  }

  /** The version 1 bytes of a source event. */
  public static byte[] serialize(SourceEvent event) {
    try {
      DataOutputSerializer out = new DataOutputSerializer(64);
      if (event instanceof SegmentsFinished f) {
        out.writeByte(KIND_FINISHED);
        out.writeInt(f.segments().size());
        for (int i = 0; i < f.segments().size(); i++) {
          out.writeUTF(f.segments().get(i));
          out.writeLong(f.endOffsets().get(i));
        }
      } else if (event instanceof FinishedAcknowledged a) {
        out.writeByte(KIND_ACKNOWLEDGED);
        out.writeInt(a.segments().size());
        for (String s : a.segments()) out.writeUTF(s);
      } else {
        throw new IllegalArgumentException("not a Sluice source event: " + event);
      }
      return out.getCopyOfBuffer();
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory failed", e);
    }
  }

  /** The event {@code bytes} of {@code version} hold. */
  public static SourceEvent deserialize(int version, byte[] bytes) throws IOException {
    if (version != 1) throw new IOException("unknown Sluice source event version " + version + " (this connector reads version 1)");
    DataInputDeserializer in = new DataInputDeserializer(bytes);
    int kind = in.readUnsignedByte();
    int n = in.readInt();
    if (n < 0 || n > ITEMS_MAX || n > in.available()) throw new IOException("Sluice source event holds " + n + " items: the bytes are damaged");
    List<String> segments = new ArrayList<>(n);
    List<Long> ends = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      segments.add(in.readUTF());
      if (kind == KIND_FINISHED) ends.add(in.readLong());
    }
    if (in.available() != 0) throw new IOException("Sluice source event has " + in.available() + " bytes left over");
    return switch (kind) {
      case KIND_FINISHED -> new SegmentsFinished(segments, ends);
      case KIND_ACKNOWLEDGED -> new FinishedAcknowledged(segments);
      default -> throw new IOException("unknown Sluice source event kind " + kind);
    };
  }
}
