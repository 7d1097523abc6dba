/**
 * Every bound in Sluice, named and gathered here (TigerBeetle style). Where two limits depend on
 * each other the relation is asserted once, at module load.
 */
import { assert } from "./assert.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Largest data-plane frame, header included. The decoder checks this before allocating. */
export const frameBytesMax = 16 * MiB;
/** Fixed frame header: u32 type, u32 payload length. */
export const frameHeaderBytes = 8;
/** Room inside a frame for its fixed fields (ids, names, offsets) besides event data. */
export const frameFieldsBytesMax = 64 * KiB;
/** Largest single event payload. */
export const eventBytesMax = 8 * MiB;
/** Each event inside a segment is `u32 length | payload`. */
export const eventHeaderBytes = 4;
/** Largest AppendBlock data section (many framed events). */
export const appendBlockBytesMax = frameBytesMax - frameHeaderBytes - frameFieldsBytesMax;
/** Largest data section a single SegmentRead returns. */
export const readBytesMax = 8 * MiB;
/** Longest a tail read may wait for data (long poll). */
export const readWaitMsMax = 60_000;

/** Scope, stream and segment names. */
export const nameBytesMax = 255;
export const segmentNameBytesMax = 1024;

/**
 * Largest Tier-1 ledger entry: one container group commit (up to containerBatchBytesMax), or one
 * operation carrying a whole append block plus its operation header. It fits one AddEntry frame.
 */
export const ledgerEntryBytesMax = appendBlockBytesMax + 32 * KiB;
/** A log node stores each entry behind a header of its own (the writer's last-add-confirmed). */
export const ledgerEntryHeaderBytes = 8;
/** Largest record payload in a record file (journal or metadata log): a ledger entry and its header. */
export const logEntryBytesMax = ledgerEntryBytesMax + ledgerEntryHeaderBytes;
/** Journal: bytes joined into one writev + fdatasync. */
export const journalBatchBytesMax = 4 * MiB;
/** Journal: records queued but not yet written; above it appends wait. */
export const journalQueueBytesMax = 64 * MiB;
/** Journal record header: u32 crc, u32 length, u32 tag (ledger), u32 flags, i64 seq (entry id). */
export const journalRecordHeaderBytes = 24;

/** Container operation queue bounds: operations and bytes not yet durable. */
export const containerQueueOpsMax = 100_000;
export const containerQueueBytesMax = 64 * MiB;
/** Bytes in one Tier-1 entry made by container group commit (a lone larger operation goes alone). */
export const containerBatchBytesMax = 1 * MiB;
/** Tier-1 entries a container keeps in flight, so the next one is queued while one syncs. */
export const containerInflightEntriesMax = 8;

/** Front end: unacknowledged append bytes per connection before the socket is paused, and resumed. */
export const connectionInflightBytesHigh = 32 * MiB;
export const connectionInflightBytesLow = 8 * MiB;
/** Front end: append bytes received and not yet durable over all connections, before appending connections pause, and resume. */
export const storeInflightBytesHighDefault = 256 * MiB;
export const storeInflightBytesLowDefault = 128 * MiB;
/** Front end: appends one connection holds while pinned bytes are at their bound, before its socket pauses. */
export const connectionHeldAppendsMax = 10_000;
/** Read index: held appends resume once pinned bytes fall below this fraction of the pinned bound. */
export const pinnedResumeFraction = 0.9;
/** Read index: how often the front end looks at pinned bytes while it holds appends. */
export const pinnedCheckMs = 5;
/** Front end: requests (reads, info, create) one connection may have outstanding; more get OVERLOADED. */
export const connectionRequestsInflightMax = 1_000;
/** Front end: bytes the outstanding reads of one connection may ask for; more get OVERLOADED. */
export const connectionReadBytesMax = 64 * MiB;
/** Front end: attribute updates one UpdateAttributes frame, or ids one GetAttributes frame, may carry. */
export const attributeUpdatesMax = 1_000;
/** Front end: a connection must say Hello within this time, or it is closed. */
export const helloTimeoutMs = 10_000;
/** Read index: bytes held in memory. Until Tier-2 exists every byte is pinned. */
export const cacheBytesMaxDefault = 4 * 1024 * MiB;
/** Tail readers waiting at one segment store. */
export const tailWaitersMax = 10_000;
/** Segments one segment store serves. */
export const segmentsPerStoreMax = 100_000;
/** Appends writers on one connection may set up. */
export const writersPerConnectionMax = 10_000;
/** Connections one segment store accepts (--connections-max); more are refused TOO_MANY_CONNECTIONS. */
export const connectionsMax = 1_000;
/**
 * Connections one segment store accepts from one remote address (--connections-per-peer-max), so
 * one host cannot take every slot. A client process uses one connection per store; many client
 * processes behind one address (one host, a NAT) share the cap.
 */
