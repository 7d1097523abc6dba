package io.sluice.flink.sink;

/**
 * One transaction a sink subtask wrote for a checkpoint, handed to the committer: it names the
 * transaction and what is at stake if it cannot be committed (events and payload bytes).
 *
 * @param stream scope/stream the transaction belongs to
 * @param txnId the controller's transaction id
 * @param subtask the writer subtask that wrote it
 * @param checkpointId the checkpoint it was meant for: opened after checkpoint {@code checkpointId - 1}
 *     (checkpoint ids continue past a restore, so the one that commits it may be later)
 * @param events events written into it
 * @param bytes payload bytes written into it
 */
public record SluiceCommittable(String stream, String txnId, int subtask, long checkpointId, long events, long bytes) {
  /** How a person reads it in an error: transaction, stream, and what it holds. */
  public String describe() {
    return "transaction " + txnId + " of " + stream + " (" + events + " events, " + bytes + " bytes, written by sink subtask " + subtask
        + " after checkpoint " + (checkpointId - 1) + ")";
  }
}
