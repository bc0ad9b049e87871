// A small containerd gRPC client over the unix socket: unary, server-streaming and bidi calls with the
// `containerd-namespace` (and optional `containerd-lease`) metadata, gRPC failures mapped to DsvErrors.
import * as grpc from '@grpc/grpc-js';
import { DsvError, ErrorCodes, type ErrorCode } from '@dsv/core';
import { messageType } from './proto.js';

export const DEFAULT_ADDRESS = '/run/containerd/containerd.sock';
export const DEFAULT_NAMESPACE = 'default';

const SERVICES = {
  content: 'containerd.services.content.v1.Content',
  images: 'containerd.services.images.v1.Images',
  leases: 'containerd.services.leases.v1.Leases',
  namespaces: 'containerd.services.namespaces.v1.Namespaces',
} as const;
export type ServiceName = keyof typeof SERVICES;

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Msg = Record<string, any>;

export interface CallOptions {
  /** Attach the call to this lease (`containerd-lease`). */
  lease?: string;
}

interface Codec {
  path: string;
  serialize(value: Msg): Buffer;
  deserialize(bytes: Buffer): Msg;
}

const codecs = new Map<string, Codec>();

function codec(service: ServiceName, method: string, request: string, response: string): Codec {
  const path = `/${SERVICES[service]}/${method}`;
  let c = codecs.get(path);
  if (c) return c;
  const pkg = SERVICES[service].slice(0, SERVICES[service].lastIndexOf('.'));
  const full = (t: string) => (t.includes('.') ? t : `${pkg}.${t}`);
  const req = messageType(full(request));
  const res = messageType(full(response));
  c = {
    path,
    serialize: (value) => Buffer.from(req.encode(req.fromObject(value)).finish()),
    deserialize: (bytes) => res.toObject(res.decode(bytes), { longs: Number, enums: String, defaults: true }) as Msg,
  };
  codecs.set(path, c);
  return c;
}

export class ContainerdClient {
  private readonly client: grpc.Client;
  /** `timeoutMs`: the deadline of each unary call (SystemContext.requestTimeoutMs, --timeout; default 60 s). */
  constructor(readonly address: string, readonly namespace: string, private readonly timeoutMs = 60_000) {
    this.client = new grpc.Client(`unix:${address}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.max_send_message_length': 16 * 1024 * 1024,
    });
  }

  private metadata(opts?: CallOptions): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set('containerd-namespace', this.namespace);
    if (opts?.lease) md.set('containerd-lease', opts.lease);
    return md;
  }

  unary(service: ServiceName, method: string, types: [string, string], request: Msg, opts?: CallOptions): Promise<Msg> {
    const c = codec(service, method, types[0], types[1]);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(c.path, c.serialize, c.deserialize, request, this.metadata(opts), { deadline: Date.now() + this.timeoutMs }, (err, value) => {
        if (err) reject(this.toDsvError(err, `${service}.${method}`));
        else resolve(value ?? {});
      });
    });
  }

  serverStream(service: ServiceName, method: string, types: [string, string], request: Msg, opts?: CallOptions): grpc.ClientReadableStream<Msg> {
    const c = codec(service, method, types[0], types[1]);
    return this.client.makeServerStreamRequest(c.path, c.serialize, c.deserialize, request, this.metadata(opts), {});
  }

  bidi(service: ServiceName, method: string, types: [string, string], opts?: CallOptions): grpc.ClientDuplexStream<Msg, Msg> {
    const c = codec(service, method, types[0], types[1]);
    return this.client.makeBidiStreamRequest(c.path, c.serialize, c.deserialize, this.metadata(opts), {});
  }

  /** A gRPC failure as a DsvError naming the socket (unreachable) or what was asked. */
  toDsvError(err: unknown, what: string): DsvError {
    if (err instanceof DsvError) return err;
    const e = err as grpc.ServiceError;
    const details = { address: this.address, namespace: this.namespace, grpcCode: e?.code, call: what };
    const message = e?.details || (e as Error)?.message || String(err);
    let code: ErrorCode = ErrorCodes.RemoteError;
    switch (e?.code) {
      case grpc.status.DEADLINE_EXCEEDED: {
        const secs = this.timeoutMs % 1000 === 0 ? `${this.timeoutMs / 1000} s` : `${(this.timeoutMs / 1000).toFixed(1)} s`;
        return new DsvError(ErrorCodes.Network, `containerd at ${this.address}: ${what}: no answer within ${secs} (request deadline; --timeout)`, details, { cause: err });
      }
      case grpc.status.UNAVAILABLE:
        return new DsvError(ErrorCodes.Network, `containerd is not reachable at ${this.address}: ${message}`, details, { cause: err });
      case grpc.status.NOT_FOUND:
        code = ErrorCodes.NotFound;
        break;
      case grpc.status.PERMISSION_DENIED:
      case grpc.status.UNAUTHENTICATED:
        code = ErrorCodes.AuthFailed;
        break;
      case grpc.status.INVALID_ARGUMENT:
        code = ErrorCodes.Usage;
        break;
    }
    return new DsvError(code, `containerd ${what} (namespace ${this.namespace}): ${message}`, details, { cause: err });
  }

  close(): void {
    this.client.close();
  }
}

/** True when the error is gRPC's (or our mapped) not-found / already-exists. */
export function grpcCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; details?: { grpcCode?: unknown } };
  if (typeof e?.details === 'object' && typeof e.details?.grpcCode === 'number') return e.details.grpcCode;
  return typeof e?.code === 'number' ? e.code : undefined;
}
export const GrpcStatus = grpc.status;
