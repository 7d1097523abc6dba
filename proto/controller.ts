/**
 * Typed messages and the gRPC service definition of proto/controller.proto. The .proto file is the
 * source of truth for the wire; the interfaces below mirror it field for field (camelCase), and
 * controller.test.ts proves they agree by round-tripping fully populated messages through the
 * protobufjs types loaded from the .proto (a field missing on either side fails that test).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import type { ServiceDefinition, MethodDefinition } from "@grpc/grpc-js";

// Absent message fields arrive as undefined (the codec drops protobufjs's nulls), so every message
// field is optional here and handlers validate it; scalars and lists always arrive (proto3 defaults).
export interface CreateScopeRequest { scope: string }
export interface CreateScopeResponse { created: boolean }
export type ListScopesRequest = Record<string, never>;
export interface ListScopesResponse { scopes: string[] }
export interface DeleteScopeRequest { scope: string }
export interface DeleteScopeResponse { deleted: boolean }

export type ScalingType = "SCALING_TYPE_UNSPECIFIED" | "FIXED" | "BY_EVENT_RATE" | "BY_DATA_RATE";
export interface ScalingPolicy {
  type: ScalingType;
  /** FIXED: the segment count; rate policies: the fewest segments. */
  minSegments: number;
  /** BY_EVENT_RATE: events/s per segment; BY_DATA_RATE: KiB/s per segment; 0 for FIXED. */
  targetRate: number;
  /** Most parts one split makes (>= 2 for rate policies); 0 for FIXED. */
  scaleFactor: number;
}
export type RetentionType = "RETENTION_NONE" | "BY_TIME" | "BY_SIZE";
/** BY_TIME: `limit` milliseconds kept; BY_SIZE: `limit` bytes kept. */
export interface RetentionPolicy { type: RetentionType; limit: number }
export interface StreamConfig { scaling?: ScalingPolicy; retention?: RetentionPolicy }

export interface SegmentRange {
  segment: string;
  number: number;
  /** The epoch that created the segment. */
  epoch: number;
  keyStart: number;
  keyEnd: number;
}
export interface SegmentOffset { segment: string; offset: number }
/** One offset per segment; the segments' ranges cover [0, 1) once. */
export interface StreamCut { positions: SegmentOffset[] }

export interface CreateStreamRequest { scope: string; stream: string; config?: StreamConfig }
export interface CreateStreamResponse { created: boolean }
export interface UpdateStreamRequest { scope: string; stream: string; config?: StreamConfig }
export type UpdateStreamResponse = Record<string, never>;
export interface SealStreamRequest { scope: string; stream: string }
export type SealStreamResponse = Record<string, never>;
export interface DeleteStreamRequest { scope: string; stream: string }
export type DeleteStreamResponse = Record<string, never>;
export interface TruncateStreamRequest { scope: string; stream: string; cut?: StreamCut }
export type TruncateStreamResponse = Record<string, never>;
export interface ListStreamsRequest { scope: string }
export interface ListStreamsResponse { streams: string[] }
export interface GetStreamRequest { scope: string; stream: string }
export interface GetStreamResponse {
  scope: string;
  stream: string;
  config?: StreamConfig;
  epoch: number;
  segments: SegmentRange[];
  createdAtMs: number;
  head?: StreamCut;
  tail?: StreamCut;
  sealed: boolean;
}
export interface GetCurrentSegmentsRequest { scope: string; stream: string }
export interface GetCurrentSegmentsResponse { segments: SegmentRange[] }
export interface PositionedSegment { range?: SegmentRange; offset: number }
export interface GetSegmentsAtCutRequest { scope: string; stream: string; cut?: StreamCut }
export interface GetSegmentsAtCutResponse { segments: PositionedSegment[] }
export interface Successor { range?: SegmentRange; predecessors: string[] }
export interface GetSuccessorsRequest { segment: string }
export interface GetSuccessorsResponse { successors: Successor[] }
/** `endOffset` -1: up to the segment's end. */
export interface SegmentSpan { range?: SegmentRange; startOffset: number; endOffset: number }
export interface GetSegmentsBetweenRequest { scope: string; stream: string; from?: StreamCut; to?: StreamCut }
export interface GetSegmentsBetweenResponse { segments: SegmentSpan[] }
export interface GetSegmentEndpointRequest { segment: string }
export interface GetSegmentEndpointResponse { host: string; port: number; container: number }
export interface KeyRange { keyStart: number; keyEnd: number }
export interface ScaleRequest { scope: string; stream: string; seal: string[]; newRanges: KeyRange[] }
export interface ScaleResponse { epoch: number; segments: SegmentRange[] }

