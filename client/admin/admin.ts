/** Scopes and streams, through the controller. */
import { InvalidArgumentError, parseStreamName, validateName } from "../../common/index.js";
import type { GetStreamResponse } from "../../proto/index.js";
import type { ControllerClient } from "../controller/controller-client.js";

export interface StreamOptions {
  /** Fixed scaling: the stream has exactly `minSegments` segments. Other policies come later. */
  scaling?: { type: "fixed"; minSegments: number };
}

export class Admin {
  constructor(private readonly controller: ControllerClient) {}

  /** Creates a scope; false if it exists. Raises INVALID_NAME. */
  async createScope(scope: string): Promise<boolean> {
    validateName("scope", scope);
    return (await this.controller.call("CreateScope", { scope })).created;
  }

  async listScopes(): Promise<string[]> {
    return (await this.controller.call("ListScopes", {})).scopes;
  }

  /** Creates `scope/stream`; false if it exists. Raises INVALID_NAME, INVALID_ARGUMENT, NO_SUCH_SCOPE. */
  async createStream(stream: string, options: StreamOptions = {}): Promise<boolean> {
    const { scope, stream: name } = parseStreamName(stream);
    const scaling = options.scaling ?? { type: "fixed", minSegments: 1 };
    if (scaling.type !== "fixed") throw new InvalidArgumentError(`scaling type ${String(scaling.type)} is not supported; use "fixed"`);
    const r = await this.controller.call("CreateStream", {
      scope,
      stream: name,
      config: { scaling: { type: "FIXED", minSegments: scaling.minSegments } },
    });
    return r.created;
  }

  /** Names of the streams of a scope. Raises NO_SUCH_SCOPE. */
  async listStreams(scope: string): Promise<string[]> {
    validateName("scope", scope);
    return (await this.controller.call("ListStreams", { scope })).streams;
  }

  /** Config and current segments of `scope/stream`. Raises NO_SUCH_STREAM. */
  async streamInfo(stream: string): Promise<GetStreamResponse> {
    const { scope, stream: name } = parseStreamName(stream);
    return this.controller.call("GetStream", { scope, stream: name });
  }
}
