/**
 * The client's gRPC stub for the controllers. Every call has a deadline; a failed call is rebuilt
 * into the typed error the controller raised (from the `sluice-code` metadata), or UNAVAILABLE /
 * TIMEOUT when no controller could be reached. Any controller answers any call (they share the
 * metadata store), so with several targets a call that cannot reach one goes to the next, and the
 * one that answered last is asked first.
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
  private readonly stubs: { target: string; stub: grpc.Client }[];
  private current = 0;

  /** `targets`: one or more HOST:PORT. */
  constructor(targets: string | readonly string[]) {
    const list = typeof targets === "string" ? [targets] : targets;
    this.stubs = list.map((target) => ({ target, stub: new ControllerStub(target, grpc.credentials.createInsecure()) }));
  }

  get target(): string {
    return this.stubs.map((s) => s.target).join(",");
  }

  async call<M extends ControllerMethod>(method: M, request: ControllerMethods[M][0], timeoutMs = callTimeoutMs): Promise<ControllerMethods[M][1]> {
    const first = this.current;
    for (let i = 0; ; i++) {
      const index = (first + i) % this.stubs.length;
      try {
        const response = await this.callOne(this.stubs[index]!, method, request, timeoutMs);
        this.current = index;
        return response;
      } catch (err) {
        // Only "could not reach it" moves on; a typed answer is the answer of every controller.
        const unreachable = err instanceof UnavailableError && err.cause !== undefined;
        if (!unreachable || i + 1 >= this.stubs.length) throw err;
      }
    }
  }

  private callOne<M extends ControllerMethod>(target: { target: string; stub: grpc.Client }, method: M, request: ControllerMethods[M][0], timeoutMs: number): Promise<ControllerMethods[M][1]> {
    const def = controllerServiceDefinition[method];
    return new Promise((resolve, reject) => {
      target.stub.makeUnaryRequest(
        def.path,
        def.requestSerialize as (value: ControllerMethods[M][0]) => Buffer,
        def.responseDeserialize as (bytes: Buffer) => ControllerMethods[M][1],
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, response) => {
          if (err !== null) reject(toTypedError(err, target.target));
          else if (response === undefined) reject(new InternalError(`controller returned no ${method} response`));
          else resolve(response);
        },
      );
    });
  }

  close(): void {
    for (const s of this.stubs) s.stub.close();
  }
}
