package io.sluice.client;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names of scopes, streams and segments, with the rules of {@code common/names.ts}. A qualified
 * segment name is {@code scope/stream/N.#epoch.E}, N and E u32 integers written without leading
 * zeros; a transaction segment adds {@code #txn.<32 lower-case hex digits>}. Bad names raise
 * {@link SluiceException} INVALID_NAME saying what is allowed.
 */
public final class SegmentNames {
  private SegmentNames() {}

  /** Longest scope or stream name in UTF-8 bytes (nameBytesMax). */
  public static final int NAME_BYTES_MAX = 255;
  /** Longest segment name in UTF-8 bytes (segmentNameBytesMax). */
  public static final int SEGMENT_NAME_BYTES_MAX = 1024;
  /** Largest segment number and epoch (u32). */
  public static final long SEGMENT_NUMBER_MAX = 0xffff_ffffL;

  private static final int QUOTED_CHARS_MAX_DEFAULT = 64;
  private static final int SEGMENT_NAME_QUOTED_CHARS_MAX = 128;
  private static final Pattern NAME = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9_.-]*$");
  private static final Pattern SEGMENT = Pattern.compile(
      "^([^/]+)/([^/]+)/(0|[1-9][0-9]{0,9})\\.#epoch\\.(0|[1-9][0-9]{0,9})(?:#txn\\.([0-9a-f]{32}))?$");

  /**
   * A parsed segment name. {@code number} and {@code epoch} are u32 values held in ints (read them
   * with {@link Integer#toUnsignedLong}); {@code txn} is null unless it is a transaction segment.
   */
  public record Parsed(String scope, String stream, int number, int epoch, String txn) {}

  /** {@code scope/stream/number.#epoch.epoch}; number and epoch are read unsigned. */
  public static String segment(String scope, String stream, int number, int epoch) {
    return scope + "/" + stream + "/" + Integer.toUnsignedString(number) + ".#epoch." + Integer.toUnsignedString(epoch);
  }

  /** Checks a scope or stream name ({@code kind} is "scope" or "stream"); INVALID_NAME if it is not one. */
  public static String validateName(String kind, String name) {
    if (!withinBytes(name, NAME_BYTES_MAX) || name.isEmpty() || !NAME.matcher(name).matches()) {
      throw new SluiceException(ErrorCode.INVALID_NAME, "invalid " + kind + " name " + quoteBounded(name, QUOTED_CHARS_MAX_DEFAULT)
          + ": use 1-" + NAME_BYTES_MAX + " characters from A-Z a-z 0-9 _ . -, starting with a letter or digit");
    }
    return name;
  }

  /** Parses {@code scope/stream} into its two validated names; INVALID_NAME if it is not one. */
  public static String[] parseStreamName(String qualified) {
    String[] parts = withinBytes(qualified, 2 * NAME_BYTES_MAX + 1) ? qualified.split("/", -1) : new String[0];
    if (parts.length != 2) {
      throw new SluiceException(ErrorCode.INVALID_NAME, "invalid stream " + quoteBounded(qualified, QUOTED_CHARS_MAX_DEFAULT)
          + ": write it as scope/stream, each 1-" + NAME_BYTES_MAX + " characters");
    }
    return new String[] {validateName("scope", parts[0]), validateName("stream", parts[1])};
  }

  /** Parses a qualified segment name (a transaction segment too); INVALID_NAME when it is not one. */
  public static Parsed parse(String name) {
    // The length first: the pattern is not run over a name longer than any segment name can be.
    Matcher m = withinBytes(name, SEGMENT_NAME_BYTES_MAX) ? SEGMENT.matcher(name) : null;
    if (m == null || !m.matches() || Long.parseLong(m.group(3)) > SEGMENT_NUMBER_MAX || Long.parseLong(m.group(4)) > SEGMENT_NUMBER_MAX) {
      throw new SluiceException(ErrorCode.INVALID_NAME, "invalid segment name " + quoteBounded(name, SEGMENT_NAME_QUOTED_CHARS_MAX)
          + ": expected scope/stream/N.#epoch.E (N and E integers up to " + SEGMENT_NUMBER_MAX + ") of at most "
          + SEGMENT_NAME_BYTES_MAX + " bytes, optionally followed by #txn.<32 hex digits>");
    }
    String scope = validateName("scope", m.group(1));
    String stream = validateName("stream", m.group(2));
    return new Parsed(scope, stream, (int) Long.parseLong(m.group(3)), (int) Long.parseLong(m.group(4)), m.group(5));
  }

  /** The parent of a transaction segment, or the name itself for any other segment. */
  public static String parent(String name) {
    int i = name.indexOf("#txn.");
    return i < 0 ? name : name.substring(0, i);
  }

  /** True when `value` is a string of at most `bytesMax` UTF-8 bytes (the char count is checked first). */
  private static boolean withinBytes(String value, int bytesMax) {
    return value != null && value.length() <= bytesMax && Utf8.length(value) <= bytesMax;
  }

  /**
   * `value` as a JSON string literal cut to `charsMax` chars with an ellipsis and its full length,
   * as quoteBounded of common/quote.ts, so an error never grows with the input it quotes.
   */
  static String quoteBounded(String value, int charsMax) {
    if (value == null) return "undefined";
    if (value.length() <= charsMax) return jsonString(value);
    int end = charsMax;
    if (Character.isHighSurrogate(value.charAt(end - 1))) end--;
    return jsonString(value.substring(0, end) + "\u2026") + " (" + value.length() + " characters)";
  }

  /** `s` as JSON.stringify writes it. */
  static String jsonString(String s) {
    StringBuilder out = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          boolean paired = Character.isHighSurrogate(c) ? i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))
              : Character.isLowSurrogate(c) && i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
          if (c < 0x20 || (Character.isSurrogate(c) && !paired)) out.append(String.format("\\u%04x", (int) c));
          else out.append(c);
        }
      }
    }
    return out.append('"').toString();
  }
}
