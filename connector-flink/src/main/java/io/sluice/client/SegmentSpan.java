package io.sluice.client;

import java.io.Serializable;

/** The byte range of a segment that lies between two stream cuts; {@code endOffset} -1: up to the segment's end. */
public record SegmentSpan(SegmentRange range, long startOffset, long endOffset) implements Serializable {}
