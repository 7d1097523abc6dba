/**
 * The controller's gRPC front end. Each handler (built in controller/index.ts) validates its input; a SluiceError
 * becomes a gRPC status (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, UNAVAILABLE, INTERNAL) with
 * the stable code in the `sluice-code` metadata entry, so the client rebuilds the same typed error.
 */
import * as grpc from "@grpc/grpc-js";
import { toSluiceError, type ErrorCode, logger } from "../../common/index.js";
import { controllerServiceDefinition, errorCodeMetadataKey, type ControllerMethod, type ControllerMethods } from "../../proto/index.js";

const log = logger("controller");

function grpcStatusOf(code: ErrorCode): grpc.status {
  switch (code) {
    case "INVALID_ARGUMENT":
    case "INVALID_CONFIG":
    case "INVALID_NAME":
    case "MALFORMED_FRAME":
    case "FRAME_TOO_LARGE":
    case "UNKNOWN_FRAME_TYPE":
    case "INVALID_EVENTS":
    case "EVENT_TOO_LARGE":
    case "INVALID_EVENT_NUMBER":
    case "WRITER_NOT_SET_UP":
      return grpc.status.INVALID_ARGUMENT;
    case "NO_SUCH_SCOPE":
    case "NO_SUCH_STREAM":
    case "NO_SUCH_SEGMENT":
    case "LEASE_NOT_FOUND":
    case "NO_SUCH_ENTRY":
    case "NO_SUCH_CHUNK":
    case "NO_SUCH_TRANSACTION":
    case "NO_SUCH_READER_GROUP":
      return grpc.status.NOT_FOUND;
    case "SCOPE_EXISTS":
    case "STREAM_EXISTS":
    case "SEGMENT_EXISTS":
    case "CHUNK_EXISTS":
    case "READER_GROUP_EXISTS":
      return grpc.status.ALREADY_EXISTS;
    case "SCOPE_NOT_EMPTY":
    case "SEGMENT_SEALED":
    case "SEGMENT_TRUNCATED":
    case "CONDITIONAL_CHECK_FAILED":
    case "REVISION_COMPACTED":
    case "WRITER_NOT_PRIMARY":
    case "LEDGER_FENCED":
    case "TRANSACTION_CLOSED":
    case "STREAM_SEALED":
    case "STREAM_NOT_SEALED":
      return grpc.status.FAILED_PRECONDITION;
    case "AUTH_FAILED":
      return grpc.status.UNAUTHENTICATED;
    case "OVERLOADED":
    case "STORAGE_FULL":
      return grpc.status.RESOURCE_EXHAUSTED;
    case "TIMEOUT":
      return grpc.status.DEADLINE_EXCEEDED;
    case "WRONG_HOST":
    case "CONTAINER_NOT_READY":
    case "CONNECTION_CLOSED":
    case "UNAVAILABLE":
    case "CLOSED":
      return grpc.status.UNAVAILABLE;
    case "UNSUPPORTED_VERSION":
      return grpc.status.UNIMPLEMENTED;
    case "INTERNAL":
      return grpc.status.INTERNAL;
    case "DATA_CORRUPTION":
      return grpc.status.DATA_LOSS;
  }
}

/** One async function per RPC; a typed SluiceError it raises becomes the call's status. */
export type ControllerHandlers = { [M in ControllerMethod]: (req: ControllerMethods[M][0]) => Promise<ControllerMethods[M][1]> };

function unary<Req, Res>(method: string, fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => {
        const e = toSluiceError(err);
        if (e.code === "INTERNAL") log.error("rpc failed", { method, error: e, cause: e.cause });
        const metadata = new grpc.Metadata();
        metadata.set(errorCodeMetadataKey, e.code);
        callback({ code: grpcStatusOf(e.code), details: e.message, metadata });
      },
    );
  };
}

export class ControllerGrpcServer {
  private readonly server = new grpc.Server();

  constructor(handlers: ControllerHandlers) {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const name of Object.keys(handlers) as ControllerMethod[]) {
      impl[name] = unary(name, handlers[name] as (req: unknown) => Promise<unknown>);
    }
    this.server.addService(controllerServiceDefinition, impl);
  }

  /** Binds and starts; resolves with the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
        if (err !== null) reject(err);
        else resolve(bound);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.tryShutdown(() => resolve());
      // Calls still open (long client deadlines) must not hold shutdown forever.
      setTimeout(() => this.server.forceShutdown(), 2000).unref();
    });
  }
}