export const connectionsPerPeerMaxDefault = 200;
/**
 * A data-plane connection with nothing in flight (no request being served, no append unacknowledged
 * or held, no reply waiting in its buffer, not paused) that sent nothing for this long is closed
 * (--idle-timeout-ms; 0 never). Kafka's connections.max.idle.ms. Clients reconnect on their next use.
 */
export const connectionIdleTimeoutMsDefault = 600_000;
export const connectionIdleTimeoutMsMin = 1_000;
export const connectionIdleTimeoutMsMax = 24 * 60 * 60_000;
/** A refused connection (its Error frame sent) is cut after this long if the peer does not close it. */
export const connectionRefusalGraceMs = 1_000;
/** Refused connections waiting for the peer to read the refusal; past it more are cut without a frame. */
export const connectionsRefusingMax = 1_000;
/** Refusals and idle closes are logged at most once per this interval (with the count since the last line). */
export const connectionRefusalLogIntervalMs = 10_000;

/** Containers per segment store cluster. */
export const containerCountMax = 1024;
/** Segments per stream with a fixed policy. */
export const streamSegmentsMax = 1024;

/** Client writer: event bytes written but not yet acked, per writer. Above it write() waits. */
export const writerInflightBytesMax = 32 * MiB;
/** Client writer: event bytes waiting for room (beyond the in-flight bound) before write() fails OVERLOADED. */
export const writerQueuedBytesMax = 64 * MiB;
/** Client writer: bytes joined into one AppendBlock. */
export const writerBlockBytesMax = 1 * MiB;
/** Client: segment endpoints remembered (least recently used forgotten first). */
export const endpointsCachedMax = 10_000;
/** Client: requests in flight per connection. */
export const connectionRequestsMax = 10_000;

/** Metadata store: value size (etcd's default request limit is 1.5 MiB). */
export const metadataValueBytesMax = 1 * MiB;
/** Metadata store: key size. */
export const metadataKeyBytesMax = 4096;
/** Metadata store: entries returned by one list page (and the default page size). */
export const metadataListPageMax = 1000;
/**
 * Metadata store: bytes of one write or transaction, counting each compare and operation as its key
 * and value plus `metadataTxnEntryOverheadBytes` (etcd refuses requests above --max-request-bytes,
 * 1.5 MiB by default, namespace and framing included).
 */
export const metadataTxnBytesMax = 1.5 * MiB;
/** Metadata store: what each compare or operation counts beyond its key and value (framing, an etcd namespace of up to 256 bytes). */
export const metadataTxnEntryOverheadBytes = 320;
/** Metadata store: compares plus operations in one transaction (etcd's default --max-txn-ops is 128). */
export const metadataTxnOpsMax = 128;
/** Metadata store: the shortest lease TTL (etcd counts whole seconds). */
export const metadataLeaseTtlMsMin = 1000;
/** Metadata store: the longest lease TTL. */
export const metadataLeaseTtlMsMax = 24 * 60 * 60 * 1000;
/** Embedded metadata store: bytes of keys and values held (it keeps all of them in memory). */
export const metadataStoreBytesMax = 256 * MiB;
/** Embedded metadata store: writes waiting for the next group commit; beyond it writes fail OVERLOADED. */
export const metadataPendingWritesMax = 10_000;
/** Embedded metadata store: live leases. */
export const metadataLeasesMax = 100_000;
/** Embedded metadata store: past changes kept in memory so a watch can start from an older revision. */
export const metadataWatchHistoryMax = 100_000;
/** Embedded metadata store: bytes of keys and values of the past changes kept for watches. */
export const metadataWatchHistoryBytesMax = 64 * MiB;
/** Embedded metadata store: log records written between snapshots (the log is then restarted). */
export const metadataSnapshotEveryRecords = 10_000;

