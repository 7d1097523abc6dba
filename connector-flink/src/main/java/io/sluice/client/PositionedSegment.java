package io.sluice.client;

import java.io.Serializable;

/** A segment of a stream cut with its byte offset (an event boundary). */
public record PositionedSegment(SegmentRange range, long offset) implements Serializable {}
