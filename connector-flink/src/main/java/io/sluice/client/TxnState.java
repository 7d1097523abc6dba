package io.sluice.client;

/** The states of a transaction, as controller.proto's TxnState. */
public enum TxnState {
  OPEN,
  COMMITTING,
  COMMITTED,
  ABORTING,
  ABORTED
}
