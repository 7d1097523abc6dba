package io.sluice.client;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hashing exactly as {@code common/hash.ts}: MurmurHash3 (x86, 32-bit) of UTF-8 bytes places
 * routing keys on the key space [0, 1) and segments on containers. Stored data depends on it, so it
 * must never change; proto/vectors/routing-hash.json proves Java and TypeScript agree.
 */
public final class RoutingHash {
  private RoutingHash() {}

  private static final double TWO_POW_32 = 4294967296.0;
  private static final int CONTAINER_SEED = 0x5eed;
  /** JavaScript's `.` (any char but a line terminator) and `$` (end of input only), spelled out for Java. */
  private static final Pattern PLACEMENT = Pattern.compile("^([^\\n\\r\\u2028\\u2029]*\\.#epoch\\.)[0-9]+(?:#txn\\.[0-9a-f]{32})?\\z");

  private static int mix32(int k) {
    k *= 0xcc9e2d51;
    k = Integer.rotateLeft(k, 15);
    return k * 0x1b873593;
  }

  /** MurmurHash3 x86 32-bit of `data`; the result is unsigned (compare with Integer.toUnsignedLong). */
  public static int murmur3x86_32(byte[] data, int seed) {
    int h = seed;
    int blocks = data.length & ~3;
    for (int i = 0; i < blocks; i += 4) {
      int k = (data[i] & 0xff) | ((data[i + 1] & 0xff) << 8) | ((data[i + 2] & 0xff) << 16) | ((data[i + 3] & 0xff) << 24);
      h ^= mix32(k);
      h = Integer.rotateLeft(h, 13);
      h = h * 5 + 0xe6546b64;
    }
    int tail = data.length & 3;
    if (tail > 0) {
      int k = 0;
      if (tail == 3) k ^= (data[blocks + 2] & 0xff) << 16;
      if (tail >= 2) k ^= (data[blocks + 1] & 0xff) << 8;
      k ^= data[blocks] & 0xff;
      h ^= mix32(k);
    }
    h ^= data.length;
    h ^= h >>> 16;
    h *= 0x85ebca6b;
    h ^= h >>> 13;
    h *= 0xc2b2ae35;
    h ^= h >>> 16;
    return h;
  }

  /** Position of a routing key on the key space, in [0, 1): its UTF-8 hash (seed 0) over 2^32. */
  public static double keyPosition(String routingKey) {
    return Integer.toUnsignedLong(murmur3x86_32(Utf8.encode(routingKey), 0)) / TWO_POW_32;
  }

  /**
   * The container a qualified segment name belongs to, as containerOf of common/hash.ts: the name
   * is hashed with its epoch set to 0 and without a transaction part, so a transaction segment and a
   * rolling-commit duplicate live with their parent. Any other string hashes as is.
   */
  public static int containerOf(String segmentName, int containerCount) {
    if (containerCount < 1) throw new IllegalArgumentException("containerCount " + containerCount + " is below 1");
    Matcher m = PLACEMENT.matcher(segmentName);
    String key = m.find() ? m.group(1) + "0" : segmentName;
    return (int) (Integer.toUnsignedLong(murmur3x86_32(Utf8.encode(key), CONTAINER_SEED)) % containerCount);
  }
}
