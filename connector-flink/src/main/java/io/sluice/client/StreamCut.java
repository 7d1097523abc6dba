package io.sluice.client;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.zip.CRC32;

/**
 * A stream cut: one offset in each of a set of segments of one stream, in the order given. Its text
 * ({@code sc1.} + unpadded base64url) and bytes are those of {@code client/stream-cut.ts}, so a cut
 * printed by the sluice command is read here and the other way round (proved by
 * proto/vectors/stream-cuts.json). Bytes, format version 1, big-endian: u8 version = 1, u16 length
 * and UTF-8 "scope/stream", u16 count (1 to {@link #POSITIONS_MAX}), count times (u32 segment
 * number, u32 epoch, u64 offset at most 2^53-1), u32 CRC-32 of every byte before it.
 *
 * <p>Every malformed input raises {@link SluiceException} INVALID_ARGUMENT saying what is wrong.
 * Whether a cut fits its stream only the controller can tell, when the cut is used.
 */
public final class StreamCut implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Most positions in a cut (streamCutPositionsMax = 4 * streamSegmentsMax). */
  public static final int POSITIONS_MAX = 4 * 1024;
  /** Largest offset (JavaScript's largest safe integer). */
  public static final long OFFSET_MAX = (1L << 53) - 1;

  private static final int BYTES_VERSION = 1;
  private static final String TEXT_PREFIX = "sc1.";
  private static final int POSITION_BYTES = 16;
  private static final int CRC_BYTES = 4;
  private static final int STREAM_NAME_BYTES_MAX = 2 * SegmentNames.NAME_BYTES_MAX + 1;
  private static final int BYTES_MIN = 1 + 2 + 3 + 2 + POSITION_BYTES + CRC_BYTES;
  private static final int BYTES_MAX = 1 + 2 + STREAM_NAME_BYTES_MAX + 2 + POSITIONS_MAX * POSITION_BYTES + CRC_BYTES;
  private static final int TEXT_LENGTH_MAX = TEXT_PREFIX.length() + (BYTES_MAX * 4 + 2) / 3;
  private static final Pattern BASE64URL = Pattern.compile("^[A-Za-z0-9_-]*$");

  /** One offset in one segment (a qualified segment name, not a transaction segment). */
  public record Position(String segment, long offset) implements Serializable {}

  private final String scope;
  private final String stream;
  private final List<Position> positions;
  /** Segment number and epoch per position, as checked. */
  private final int[] numbers;
  private final int[] epochs;

  private StreamCut(String scope, String stream, List<Position> positions, int[] numbers, int[] epochs) {
    this.scope = scope;
    this.stream = stream;
    this.positions = positions;
    this.numbers = numbers;
    this.epochs = epochs;
  }

  /**
   * The cut of `positions`, checked like checkCut of client/stream-cut.ts: 1 to POSITIONS_MAX
   * positions, each a segment (not a transaction segment) of one stream, once, at an offset in
   * [0, 2^53-1]. INVALID_ARGUMENT otherwise.
   */
  public static StreamCut of(List<Position> positions) {
    return check(positions, "stream cut");
  }

  private static StreamCut check(List<Position> positions, String what) {
    if (positions == null) throw invalid(what + " must be an object with a positions array");
    if (positions.isEmpty()) throw invalid(what + " has no positions: a cut names one offset in each of its segments");
    if (positions.size() > POSITIONS_MAX) throw invalid(what + " has " + positions.size() + " positions; at most " + POSITIONS_MAX + " are allowed");
    String scope = null;
    String stream = null;
    int[] numbers = new int[positions.size()];
    int[] epochs = new int[positions.size()];
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < positions.size(); i++) {
      Position p = positions.get(i);
      if (p == null || p.segment() == null) throw invalid(what + ": each position needs a segment name (a string)");
      SegmentNames.Parsed name;
      try {
        name = SegmentNames.parse(p.segment());
      } catch (SluiceException e) {
        throw new SluiceException(ErrorCode.INVALID_ARGUMENT, what + ": " + e.getMessage(), e);
      }
      if (name.txn() != null) throw invalid(what + ": " + p.segment() + " is a transaction segment; a cut names stream segments");
      if (scope == null) {
        scope = name.scope();
        stream = name.stream();
      } else if (!scope.equals(name.scope()) || !stream.equals(name.stream())) {
        throw invalid(what + " names segments of two streams, " + scope + "/" + stream + " and " + name.scope() + "/" + name.stream()
            + "; a cut belongs to one stream");
      }
      if (p.offset() < 0 || p.offset() > OFFSET_MAX) {
        throw invalid(what + ": offset " + p.offset() + " of " + p.segment() + " is not an integer in [0, 2^53-1]");
      }
      if (!seen.add(p.segment())) throw invalid(what + " names " + p.segment() + " twice; a cut holds one offset per segment");
      numbers[i] = name.number();
      epochs[i] = name.epoch();
    }
    return new StreamCut(scope, stream, List.copyOf(positions), numbers, epochs);
  }

  private static SluiceException invalid(String message) {
    return new SluiceException(ErrorCode.INVALID_ARGUMENT, message);
  }

  public String scope() {
    return scope;
  }

  public String stream() {
    return stream;
  }

  /** The positions in the order the cut was made with. */
  public List<Position> positions() {
    return positions;
  }

  /** The binary form (see the class comment). */
  public byte[] toBytes() {
    byte[] name = Utf8.encode(scope + "/" + stream);
    ByteBuffer out = ByteBuffer.allocate(1 + 2 + name.length + 2 + positions.size() * POSITION_BYTES + CRC_BYTES);
    out.put((byte) BYTES_VERSION).putShort((short) name.length).put(name).putShort((short) positions.size());
    for (int i = 0; i < positions.size(); i++) {
      out.putInt(numbers[i]).putInt(epochs[i]).putLong(positions.get(i).offset());
    }
    CRC32 crc = new CRC32();
    crc.update(out.array(), 0, out.position());
    out.putInt((int) crc.getValue());
    if (out.hasRemaining()) throw new IllegalStateException("invariant violated: a cut wrote " + out.position() + " of " + out.capacity() + " bytes");
    return out.array();
  }

  /** The cut `bytes` hold (made by toBytes or streamCutToBytes); INVALID_ARGUMENT saying what is wrong. */
  public static StreamCut fromBytes(byte[] bytes) {
    if (bytes == null) throw invalid("stream cut bytes must be a byte array");
    if (bytes.length < 1) throw bad("there are none");
    int version = Byte.toUnsignedInt(bytes[0]);
    if (version != BYTES_VERSION) {
      throw bad("format version " + version + " is unknown; this client reads version " + BYTES_VERSION
          + " (was the cut made by a newer Sluice, or is this not a cut?)");
    }
    if (bytes.length < BYTES_MIN) throw bad(bytes.length + " bytes is too short for a cut (at least " + BYTES_MIN + "); was it cut short?");
    if (bytes.length > BYTES_MAX) throw bad(bytes.length + " bytes is longer than any cut (at most " + BYTES_MAX + ")");
    int bodyLength = bytes.length - CRC_BYTES;
    CRC32 crc = new CRC32();
    crc.update(bytes, 0, bodyLength);
    ByteBuffer body = ByteBuffer.wrap(bytes, 0, bodyLength);
    if ((int) crc.getValue() != ByteBuffer.wrap(bytes).getInt(bodyLength)) {
      throw bad("the checksum does not match: the cut was damaged, cut short or edited");
    }
    int at = 1;
    int streamBytes = Short.toUnsignedInt(body.getShort(at));
    at += 2;
    if (streamBytes > STREAM_NAME_BYTES_MAX || at + streamBytes + 2 > bodyLength) {
      throw bad("its stream name length " + streamBytes + " does not fit the " + bodyLength + " bytes");
    }
    // Lenient like Buffer.toString: bad UTF-8 becomes U+FFFD and then fails the name check.
    String qualified = new String(bytes, at, streamBytes, java.nio.charset.StandardCharsets.UTF_8);
    at += streamBytes;
    String[] names;
    try {
      names = SegmentNames.parseStreamName(qualified);
    } catch (SluiceException e) {
      throw bad(e.getMessage());
    }
    int count = Short.toUnsignedInt(body.getShort(at));
    at += 2;
    if (count < 1 || count > POSITIONS_MAX) throw bad("it holds " + count + " positions; a cut holds 1 to " + POSITIONS_MAX);
    if (bodyLength - at != count * POSITION_BYTES) {
      throw bad(count + " positions need " + count * POSITION_BYTES + " bytes, but " + (bodyLength - at) + " follow");
    }
    List<Position> positions = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int number = body.getInt(at);
      int epoch = body.getInt(at + 4);
      long offset = body.getLong(at + 8);
      at += POSITION_BYTES;
      if (offset < 0 || offset > OFFSET_MAX) throw bad("position " + i + " has an offset above 2^53-1");
      positions.add(new Position(SegmentNames.segment(names[0], names[1], number, epoch), offset));
    }
    return check(positions, "the decoded cut");
  }

  private static SluiceException bad(String why) {
    return invalid("stream cut bytes are not a valid cut: " + why);
  }

  /** The text form: {@code sc1.} and the bytes in unpadded base64url. */
  public String toText() {
    return TEXT_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(toBytes());
  }

  /** The cut `text` holds (surrounding whitespace ignored); INVALID_ARGUMENT saying what is wrong. */
  public static StreamCut fromText(String text) {
    if (text == null) throw invalid("a stream cut's text must be a string");
    String t = trimJs(text);
    String shown = SegmentNames.jsonString(t.length() > 40 ? t.substring(0, 40) + "..." : t);
    if (!t.startsWith(TEXT_PREFIX)) {
      throw invalid(shown + " is not a stream cut: a cut's text starts with \"" + TEXT_PREFIX + "\" (as streamCutToText and the sluice command print it)");
    }
    if (t.length() > TEXT_LENGTH_MAX) throw invalid("stream cut text of " + t.length() + " characters is longer than any cut (at most " + TEXT_LENGTH_MAX + ")");
    String body = t.substring(TEXT_PREFIX.length());
    if (!BASE64URL.matcher(body).matches()) {
      throw invalid("stream cut text " + shown + " holds characters outside base64url (A-Z a-z 0-9 - _) after \"" + TEXT_PREFIX + "\"; was it changed or wrapped?");
    }
    byte[] bytes;
    try {
      bytes = Base64.getUrlDecoder().decode(body);
    } catch (IllegalArgumentException e) {
      // A length of 4n+1 characters cannot be whole base64: Node drops the stray character, Java refuses.
      throw new SluiceException(ErrorCode.INVALID_ARGUMENT, "stream cut text " + shown + " is not whole base64url: was it cut short?", e);
    }
    if (!Base64.getUrlEncoder().withoutPadding().encodeToString(bytes).equals(body)) {
      throw invalid("stream cut text " + shown + " is not whole base64url: was it cut short?");
    }
    return fromBytes(bytes);
  }

  /** String.prototype.trim: strips JavaScript whitespace and line terminators, not only chars <= ' '. */
  private static String trimJs(String s) {
    int start = 0;
    int end = s.length();
    while (start < end && isJsSpace(s.charAt(start))) start++;
    while (end > start && isJsSpace(s.charAt(end - 1))) end--;
    return s.substring(start, end);
  }

  private static boolean isJsSpace(char c) {
    return c == '\t' || c == '\n' || c == 0x0b || c == '\f' || c == '\r' || c == ' ' || c == 0xa0 || c == 0xfeff
        || c == 0x2028 || c == 0x2029 || Character.getType(c) == Character.SPACE_SEPARATOR;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StreamCut other && positions.equals(other.positions);
  }

  @Override
  public int hashCode() {
    return positions.hashCode();
  }

  /** The text form. */
  @Override
  public String toString() {
    return toText();
  }
}
