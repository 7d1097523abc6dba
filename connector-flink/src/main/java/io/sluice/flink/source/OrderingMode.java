package io.sluice.flink.source;

/**
 * When a successor segment (after a split or merge of the stream) may be read.
 *
 * <p>Sluice keeps each routing key's events in write order across scaling: a key's events move to a
 * successor only after its predecessor was sealed. The source keeps that order downstream only if
 * no record of a predecessor can be overtaken by a record of its successor, which may be read by
 * another subtask.
 */
public enum OrderingMode {
  /**
   * A successor is read only when every predecessor was read to its end and a completed checkpoint
   * covered those ends: the predecessors' last records have passed every operator of the job. Per
   * key order holds end to end. Costs up to one checkpoint interval of delay per scaling event for
   * the keys of the new segments. Needs checkpointing in STREAMING mode: without checkpoints the
   * successors are never read (the enumerator logs a warning after 60 s of waiting). The fence
   * relies on aligned checkpoints: with unaligned checkpoints (or aligned ones that time out into
   * unaligned) a checkpoint can complete with the predecessors' last records still in an
   * operator's input buffers, and per-key order may break around a scaling event.
   */
  CHECKPOINTED,
  /**
   * A successor is read as soon as every predecessor was read to its end. Its records can overtake
   * the predecessors' last records in flight to another subtask: per-key order may break around a
   * scaling event. For bounded reads in BATCH mode (no checkpoints) and jobs that do not need order.
   */
  RELAXED
}
