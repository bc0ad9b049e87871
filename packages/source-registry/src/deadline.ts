// Request deadlines: one timer per request that aborts it (answer included) with a DsvError naming the request, so no registry can keep dsv waiting past --timeout by trickling bytes.
import { DsvError } from '@dsv/core';

/** A transfer of known size gets the base deadline plus the time it takes at this rate (64 KiB/s, ≈ 0.5 Mbit/s). */
export const MIN_TRANSFER_BYTES_PER_SECOND = 64 * 1024;

/** The deadline for a request moving `size` bytes (unknown: the base deadline alone). */
export function transferTimeoutMs(baseMs: number, size: number | undefined): number {
  return size === undefined ? baseMs : baseMs + Math.ceil((size / MIN_TRANSFER_BYTES_PER_SECOND) * 1000);
}

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The deadline of one request (its retries and redirects included): `signal` aborts with the error
 * naming the request (`request` is "GET manifest app:1 from host"), or with the caller's own abort
 * reason. The timer does not keep the process alive; `clear()` once the answer is read.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly started = Date.now();
  private timedOut = false;
  private readonly onParentAbort = () => this.abort((this.parent as AbortSignal).reason);

  /** `ms` Infinity: no deadline (a stream of unknown length from the caller), only the caller's abort. */
  constructor(
    private limit: number,
    readonly request: string,
    private readonly parent?: AbortSignal,
  ) {
    if (parent?.aborted) {
      this.controller.abort(parent.reason);
      return;
    }
    parent?.addEventListener('abort', this.onParentAbort, { once: true });
    this.arm();
  }

  /** Moves the deadline to `ms` after the start (a blob whose size is learnt from its answer). */
  extend(ms: number): void {
    if (this.controller.signal.aborted || ms <= this.limit) return;
    this.limit = ms;
    if (this.timer) clearTimeout(this.timer);
    this.arm();
  }

  private arm(): void {
    this.timer = undefined;
    if (!Number.isFinite(this.limit)) return;
    this.timer = setTimeout(
      () => {
        this.timedOut = true;
        this.abort(this.error());
      },
      Math.max(0, this.started + this.limit - Date.now()),
    );
    this.timer.unref?.();
  }

  /** The deadline in ms from the start. */
  get ms(): number {
    return this.limit;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The deadline (not the caller) ended the request. */
  get expired(): boolean {
    return this.timedOut;
  }

  remainingMs(): number {
    return Math.max(0, this.started + this.limit - Date.now());
  }

  error(): DsvError {
    return new DsvError('Network', `${this.request}: no complete answer within ${seconds(this.limit)} (request deadline; --timeout)`, {
      request: this.request,
      timeoutMs: this.limit,
      transient: false,
    });
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.parent?.removeEventListener('abort', this.onParentAbort);
  }

  private abort(reason: unknown): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.parent?.removeEventListener('abort', this.onParentAbort);
    this.controller.abort(reason);
  }
}
