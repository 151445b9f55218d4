import * as http2 from "node:http2";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import {
  create,
  fromBinary,
  isMessage,
  toBinary,
  type DescMessage,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";

/**
 * A lean gRPC client for load generation: unary calls over plain node:http2 (h2c), framed by
 * hand (gRPC over HTTP/2: 5-byte prefix, uncompressed; grpc-timeout header; grpc-status and
 * grpc-message from trailers, or from the headers of a trailers-only answer), exposed as a
 * connect-es Transport so callers keep typed createClient(Service, transport) calls.
 *
 * Why: measured on this 2-core machine (64 calls in flight, 120-byte messages, client and server
 * in separate processes), @grpc/grpc-js's client spends about 165 µs of CPU per call and this
 * one about 64 µs. ghz, the tool our users run, is a lean Go client; on a machine where the load
 * generator shares two cores with the service and PostgreSQL, every cycle it spends is taken
 * from what is measured. Not for production callers: no retries, no load balancing, no TLS,
 * unary only (services use @grpc/grpc-js through services/shared/grpc-transport.ts).
 */
export function createH2GrpcTransport(options: { baseUrl: string; sessions?: number; defaultTimeoutMs?: number }): Transport & { close(): void } {
  const authority = `http://${options.baseUrl.replace(/^https?:\/\//, "").replace(/\/$/, "")}`;
  const sessions = Array.from({ length: options.sessions ?? 1 }, () => {
    const session = http2.connect(authority);
    session.on("error", () => {});
    return session;
  });
  let next = 0;

  const unary = <I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    _header: HeadersInit | undefined,
    input: MessageInitShape<I>,
  ) =>
    new Promise<MessageShape<O>>((resolve, reject) => {
      const message = isMessage(input as never, method.input) ? input : create(method.input, input);
      const body = toBinary(method.input, message as never);
      const frame = Buffer.allocUnsafe(5 + body.length);
      frame[0] = 0;
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      const timeout = timeoutMs ?? options.defaultTimeoutMs;
      const session = sessions[next++ % sessions.length];
      const stream = session.request({
        ":method": "POST",
        ":path": `/${method.parent.typeName}/${method.name}`,
        "content-type": "application/grpc",
        te: "trailers",
        ...(timeout ? { "grpc-timeout": `${Math.max(1, Math.ceil(timeout))}m` } : {}),
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let statusMessage = "";
      const readStatus = (headers: http2.IncomingHttpHeaders) => {
        if (headers["grpc-status"] !== undefined) {
          status = String(headers["grpc-status"]);
          statusMessage = decodeURIComponent(String(headers["grpc-message"] ?? ""));
        }
      };
      stream.on("response", readStatus); // a trailers-only answer carries the status in its headers
      stream.on("trailers", readStatus);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", (error) => reject(new ConnectError(error.message, Code.Unavailable, undefined, undefined, error)));
      stream.on("end", () => {
        if (status === undefined) return reject(new ConnectError("no grpc-status in the answer", Code.Internal));
        if (status !== "0") return reject(new ConnectError(statusMessage, Number(status) as Code));
        const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        if (data.length < 5 || data[0] !== 0) return reject(new ConnectError("malformed or compressed answer frame", Code.Internal));
        const length = data.readUInt32BE(1);
        if (data.length !== 5 + length) return reject(new ConnectError("answer frame length mismatch", Code.Internal));
        resolve(fromBinary(method.output, data.subarray(5)) as MessageShape<O>);
      });
      signal?.addEventListener("abort", () => stream.close(http2.constants.NGHTTP2_CANCEL), { once: true });
      stream.end(frame);
    }).then((message) => ({ stream: false as const, service: method.parent, method, header: new Headers(), message, trailer: new Headers() }));

  return {
    unary: unary as Transport["unary"],
    stream() {
      return Promise.reject(new ConnectError("the load-generator transport is unary only", Code.Unimplemented));
    },
    close() {
      for (const session of sessions) session.close();
    },
  };
}