export type TxnState = "TXN_STATE_UNSPECIFIED" | "OPEN" | "COMMITTING" | "COMMITTED" | "ABORTING" | "ABORTED";
export interface TxnSegment { parent?: SegmentRange; txnSegment: string }
/** `tag` is optional (absent or empty: untagged). */
export interface CreateTransactionRequest { scope: string; stream: string; leaseMs: number; tag?: string }
export interface CreateTransactionResponse { txnId: string; epoch: number; segments: TxnSegment[]; leaseExpiresAtMs: number }
export interface CommitTransactionRequest { scope: string; stream: string; txnId: string }
export interface AbortTransactionRequest { scope: string; stream: string; txnId: string }
export interface PingTransactionRequest { scope: string; stream: string; txnId: string; leaseMs: number }
export interface GetTransactionStatusRequest { scope: string; stream: string; txnId: string }
/** `alreadyCommitted`: CommitTransaction found the transaction COMMITTED already (false from the other calls). */
export interface TransactionStatusResponse { state: TxnState; leaseExpiresAtMs: number; alreadyCommitted: boolean }
export interface ListTransactionsRequest { scope: string; stream: string; tagPrefix: string }
export interface OpenTransaction { txnId: string; tag: string; createdAtMs: number; leaseExpiresAtMs: number }
export interface ListTransactionsResponse { transactions: OpenTransaction[] }

export interface ReaderGroupStream { stream: string; from?: StreamCut; to?: StreamCut }
export interface ReaderGroupConfig { streams: ReaderGroupStream[]; checkpointIntervalMs: number }
export interface CreateReaderGroupRequest { scope: string; group: string; config?: ReaderGroupConfig }
export interface CreateReaderGroupResponse { created: boolean; generation: number }
export interface GetReaderGroupRequest { scope: string; group: string }
export interface GetReaderGroupResponse { config?: ReaderGroupConfig; generation: number }
export interface UpdateReaderGroupRequest { scope: string; group: string; config?: ReaderGroupConfig; expectedGeneration: number }
export interface UpdateReaderGroupResponse { generation: number }
export interface DeleteReaderGroupRequest { scope: string; group: string }
export interface DeleteReaderGroupResponse { deleted: boolean }

export interface HeartbeatRequest { storeId: string; host: string; port: number; leaseId: string }
export interface HeartbeatResponse { leaseId: string; leaseMs: number }
export interface SegmentLoadReport { segment: string; eventsPerSec: number[]; bytesPerSec: number[]; trackedMs: number }
export interface ReportLoadRequest { storeId: string; windowsMs: number[]; segments: SegmentLoadReport[] }
export type ReportLoadResponse = Record<string, never>;

