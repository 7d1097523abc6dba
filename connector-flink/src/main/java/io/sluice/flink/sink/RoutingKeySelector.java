package io.sluice.flink.sink;

import java.io.Serializable;

/**
 * Picks the routing key of an element written by {@link SluiceSink}: the events of one key go to one
 * segment at a time, in the order the sink's subtask wrote them. A null key spreads the event over
 * the segments at random (no order among keyless events).
 */
@FunctionalInterface
public interface RoutingKeySelector<T> extends Serializable {
  String routingKey(T element);
}