/** Data-directory lock (common/dir-lock.ts): how often its holder touches the lock file (mtime) and checks it is still its own. */
export const dirLockRefreshMs = 3_000;
/**
 * Data-directory lock: a holder this host cannot check (another pid namespace, host or boot) counts as gone once its
 * lock has not been refreshed for this long (several refreshes, so a busy holder is not taken for dead).
 */
export const dirLockStaleAfterMs = 15_000;

assert(eventBytesMax + eventHeaderBytes <= appendBlockBytesMax, "an event fits one block");
assert(readBytesMax + frameFieldsBytesMax <= frameBytesMax, "a read fits one frame");
assert(writerBlockBytesMax <= appendBlockBytesMax, "a writer block fits one frame");
assert(connectionInflightBytesLow < connectionInflightBytesHigh, "watermarks ordered");
assert(metadataTxnBytesMax + metadataTxnOpsMax * 32 <= logEntryBytesMax, "a metadata transaction fits one record");
assert(containerBatchBytesMax <= ledgerEntryBytesMax, "a container batch fits one ledger entry");
assert(frameHeaderBytes + 64 + ledgerEntryBytesMax <= frameBytesMax, "a ledger entry fits one AddEntry frame");
assert(logEntryBytesMax <= journalQueueBytesMax, "a log entry fits the journal queue");

/** Journal: a journal file is closed and a new one begun, between batches, once it reaches this size. */
export const journalFileBytesMax = 256 * MiB;
/** Record file recovery: bytes read from disk at a time into one reused buffer while replaying. */
export const recordReadChunkBytes = 1 * MiB;
/**
 * Record files: the synced mark (record-synced-mark.ts) is written at most this often while appends
 * go on, so a cut of a stopped file is caught down to what was synced this long before a SIGKILL.
 */
export const syncedMarkIntervalMs = 1_000;

assert(journalRecordHeaderBytes <= recordReadChunkBytes, "a record header fits one read chunk");
assert(journalBatchBytesMax <= journalQueueBytesMax, "a journal batch fits the journal queue");

/** Attributes one segment holds (writer ids are kept apart, in the writer table). */
export const segmentAttributesMax = 1_000;
/** Writers whose last event number a segment remembers (for dedup). */
export const writersPerSegmentMax = 100_000;

/** Tier-1: a container log starts a new ledger once its current one holds this many bytes. */
export const ledgerRolloverBytesDefault = 256 * MiB;
/** Tier-1: bytes a container log has sent and not yet had acknowledged; above it appends wait. */
export const logInflightBytesMax = 32 * MiB;
/** Tier-1: how long a health probe of a log node may take before the node counts as down. */
export const logNodeProbeTimeoutMs = 1_000;
/** Tier-1: how often a log short of healthy nodes looks for them again (a new ledger, a restored ensemble). */
export const logNodeRetryMs = 1_000;

