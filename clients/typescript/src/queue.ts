/**
 * An unbounded first-in first-out queue between a producer and one consumer,
 * which can wait for the next value with a timeout, or read it as an async
 * iterable until the queue is closed.
 */
export class Queue<T> implements AsyncIterable<T> {
  // Values are read from `head` on; the array is compacted once most of it
  // has been read, so that taking a value never moves the others.
  private values: (T | undefined)[] = [];
  private head = 0;
  private waiter: (() => void) | undefined;
  private closed = false;

  /** Adds a value; ignored once the queue is closed. */
  push(value: T): void {
    if (this.closed) return;
    this.values.push(value);
    this.wake();
  }

  /** The next value if there is one now, without waiting. */
  take(): T | undefined {
    if (this.head >= this.values.length) return undefined;
    const value = this.values[this.head];
    this.values[this.head++] = undefined;
    if (this.head === this.values.length) {
      this.values.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.values.length) {
      this.values = this.values.slice(this.head);
      this.head = 0;
    }
    return value;
  }

  /** Ends the queue: values already in it are still read, then it is done. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * The next value, waiting at most `timeoutMs` (forever when undefined);
   * `undefined` on timeout or when the queue is closed and empty.
   */
  async shift(timeoutMs?: number): Promise<T | undefined> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    for (;;) {
      if (this.head < this.values.length) return this.take();
      if (this.closed) return undefined;
      const left = deadline === undefined ? undefined : deadline - Date.now();
      if (left !== undefined && left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = left === undefined ? undefined : setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      // Without a timeout, `undefined` means closed and drained.
      const value = await this.shift();
      if (value === undefined) return;
      yield value;
    }
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