/** Request and response types of each RPC, by method name. */
export interface ControllerMethods {
  CreateScope: [CreateScopeRequest, CreateScopeResponse];
  ListScopes: [ListScopesRequest, ListScopesResponse];
  DeleteScope: [DeleteScopeRequest, DeleteScopeResponse];
  CreateStream: [CreateStreamRequest, CreateStreamResponse];
  UpdateStream: [UpdateStreamRequest, UpdateStreamResponse];
  SealStream: [SealStreamRequest, SealStreamResponse];
  DeleteStream: [DeleteStreamRequest, DeleteStreamResponse];
  TruncateStream: [TruncateStreamRequest, TruncateStreamResponse];
  GetStream: [GetStreamRequest, GetStreamResponse];
  ListStreams: [ListStreamsRequest, ListStreamsResponse];
  GetCurrentSegments: [GetCurrentSegmentsRequest, GetCurrentSegmentsResponse];
  GetSegmentsAtCut: [GetSegmentsAtCutRequest, GetSegmentsAtCutResponse];
  GetSuccessors: [GetSuccessorsRequest, GetSuccessorsResponse];
  GetSegmentsBetween: [GetSegmentsBetweenRequest, GetSegmentsBetweenResponse];
  GetSegmentEndpoint: [GetSegmentEndpointRequest, GetSegmentEndpointResponse];
  Scale: [ScaleRequest, ScaleResponse];
  CreateTransaction: [CreateTransactionRequest, CreateTransactionResponse];
  CommitTransaction: [CommitTransactionRequest, TransactionStatusResponse];
  AbortTransaction: [AbortTransactionRequest, TransactionStatusResponse];
  PingTransaction: [PingTransactionRequest, TransactionStatusResponse];
  GetTransactionStatus: [GetTransactionStatusRequest, TransactionStatusResponse];
  ListTransactions: [ListTransactionsRequest, ListTransactionsResponse];
  CreateReaderGroup: [CreateReaderGroupRequest, CreateReaderGroupResponse];
  GetReaderGroup: [GetReaderGroupRequest, GetReaderGroupResponse];
  UpdateReaderGroup: [UpdateReaderGroupRequest, UpdateReaderGroupResponse];
  DeleteReaderGroup: [DeleteReaderGroupRequest, DeleteReaderGroupResponse];
  Heartbeat: [HeartbeatRequest, HeartbeatResponse];
  ReportLoad: [ReportLoadRequest, ReportLoadResponse];
}
export type ControllerMethod = keyof ControllerMethods;
export const controllerMethodNames: readonly ControllerMethod[] = [
  "CreateScope",
  "ListScopes",
  "DeleteScope",
  "CreateStream",
  "UpdateStream",
  "SealStream",
  "DeleteStream",
  "TruncateStream",
  "GetStream",
  "ListStreams",
  "GetCurrentSegments",
  "GetSegmentsAtCut",
  "GetSuccessors",
  "GetSegmentsBetween",
  "GetSegmentEndpoint",
  "Scale",
  "CreateTransaction",
  "CommitTransaction",
  "AbortTransaction",
  "PingTransaction",
  "GetTransactionStatus",
  "ListTransactions",
  "CreateReaderGroup",
  "GetReaderGroup",
  "UpdateReaderGroup",
  "DeleteReaderGroup",
  "Heartbeat",
  "ReportLoad",
];

/** Finds controller.proto beside this module (source tree) or in the package's proto/ (dist). */
function protoPath(): string {
  const beside = fileURLToPath(new URL("./controller.proto", import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL("../../proto/controller.proto", import.meta.url));
}

const root = protobuf.loadSync(protoPath());
const service = root.lookupService("sluice.controller.v1.Controller");

const toObjectOptions: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
};

export function messageType(name: string): protobuf.Type {
  return root.lookupType(`sluice.controller.v1.${name}`);
}

/** protobufjs gives an absent message field as null; the interfaces above say undefined (absent). */
function dropNulls(value: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(value)) {
    if (v === null) {
      delete value[k];
    } else if (Array.isArray(v)) {
      for (const item of v as unknown[]) if (typeof item === "object" && item !== null) dropNulls(item as Record<string, unknown>);
    } else if (typeof v === "object") {
      dropNulls(v as Record<string, unknown>);
    }
  }
  return value;
}

function codec<T>(type: protobuf.Type): { serialize: (value: T) => Buffer; deserialize: (bytes: Buffer) => T } {
  return {
    serialize: (value: T) => {
      const message = type.fromObject(value as Record<string, unknown>);
      return Buffer.from(type.encode(message).finish());
    },
    deserialize: (bytes: Buffer) => dropNulls(type.toObject(type.decode(bytes), toObjectOptions)) as T,
  };
}

type Definition = { [M in ControllerMethod]: MethodDefinition<ControllerMethods[M][0], ControllerMethods[M][1]> };

function buildDefinition(): Definition {
  const def: Partial<Record<ControllerMethod, MethodDefinition<unknown, unknown>>> = {};
  for (const name of controllerMethodNames) {
    const method = service.methods[name];
    if (method === undefined) throw new Error(`controller.proto lacks rpc ${name}`);
    const req = codec<unknown>(root.lookupType(method.resolvedRequestType?.fullName ?? method.requestType));
    const res = codec<unknown>(root.lookupType(method.resolvedResponseType?.fullName ?? method.responseType));
    def[name] = {
      path: `/sluice.controller.v1.Controller/${name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
      originalName: name,
    };
  }
  service.resolveAll();
  return def as Definition;
}

service.resolveAll();
/** The gRPC service definition, for `server.addService` and `makeGenericClientConstructor`. */
export const controllerServiceDefinition: Definition & ServiceDefinition = buildDefinition();

/** Metadata key carrying the stable Sluice error code on a failed call. */
export const errorCodeMetadataKey = "sluice-code";
