// An ObjectStore wrapper for deterministic interleavings: chosen calls wait at a gate (before reaching
// the real store, or after it answered) until the test releases them, and chosen writes are reported
// failed at once while the real write happens only when the test says so (an outcome unknown to the
// caller that lands later, as a timed-out GCS upload may).
import type { Readable } from 'node:stream';
import { StreamjoinError } from '../../shared/errors.ts';
import type { ObjectInfo, ObjectStore, WriteOptions } from '../../shared/storage/port.ts';

export type StoreOp = 'read' | 'stat' | 'write' | 'list' | 'delete';

export interface Gate {
  /** Resolves when a matching call arrived at the gate. */
  readonly reached: Promise<void>;
  /** Lets the call through (or its answer back). */
  release(): void;
}

interface Rule {
  readonly op: StoreOp;
  readonly match: RegExp;
  readonly where: 'before' | 'after';
  remaining: number;
  readonly arrive: () => void;
  readonly wait: Promise<void>;
}

export interface DeferredWrites {
  /** Writes deferred so far. */
  readonly count: () => number;
  /** Performs the deferred writes in arrival order; answers each one's outcome ('ok' or the error kind). */
  land(): Promise<string[]>;
}

export class GatedStore implements ObjectStore {
  readonly inner: ObjectStore;
  private rules: Rule[] = [];
  private deferRules: { match: RegExp; remaining: number; pending: (() => Promise<string>)[] }[] = [];

  constructor(inner: ObjectStore) {
    this.inner = inner;
  }

  /** The next matching call waits at a gate: before it reaches the store, or after the store answered. */
  gate(op: StoreOp, match: RegExp, where: 'before' | 'after' = 'before'): Gate {
    let arrive!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((r) => {
      arrive = r;
    });
    const wait = new Promise<void>((r) => {
      release = r;
    });
    this.rules.push({ op, match, where, remaining: 1, arrive, wait });
    return { reached, release };
  }

  /** The next `times` matching writes fail at once with a retryable error and are performed on land(). */
  deferWrites(match: RegExp, times: number): DeferredWrites {
    const rule = { match, remaining: times, pending: [] as (() => Promise<string>)[] };
    this.deferRules.push(rule);
    return {
      count: () => rule.pending.length,
      land: async () => {
        const out: string[] = [];
        for (const w of rule.pending.splice(0)) out.push(await w());
        return out;
      },
    };
  }

  private async pass<T>(op: StoreOp, uri: string, call: () => Promise<T>): Promise<T> {
    const rule = this.rules.find((r) => r.remaining > 0 && r.op === op && r.match.test(uri));
    if (rule === undefined) return call();
    rule.remaining--;
    if (rule.where === 'before') {
      rule.arrive();
      await rule.wait;
      return call();
    }
    const result = await call();
    rule.arrive();
    await rule.wait;
    return result;
  }

  read = (uri: string): Promise<Buffer> => this.pass('read', uri, () => this.inner.read(uri));
  readRange = (uri: string, s: number, e: number): Promise<Buffer> => this.inner.readRange(uri, s, e);
  openRead = (uri: string): Readable => this.inner.openRead(uri);
  stat = (uri: string): Promise<ObjectInfo | undefined> => this.pass('stat', uri, () => this.inner.stat(uri));
  delete = (uri: string): Promise<void> => this.pass('delete', uri, () => this.inner.delete(uri));

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const items: ObjectInfo[] = await this.pass('list', prefix, async () => {
      const out: ObjectInfo[] = [];
      for await (const o of this.inner.list(prefix)) out.push(o);
      return out;
    });
    yield* items;
  }

  write(uri: string, data: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo> {
    const defer = this.deferRules.find((r) => r.remaining > 0 && r.match.test(uri));
    if (defer !== undefined) {
      defer.remaining--;
      const copy = typeof data === 'string' ? data : Buffer.from(data);
      defer.pending.push(() =>
        this.inner.write(uri, copy, options).then(
          () => 'ok',
          (err: unknown) => (err instanceof StreamjoinError ? err.kind : String(err)),
        ),
      );
      return Promise.reject(
        new StreamjoinError('unavailable', `injected: the write of ${uri} timed out (it may still land)`, {
          context: { uri },
        }),
      );
    }
    return this.pass('write', uri, () => this.inner.write(uri, data, options));
  }

  writeStream(
    uri: string,
    source: AsyncIterable<Uint8Array> | Readable,
    options?: WriteOptions,
  ): Promise<ObjectInfo> {
    return this.pass('write', uri, () => this.inner.writeStream(uri, source, options));
  }
}
