// A bounded async channel: a producer awaits push() (backpressure), a consumer iterates.
export class Channel<T> implements AsyncIterable<T> {
  private readonly buf: T[] = [];
  private closed = false;
  private failure: unknown;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;
  private readonly capacity: number;

  constructor(capacity = 1024) {
    this.capacity = capacity;
  }

  async push(item: T): Promise<void> {
    while (this.buf.length >= this.capacity && !this.closed) {
      await new Promise<void>((r) => {
        this.wakeProducer = r;
      });
    }
    if (this.closed) throw new Error('push on a closed channel');
    this.buf.push(item);
    this.wakeConsumer?.();
  }

  close(error?: unknown): void {
    this.closed = true;
    this.failure = error;
    this.wakeConsumer?.();
    this.wakeProducer?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.buf.length > 0) {
        const item = this.buf.shift()!;
        this.wakeProducer?.();
        yield item;
        continue;
      }
      if (this.closed) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((r) => {
        this.wakeConsumer = r;
      });
    }
  }
}
