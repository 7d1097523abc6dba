/**
 * The client's gRPC stub for the controller. Every call has a deadline; a failed call is rebuilt
 * into the typed error the controller raised (from the `sluice-code` metadata), or UNAVAILABLE /
 * TIMEOUT when the controller could not be reached.
 */
import * as grpc from "@grpc/grpc-js";
import { errorFromCode, isErrorCode, TimeoutError, UnavailableError, InternalError, type SluiceError } from "../../common/index.js";
import { controllerServiceDefinition, errorCodeMetadataKey, type ControllerMethod, type ControllerMethods } from "../../proto/index.js";

const ControllerStub = grpc.makeGenericClientConstructor(controllerServiceDefinition, "Controller");

const callTimeoutMs = 30_000;

function toTypedError(err: grpc.ServiceError, target: string): SluiceError {
  const code = err.metadata?.get(errorCodeMetadataKey)[0];
  if (typeof code === "string" && isErrorCode(code)) return errorFromCode(code, err.details);
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      return new UnavailableError(`controller at ${target} is unavailable: ${err.details}`, { cause: err });
    case grpc.status.DEADLINE_EXCEEDED:
      return new TimeoutError(`controller at ${target} did not answer in time`, { cause: err });
    default:
      return new InternalError(`controller call failed: ${err.message}`, { cause: err });
  }
}

export class ControllerClient {
  private readonly stub: grpc.Client;

  constructor(readonly target: string) {
    this.stub = new ControllerStub(target, grpc.credentials.createInsecure());
  }

  call<M extends ControllerMethod>(method: M, request: ControllerMethods[M][0], timeoutMs = callTimeoutMs): Promise<ControllerMethods[M][1]> {
    const def = controllerServiceDefinition[method];
    return new Promise((resolve, reject) => {
      this.stub.makeUnaryRequest(
        def.path,
        def.requestSerialize as (value: ControllerMethods[M][0]) => Buffer,
        def.responseDeserialize as (bytes: Buffer) => ControllerMethods[M][1],
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, response) => {
          if (err !== null) reject(toTypedError(err, this.target));
          else if (response === undefined) reject(new InternalError(`controller returned no ${method} response`));
          else resolve(response);
        },
      );
    });
  }

  close(): void {
    this.stub.close();
  }
}
