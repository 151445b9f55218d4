import * as grpc from "@grpc/grpc-js";
import { create, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { grpcMethodDefinition } from "../../services/shared/grpc-method.ts";

export type Unary = (request: unknown, options?: { deadlineMs?: number }) => Promise<unknown>;

/**
 * A grpc-js client for a protobuf-es service descriptor: one promise-returning function per
 * unary method (keyed by localName). `channelIndex` gives distinct channels (connections).
 */
export function grpcClientOf(service: DescService, target: string, channelIndex = 0): Record<string, Unary> & { close(): void } {
  const unaryMethods = service.methods.filter((method) => method.methodKind === "unary");
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of unaryMethods) definition[method.localName] = grpcMethodDefinition(service, method);
  const Constructor = grpc.makeGenericClientConstructor(definition as grpc.ServiceDefinition, service.name);
  // A distinct channel option keeps grpc-js from sharing one subchannel across "connections".
  const client = new Constructor(target, grpc.credentials.createInsecure(), { "bench.channel_index": channelIndex });
  const calls: Record<string, Unary> = {};
  for (const method of unaryMethods) {
    const schema = method.input as DescMessage;
    calls[method.localName] = (request, options = {}) =>
      new Promise((resolve, reject) => {
        const deadline = new Date(Date.now() + (options.deadlineMs ?? 5_000));
        const fn = (client as unknown as Record<string, Function>)[method.localName].bind(client);
        fn(create(schema, request as never), new grpc.Metadata(), { deadline }, (error: grpc.ServiceError | null, response: unknown) =>
          error ? reject(error) : resolve(response),
        );
      });
  }
  return Object.assign(calls, { close: () => client.close() });
}

/** A Luhn-valid 16-digit PAN with the given 15-digit body. */
export function luhnPan(body15: string): string {
  let sum = 0;
  for (let index = 0; index < 15; index += 1) {
    let digit = Number(body15[14 - index]);
    if (index % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return `${body15}${(10 - (sum % 10)) % 10}`;
}

