/**
 * One grpc-js method definition for a protobuf-es method descriptor, shared by the services'
 * grpc-js server (server.ts) and the grpc-js clients of the scripts and benchmarks, so both
 * sides agree on the path and the wire format. Kept apart from server.ts so a client does not
 * load the server's dependencies.
 */
import type * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";

/**
 * The grpc-js definition of `method` of `service`: path `/<package.Service>/<Method>`
 * (the gRPC over HTTP/2 spec), streaming flags from the method kind, protobuf binary
 * serialization both ways, originalName = the method's localName (grpc-js handler key).
 */
export function grpcMethodDefinition(service: DescService, method: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  return {
    path: `/${service.typeName}/${method.name}`,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (value: unknown) => Buffer.from(toBinary(method.input, value as never)),
    requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
    responseSerialize: (value: unknown) => Buffer.from(toBinary(method.output, value as never)),
    responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    originalName: method.localName,
  };
}