/** Log node: add bytes one connection has sent and not had answered before its socket is paused, and resumed. */
export const logNodeInflightBytesHigh = 32 * MiB;
export const logNodeInflightBytesLow = 8 * MiB;
/** Log node: requests one connection may have outstanding; more get OVERLOADED. */
export const logNodeRequestsInflightMax = 10_000;
/** Log node: entry bytes one ReadEntries may ask for; a larger maxBytes is lowered to it. */
export const logNodeReadBytesMax = 8 * MiB;
/** Log node: bytes the outstanding reads of one connection may ask for together; more get OVERLOADED. */
export const logNodeReadBytesInflightMax = 64 * MiB;
/** Log node: connections one node accepts (--connections-max). */
export const logNodeConnectionsMax = 1_000;
/** Log node: connections from one remote address (--connections-per-peer-max); a segment store holds one per node. */
export const logNodeConnectionsPerPeerMaxDefault = 100;
/**
 * Log node: idle-connection timeout (--idle-timeout-ms), off by default: its clients are segment
 * stores holding one long-lived connection each, and closing one under a request it just sent would
 * fail that add and change its ledger's ensemble. The connection caps bound what idle peers hold.
 */
export const logNodeIdleTimeoutMsDefault = 0;
/** Log node client: deadline for the TCP connect and the Hello exchange together. */
export const logNodeConnectTimeoutMs = 5_000;
/** Log node client: deadline for each request; past it the request fails TIMEOUT and its connection is closed. */
export const logNodeRequestTimeoutMs = 10_000;
/** Log node: smallest journal file roll size `--journal-file-bytes` accepts. */
export const journalFileBytesMin = 4096;

assert(logNodeInflightBytesLow < logNodeInflightBytesHigh, "log node watermarks ordered");
assert(connectionRequestsMax <= logNodeRequestsInflightMax, "one client's pipelined requests are never OVERLOADED by the node");
assert(frameHeaderBytes + 64 + logNodeReadBytesMax <= frameBytesMax, "a full log node read fits one frame");
assert(journalFileBytesMin <= journalFileBytesMax, "the default journal file size is allowed");

/** Log node: entries indexed (held and readable) per node; beyond it adds fail STORAGE_FULL. */
export const logNodeEntriesMax = 16 * 1024 * 1024;
/** Log node: ledgers known per node (held, fenced, or deleted with a record still in a journal file); beyond it adds and fences of new ledgers fail STORAGE_FULL. */
export const logNodeLedgersMax = 1_000_000;
/** Log node: journal files held open for reads (least recently used closed first). */
export const logNodeReadHandlesMax = 16;
/** Log node: entries one readEntries returns at most. */
export const logNodeReadEntriesMax = 10_000;

assert(ledgerEntryBytesMax + ledgerEntryHeaderBytes === logEntryBytesMax, "a stored ledger entry is one record payload");
assert(logNodeReadHandlesMax >= 2, "a read handle for the file being written and one for an older file");

/** Controller: most parts one split makes (a rate policy's scaleFactor). */
export const scaleFactorMax = 32;
/** Controller: a transaction's shortest lease (CreateTransaction, PingTransaction). */
export const txnLeaseMsMin = 1_000;
/**
 * Controller: the longest lease a client may ask for is the controller's --txn-lease-max-ms: by
 * default an hour, configurable up to txnLeaseMsCap. Clients check only against the cap and leave
 * the rest to the controller, whose INVALID_ARGUMENT names its configured range.
 */
export const txnLeaseMsMaxDefault = 60 * 60_000;
/** Controller: the highest --txn-lease-max-ms may be set, and the longest lease any client asks for (24 h). */
export const txnLeaseMsCap = 24 * 60 * 60_000;
/** Controller: transactions open at once per stream; more get OVERLOADED. */
export const txnsOpenPerStreamMax = 10_000;
/**
 * Controller: how long the record of an ended (committed or aborted) transaction is kept for status
 * and repeated commit calls (--txn-record-kept-ms). The default, 25 hours, lets a job that was down
 * for a day still learn its commit's outcome; the option ranges over [Min, Max].
 */
export const txnRecordKeptMsDefault = 25 * 60 * 60_000;
export const txnRecordKeptMsMin = 60_000;
export const txnRecordKeptMsMax = 30 * 24 * 60 * 60_000;
/** Controller: bytes of a transaction's tag (printable ASCII), which ListTransactions filters on by prefix. */
export const txnTagBytesMax = 200;
/**
 * Controller: open transactions one ListTransactions answers. The open cap can be passed by the
 * creates racing at it, so a stream may briefly hold more; a listing that would exceed this bound
 * is refused OVERLOADED rather than cut short (a caller must not miss a transaction it opened).
 */
