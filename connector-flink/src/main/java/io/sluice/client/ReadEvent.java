package io.sluice.client;

import java.nio.ByteBuffer;

/**
 * One event read from a segment: its payload (a read-only buffer the caller may keep), the offset of
 * its u32 length prefix, and the offset just after it (where the next event starts).
 */
public record ReadEvent(ByteBuffer payload, long offset, long nextOffset) {}
