/**
 * The controller's gRPC front end. Each handler (built in controller/index.ts) validates its input; a SluiceError
 * becomes a gRPC status (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, UNAVAILABLE, INTERNAL) with
 * the stable code in the `sluice-code` metadata entry, so the client rebuilds the same typed error.
 */
import * as grpc from "@grpc/grpc-js";
import { controllerRequestBytesMax, grpcStatusDetailsCharsMax, toSluiceError, type ErrorCode, logger } from "../../common/index.js";
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
    case "TRANSACTION_RECORD_GONE":
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
    case "DATA_DIR_LOCKED":
      return grpc.status.FAILED_PRECONDITION;
    case "AUTH_FAILED":
      return grpc.status.UNAUTHENTICATED;
    case "OVERLOADED":
    case "STORAGE_FULL":
    case "TOO_MANY_CONNECTIONS":
      return grpc.status.RESOURCE_EXHAUSTED;
    case "TIMEOUT":
      return grpc.status.DEADLINE_EXCEEDED;
    case "WRONG_HOST":
    case "CONTAINER_NOT_READY":
    case "NO_SEGMENT_STORE":
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

/** A UTF-16 surrogate without its pair. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The status details of a failed call: the error's message, cut to grpcStatusDetailsCharsMax.
 * Messages quote what callers sent only through quoteBounded, so the cut should never apply; it is
 * here because trailers too large for the peer are never delivered, and the call would then hang
 * until its deadline instead of failing (issue 18, case 10).
 */
export function statusDetails(message: string): string {
  const cut = message.length <= grpcStatusDetailsCharsMax ? message : `${message.slice(0, grpcStatusDetailsCharsMax)}… (message of ${message.length} characters cut)`;
  // grpc-js percent-encodes the details with encodeURI, which throws on a lone surrogate (the call
  // would then never be answered); one may come from a cut above or from text a caller sent.
  return cut.replace(loneSurrogate, "\ufffd");
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
        callback({ code: grpcStatusOf(e.code), details: statusDetails(e.message), metadata });
      },
    );
  };
}

export class ControllerGrpcServer {
  // Requests are bounded explicitly rather than by grpc-js's default, and no larger than a load
  // report needs (see controllerRequestBytesMax).
  private readonly server = new grpc.Server({ "grpc.max_receive_message_length": controllerRequestBytesMax });

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
