interface Flight<T> {
  readonly promise: Promise<T>;
  readonly controller: AbortController;
  waiters: number;
}

/**
 * Shares one in-flight request between concurrent callers with the same key, and keeps the answer for a
 * short while, so registry traffic grows with distinct packages and not with triggers. A caller may leave
 * early through its own abort signal; the shared load is aborted once no caller waits for it any more,
 * so a cancelled or timed-out poll never leaves a listing running on its own.
 */
export class SingleFlightCache<T> {
  private readonly inFlight = new Map<string, Flight<T>>();
  private readonly done = new Map<string, { value: T; at: number }>();

  /**
   * `ttlMs`: how old an answer a caller takes, at most (when it names no age, that old); 0 turns the cache
   * off (every call loads, concurrent ones still share the flight).
   */
  constructor(
    readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The cached answer if younger than `maxAgeMs` (default: the TTL) and the TTL, else the shared in-flight or a
   * new call. `pastTtl`: up to `maxAgeMs` however long the TTL (a take-along poll naming the read of its
   * package's watcher); never with the cache off.
   */
  async get(
    key: string,
    load: (signal: AbortSignal) => Promise<T>,
    maxAgeMs = this.ttlMs,
    signal?: AbortSignal,
    pastTtl = false,
  ): Promise<T> {
    signal?.throwIfAborted();
    const hit = this.done.get(key);
    const limit = pastTtl ? maxAgeMs : Math.min(maxAgeMs, this.ttlMs);
    if (hit && this.ttlMs > 0 && this.now() - hit.at < limit) return hit.value;
    const flight = this.inFlight.get(key) ?? this.start(key, load);
    flight.waiters++;
    if (!signal) return flight.promise;
    return new Promise<T>((resolve, reject) => {
      const leave = () => {
        flight.waiters--;
        if (flight.waiters === 0) flight.controller.abort(signal.reason);
        reject(signal.reason);
      };
      signal.addEventListener('abort', leave, { once: true });
      flight.promise.then(
        (value) => {
          signal.removeEventListener('abort', leave);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', leave);
          reject(err);
        },
      );
    });
  }

  private start(key: string, load: (signal: AbortSignal) => Promise<T>): Flight<T> {
    const controller = new AbortController();
    const promise = load(controller.signal).then(
      (value) => {
        if (this.inFlight.get(key)?.promise === promise) this.inFlight.delete(key);
        if (this.done.size >= this.maxEntries) this.done.delete(this.done.keys().next().value as string);
        this.done.delete(key);
        this.done.set(key, { value, at: this.now() });
        return value;
      },
      (err: unknown) => {
        if (this.inFlight.get(key)?.promise === promise) this.inFlight.delete(key);
        // The answer kept from before is stale now (the registry may be down): never served as fresh again.
        this.done.delete(key);
        throw err;
      },
    );
    // Callers that left early do not observe the rejection; keep it from being reported as unhandled.
    promise.catch(() => undefined);
    const flight: Flight<T> = { promise, controller, waiters: 0 };
    this.inFlight.set(key, flight);
    return flight;
  }
}
