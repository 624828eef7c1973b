/**
 * An unbounded first-in first-out queue between a producer and one consumer,
 * which can wait for the next value with a timeout, or read it as an async
 * iterable until the queue is closed.
 */
export class Queue<T> implements AsyncIterable<T> {
  private readonly values: T[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;

  /** Adds a value; ignored once the queue is closed. */
  push(value: T): void {
    if (this.closed) return;
    this.values.push(value);
    this.wake();
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
      if (this.values.length > 0) return this.values.shift();
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
