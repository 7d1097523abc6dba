package io.sluice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sluice.testing.SluiceStandaloneExtension;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The Java client's transaction calls against a real standalone started with default options:
 * tagged creates are listed by tag prefix (open ones only, in id order); a commit answers
 * alreadyCommitted false the first time and true the second; abort and status answer the state; the
 * default longest lease (1 h) is enforced by the controller with a message naming its range; and an
 * id older than the record keeping fails TRANSACTION_RECORD_GONE while a recent unknown one fails
 * NO_SUCH_TRANSACTION, both as typed SluiceExceptions.
 */
class ClientTransactionsTest {
  @RegisterExtension static final SluiceStandaloneExtension SLUICE = new SluiceStandaloneExtension();

  private static final int LEASE_MS = 60_000;
  private static ControllerClient controller;

  @BeforeAll
  static void start() throws Exception {
    controller = ControllerClient.connect(SLUICE.get().controllerUri());
    await(controller.createScope("jt"));
    await(controller.createStream("jt", "out", 2));
  }

  @AfterAll
  static void stop() {
    if (controller != null) controller.close();
  }

  private static <T> T await(CompletableFuture<T> f) throws Exception {
    return f.get(60, TimeUnit.SECONDS);
  }

  /** The SluiceException a future failed with. */
  private static SluiceException failure(CompletableFuture<?> f) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS));
    return assertInstanceOf(SluiceException.class, e.getCause());
  }

  private static List<String> ids(List<OpenTxn> txns) {
    return txns.stream().map(OpenTxn::txnId).toList();
  }

  @Test
  void taggedTransactionsAreListedByPrefixAndCommitSaysWhetherItWasAlreadyCommitted() throws Exception {
    TxnInfo a0 = await(controller.createTransaction("jt", "out", LEASE_MS, "job-1/0"));
    TxnInfo other = await(controller.createTransaction("jt", "out", LEASE_MS, "job-2/0"));
    TxnInfo a1 = await(controller.createTransaction("jt", "out", LEASE_MS, "job-1/1"));
    TxnInfo untagged = await(controller.createTransaction("jt", "out", LEASE_MS));

    List<OpenTxn> listed = await(controller.listOpenTransactions("jt", "out", "job-1/"));
    // Ids begin with their creation ms, so two made in one ms may list either way: compare as sets, and check the order.
    assertEquals(Set.of(a0.txnId(), a1.txnId()), Set.copyOf(ids(listed)), "only job-1's");
    assertEquals(ids(listed).stream().sorted().toList(), ids(listed), "in id order");
    OpenTxn first = listed.stream().filter(t -> t.txnId().equals(a0.txnId())).findFirst().orElseThrow();
    assertEquals("job-1/0", first.tag());
    assertEquals(a0.leaseExpiresAtMs(), first.leaseExpiresAtMs());
    assertEquals(first.leaseExpiresAtMs() - LEASE_MS, first.createdAtMs(), "created when its lease began");
    assertTrue(ids(await(controller.listOpenTransactions("jt", "out", ""))).containsAll(List.of(a0.txnId(), other.txnId(), a1.txnId(), untagged.txnId())));
    assertEquals("", await(controller.listOpenTransactions("jt", "out", "")).stream()
        .filter(t -> t.txnId().equals(untagged.txnId())).findFirst().orElseThrow().tag(), "untagged lists with an empty tag");

    TxnCommit committed = await(controller.commitTransaction("jt", "out", a0.txnId()));
    assertEquals(new TxnCommit(TxnState.COMMITTED, false), committed, "the first commit commits");
    TxnCommit again = await(controller.commitTransaction("jt", "out", a0.txnId()));
    assertEquals(new TxnCommit(TxnState.COMMITTED, true), again, "the second finds it committed");
    assertEquals(TxnState.COMMITTED, await(controller.transactionStatus("jt", "out", a0.txnId())));

    assertEquals(TxnState.ABORTED, await(controller.abortTransaction("jt", "out", a1.txnId())));
    assertEquals(TxnState.ABORTED, await(controller.transactionStatus("jt", "out", a1.txnId())));
    assertEquals(ErrorCode.TRANSACTION_CLOSED, failure(controller.commitTransaction("jt", "out", a1.txnId())).code(), "an aborted one cannot commit");
    assertEquals(List.of(), await(controller.listOpenTransactions("jt", "out", "job-1/")), "committed and aborted ones are no longer listed");
    assertEquals(List.of(other.txnId()), ids(await(controller.listOpenTransactions("jt", "out", "job-2"))));
    assertEquals(TxnState.OPEN, await(controller.transactionStatus("jt", "out", other.txnId())));
  }

  @Test
  void inputErrorsAreTyped() throws Exception {
    assertEquals(ErrorCode.NO_SUCH_STREAM, failure(controller.listOpenTransactions("jt", "nope", "")).code());
    assertEquals(ErrorCode.INVALID_ARGUMENT, failure(controller.createTransaction("jt", "out", LEASE_MS, "x".repeat(ControllerClient.TXN_TAG_BYTES_MAX + 1))).code());
    assertEquals(ErrorCode.INVALID_ARGUMENT, failure(controller.createTransaction("jt", "out", LEASE_MS, "tab\there")).code());
    assertEquals(ErrorCode.INVALID_ARGUMENT, failure(controller.listOpenTransactions("jt", "out", "é")).code());
  }

  @Test
  void theDefaultOptionsApply() throws Exception {
    int hourMs = 60 * 60_000;
    TxnInfo longest = await(controller.createTransaction("jt", "out", hourMs, "lease"));
    assertEquals(TxnState.ABORTED, await(controller.abortTransaction("jt", "out", longest.txnId())));
    SluiceException tooLong = failure(controller.createTransaction("jt", "out", hourMs + 1, "lease"));
    assertEquals(ErrorCode.INVALID_ARGUMENT, tooLong.code());
    assertTrue(tooLong.getMessage().contains("[1000, 3600000]"), "names the controller's range: " + tooLong.getMessage());

    // An id from 1970 is older than any record keeping; one from now never had a record.
    SluiceException gone = failure(controller.commitTransaction("jt", "out", "0".repeat(32)));
    assertEquals(ErrorCode.TRANSACTION_RECORD_GONE, gone.code());
    assertFalse(gone.retriable());
    assertTrue(gone.getMessage().contains("ended more than 25 h ago"), gone.getMessage());
    assertEquals(ErrorCode.TRANSACTION_RECORD_GONE, failure(controller.transactionStatus("jt", "out", "0".repeat(32))).code());
    String recent = String.format("%012x", System.currentTimeMillis()) + "0".repeat(20);
    assertEquals(ErrorCode.NO_SUCH_TRANSACTION, failure(controller.commitTransaction("jt", "out", recent)).code());
    assertEquals(ErrorCode.NO_SUCH_TRANSACTION, failure(controller.transactionStatus("jt", "out", recent)).code());
  }
}