export const txnsListedMax = txnsOpenPerStreamMax + txnsOpenPerStreamMax / 4;
/** gRPC's default for the largest message a client accepts (grpc-js and grpc-java both use 4 MiB). */
export const grpcClientReceiveBytesDefault = 4 * MiB;
/** Controller: tail cuts a stream's retention remembers (older ones are thinned out). */
export const retentionSamplesMax = 1_000;
/** Controller: streams one reader group reads. */
export const readerGroupStreamsMax = 100;
/** Controller: segments one load report carries (a store with more sends the busiest). */
export const loadReportSegmentsMax = 4_000;
/** Controller: segment stores registered at once. */
export const segmentStoresMax = 1_000;

/**
 * Stream cuts: positions one cut may hold. Its segments can come from several epochs, so a cut may
 * hold more segments than one epoch does; four times a stream's segments is far beyond any real cut.
 */
export const streamCutPositionsMax = 4 * streamSegmentsMax;
/** Tier-2: longest chunk name, in UTF-8 bytes (a relative object key). */
export const chunkNameBytesMax = 1024;
/** Data plane: chunks one ChunksListed reply names; the fullest reply's fields fit frameFieldsBytesMax. */
export const chunksListedMax = 50;
/** Client batch reads straight from Tier-2: bytes one ranged GET asks for (one more is read ahead). */
export const tier2ReadBytesMax = 4 * MiB;
/** Client batch reads straight from Tier-2: deadline of one GET attempt, reply body included, and attempts before UNAVAILABLE. */
export const tier2RequestTimeoutMs = 30_000;
export const tier2AttemptsMax = 3;
/** Client batch: segment info requests in flight while `segments` resolves a stream's ranges. */
export const batchInfoRequestsMax = 32;

assert(streamCutPositionsMax <= 0xffff, "a cut's position count fits a u16");
assert(chunksListedMax * (2 + chunkNameBytesMax + 16) + 4 + 2 + segmentNameBytesMax + 2 <= frameFieldsBytesMax, "a full ChunksListed fits the room for fields");

/**
 * Client writer: how long events of a sealed segment wait for the controller to name its successors
 * (the store refuses appends once the seal is pending; the scale commits a little later) before
 * they fail UNAVAILABLE.
 */
export const writerSealWaitMsMax = 60_000;
/** Client writer: the first delay between asks for a sealed segment's successors; each next one doubles up to the max. */
export const writerSealPollMsMin = 50;
export const writerSealPollMsMax = 1_000;

assert(writerSealPollMsMin <= writerSealPollMsMax && writerSealPollMsMax < writerSealWaitMsMax, "a writer asks for successors several times before it gives up");

/** Client reader groups: readers online in one group at once. */
export const readerGroupReadersMax = 1_000;
/** Client reader groups: segments (being read, waiting for predecessors, or read to their end) one group's state holds. */
export const readerGroupSegmentsMax = 4 * streamSegmentsMax;
/** Client reader groups: completed checkpoints a group remembers (the oldest is forgotten first). */
export const readerGroupCheckpointsKept = 10;
/** Client reader groups: bytes of superseded state records before the state segment is truncated at the latest one. */
export const readerGroupStateTruncateBytes = 1 * MiB;
/** Client reader groups: attempts of one state update that keeps meeting concurrent updates before it fails UNAVAILABLE. */
export const readerGroupUpdateAttemptsMax = 100;
/**
 * Client reader groups: a reader's liveness lease (ReaderGroupOptions.readerTimeoutMs, or per
 * reader): a reader silent for longer is declared offline by another and its segments go back to
 * the group. 0 turns it off. A reader renews it every third of it, so the bounds also bound the
 * heartbeat rate (at most one state write a second per group object from the lease).
 */
