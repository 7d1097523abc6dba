package io.sluice.client;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 exactly as the TypeScript side does it. Encoding replaces an unpaired surrogate with
 * U+FFFD (bytes EF BF BD) as Node's Buffer and TextEncoder do, where Java's own encoder writes
 * '?': routing-key hashes and frame strings must come out byte-identical. Decoding is strict
 * (malformed input throws), like a fatal TextDecoder, and keeps a leading byte order mark.
 */
public final class Utf8 {
  private Utf8() {}

  /** The UTF-8 byte length {@link #encode} would produce, without allocating. */
  public static int length(String s) {
    int bytes = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }

  /** `s` in UTF-8, an unpaired surrogate written as U+FFFD. */
  public static byte[] encode(String s) {
    byte[] out = new byte[length(s)];
    int at = 0;
    for (int i = 0; i < s.length(); i++) {
      int c = s.charAt(i);
      if (Character.isHighSurrogate((char) c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        c = Character.toCodePoint((char) c, s.charAt(++i));
      } else if (Character.isSurrogate((char) c)) {
        c = 0xfffd;
      }
      if (c < 0x80) {
        out[at++] = (byte) c;
      } else if (c < 0x800) {
        out[at++] = (byte) (0xc0 | (c >> 6));
        out[at++] = (byte) (0x80 | (c & 0x3f));
      } else if (c < 0x10000) {
        out[at++] = (byte) (0xe0 | (c >> 12));
        out[at++] = (byte) (0x80 | ((c >> 6) & 0x3f));
        out[at++] = (byte) (0x80 | (c & 0x3f));
      } else {
        out[at++] = (byte) (0xf0 | (c >> 18));
        out[at++] = (byte) (0x80 | ((c >> 12) & 0x3f));
        out[at++] = (byte) (0x80 | ((c >> 6) & 0x3f));
        out[at++] = (byte) (0x80 | (c & 0x3f));
      }
    }
    if (at != out.length) throw new IllegalStateException("invariant violated: UTF-8 wrote " + at + " of " + out.length);
    return out;
  }

  /** Decodes `length` bytes at absolute index `from` of `buf`; throws on malformed UTF-8. */
  public static String decodeStrict(ByteBuffer buf, int from, int length) throws CharacterCodingException {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    CharBuffer chars = decoder.decode(buf.duplicate().limit(from + length).position(from));
    return chars.toString();
  }
}
