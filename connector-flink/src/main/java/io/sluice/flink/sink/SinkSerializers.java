package io.sluice.flink.sink;

import java.io.IOException;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * The versioned serializers of the sink's checkpointed state: committables (the committer's state)
 * and writer states. Version 1 of each; a version this code does not know fails the restore with a
 * message naming it, rather than misreading the bytes.
 */
final class SinkSerializers {
  private SinkSerializers() {}

  static final class Committables implements SimpleVersionedSerializer<SluiceCommittable> {
    static final int VERSION = 1;

    @Override
    public int getVersion() {
      return VERSION;
    }

    @Override
    public byte[] serialize(SluiceCommittable c) throws IOException {
      DataOutputSerializer out = new DataOutputSerializer(96);
      out.writeUTF(c.stream());
      out.writeUTF(c.txnId());
      out.writeInt(c.subtask());
      out.writeLong(c.checkpointId());
      out.writeLong(c.events());
      out.writeLong(c.bytes());
      return out.getCopyOfBuffer();
    }

    @Override
    public SluiceCommittable deserialize(int version, byte[] bytes) throws IOException {
      checkVersion("committable", version, VERSION);
      DataInputDeserializer in = new DataInputDeserializer(bytes);
      SluiceCommittable c = new SluiceCommittable(in.readUTF(), in.readUTF(), in.readInt(), in.readLong(), in.readLong(), in.readLong());
      checkConsumed("committable", in);
      return c;
    }
  }

  static final class WriterStates implements SimpleVersionedSerializer<SluiceWriterState> {
    static final int VERSION = 1;

    @Override
    public int getVersion() {
      return VERSION;
    }

    @Override
    public byte[] serialize(SluiceWriterState s) throws IOException {
      DataOutputSerializer out = new DataOutputSerializer(64);
      out.writeUTF(s.tagPrefix());
      out.writeInt(s.subtask());
      return out.getCopyOfBuffer();
    }

    @Override
    public SluiceWriterState deserialize(int version, byte[] bytes) throws IOException {
      checkVersion("writer state", version, VERSION);
      DataInputDeserializer in = new DataInputDeserializer(bytes);
      SluiceWriterState s = new SluiceWriterState(in.readUTF(), in.readInt());
      checkConsumed("writer state", in);
      return s;
    }
  }

  private static void checkVersion(String what, int version, int known) throws IOException {
    if (version != known) throw new IOException("Sluice sink " + what + " of serializer version " + version + " cannot be read: this connector reads version " + known);
  }

  private static void checkConsumed(String what, DataInputDeserializer in) throws IOException {
    if (in.available() != 0) throw new IOException("Sluice sink " + what + " has " + in.available() + " bytes after its fields: not written by this connector");
  }
}