export const readerGroupReaderTimeoutMsDefault = 30_000;
export const readerGroupReaderTimeoutMsMin = 3_000;
export const readerGroupReaderTimeoutMsMax = 30 * 60_000;

// With names of usual length a segment costs under 512 bytes of state (its entry and a pending
// checkpoint's position), a remembered checkpoint under 80 bytes a position, a reader its name twice
// (in `readers` and in its session, with an incarnation, a beat count and a lease); the
// encoder checks the real size of every record against eventBytesMax.
assert(
  readerGroupSegmentsMax * 512 + readerGroupCheckpointsKept * readerGroupSegmentsMax * 80 + readerGroupReadersMax * (2 * nameBytesMax + 128) <= eventBytesMax,
  "a reader group's whole state fits one event",
);

/**
 * Full disks (ENOSPC). A journal whose disk refused a batch refuses appends at once (STORAGE_FULL,
 * no I/O) for journalFullRetryMs, then tries the disk again; its log node answers health probes
 * STORAGE_FULL (so no new ledger is placed on it) until statfs shows journalFreeBytesResume free.
 */
export const journalFullRetryMs = 500;
export const journalFreeBytesResume = journalBatchBytesMax;
/**
 * A journal whose disk refuses again right after it resumed (statfs showed room, but a quota
 * (EDQUOT), no free inodes or root-reserved blocks still refuse writes) doubles its pause at each
 * such resume, from journalFullRetryMs up to this, so such a disk costs a failed write and a new
 * ledger upstream every few seconds, not twice a second. A batch written ends the episode.
 */
export const journalFullRetryMsMax = 8_000;
assert(journalFullRetryMs <= journalFullRetryMsMax, "the journal's full-disk pause starts below its bound");
/**
 * Tier-1: how long a container log holds its appends while its log nodes refuse them for a full
 * disk (new operations are refused STORAGE_FULL meanwhile) before it fails them STORAGE_FULL; the
 * container is then recovered by its segment store once there is room again.
 */
export const logStorageFullWaitMs = 10_000;

/**
 * Controller gRPC: largest request message the server decodes (grpc.max_receive_message_length);
 * a larger one is refused RESOURCE_EXHAUSTED before it reaches a handler. The largest legitimate
 * request is a load report: loadReportSegmentsMax segments, each a name of up to
 * segmentNameBytesMax and two rates per window (at most 8 windows of 8-byte doubles).
 */
export const controllerRequestBytesMax = 8 * MiB;
/**
 * Controller gRPC: characters of an error message sent as a call's status details. Messages are
 * bounded where they are made (quoteBounded); this cut only guards the trailers, which HTTP/2 peers
 * refuse above 16 KiB by default (grpc-js percent-encodes each character into up to 9 bytes).
 */
export const grpcStatusDetailsCharsMax = 1_000;

assert(loadReportSegmentsMax * (segmentNameBytesMax + 2 * (8 * 8 + 3) + 16) + 64 * KiB <= controllerRequestBytesMax, "the largest load report fits one controller request");
assert(grpcStatusDetailsCharsMax * 9 + 1 * KiB <= 16 * KiB, "a status message fits the trailers a gRPC peer accepts");
assert(dirLockStaleAfterMs >= 4 * dirLockRefreshMs, "a lock is stale only after several missed refreshes");
assert(txnLeaseMsMin <= txnLeaseMsMaxDefault && txnLeaseMsMaxDefault <= txnLeaseMsCap, "the default longest lease is within its range");
assert(txnRecordKeptMsMin <= txnRecordKeptMsDefault && txnRecordKeptMsDefault <= txnRecordKeptMsMax, "the default record keeping is within its range");
assert(txnLeaseMsCap <= 0xffff_ffff, "a lease fits controller.proto's uint32 lease_ms");
// One listed transaction: a 32-character id, its tag, two int64 times, and the field tags and lengths.
assert(txnsListedMax * (32 + txnTagBytesMax + 2 * 10 + 12) + 1024 <= grpcClientReceiveBytesDefault, "the longest transaction listing fits a client's default receive limit");
