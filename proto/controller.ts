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

export interface CreateScopeRequest { scope: string }
export interface CreateScopeResponse { created: boolean }
export type ListScopesRequest = Record<string, never>;
export interface ListScopesResponse { scopes: string[] }
export type ScalingType = "SCALING_TYPE_UNSPECIFIED" | "FIXED";
export interface ScalingPolicy { type: ScalingType; minSegments: number }
export interface StreamConfig { scaling: ScalingPolicy }
export interface CreateStreamRequest { scope: string; stream: string; config: StreamConfig }
export interface CreateStreamResponse { created: boolean }
export interface ListStreamsRequest { scope: string }
export interface ListStreamsResponse { streams: string[] }
export interface GetStreamRequest { scope: string; stream: string }
export interface SegmentRange {
  segment: string;
  number: number;
  epoch: number;
  keyStart: number;
  keyEnd: number;
}
export interface GetStreamResponse {
  scope: string;
  stream: string;
  config: StreamConfig;
  epoch: number;
  segments: SegmentRange[];
  createdAtMs: number;
}
export interface GetCurrentSegmentsRequest { scope: string; stream: string }
export interface GetCurrentSegmentsResponse { segments: SegmentRange[] }
export interface GetSegmentEndpointRequest { segment: string }
export interface GetSegmentEndpointResponse { host: string; port: number; container: number }

/** Request and response types of each RPC, by method name. */
export interface ControllerMethods {
  CreateScope: [CreateScopeRequest, CreateScopeResponse];
  ListScopes: [ListScopesRequest, ListScopesResponse];
  CreateStream: [CreateStreamRequest, CreateStreamResponse];
  ListStreams: [ListStreamsRequest, ListStreamsResponse];
  GetStream: [GetStreamRequest, GetStreamResponse];
  GetCurrentSegments: [GetCurrentSegmentsRequest, GetCurrentSegmentsResponse];
  GetSegmentEndpoint: [GetSegmentEndpointRequest, GetSegmentEndpointResponse];
}
export type ControllerMethod = keyof ControllerMethods;
export const controllerMethodNames: readonly ControllerMethod[] = [
  "CreateScope",
  "ListScopes",
  "CreateStream",
  "ListStreams",
  "GetStream",
  "GetCurrentSegments",
  "GetSegmentEndpoint",
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

function codec<T>(type: protobuf.Type): { serialize: (value: T) => Buffer; deserialize: (bytes: Buffer) => T } {
  return {
    serialize: (value: T) => {
      const message = type.fromObject(value as Record<string, unknown>);
      return Buffer.from(type.encode(message).finish());
    },
    deserialize: (bytes: Buffer) => type.toObject(type.decode(bytes), toObjectOptions) as T,
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
