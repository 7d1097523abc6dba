package io.sluice.flink.source;

/**
 * One event as the source read it: where it came from and its bytes.
 *
 * @param stream {@code scope/stream}
 * @param segment the qualified segment name
 * @param offset the event's offset in the segment (the start of its length prefix)
 * @param payload the event's bytes (the deserializer may keep them)
 */
public record SluiceEvent(String stream, String segment, long offset, byte[] payload) {}
