/**
 * Shares one in-flight request between concurrent callers with the same key, and keeps the answer for a
 * short while, so registry traffic grows with distinct packages and not with triggers.
 */
export class SingleFlightCache<T> {
  private readonly inFlight = new Map<string, Promise<T>>();
  private readonly done = new Map<string, { value: T; at: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached answer if younger than `maxAgeMs` (default: the TTL), else the shared in-flight or a new call. */
  async get(key: string, load: () => Promise<T>, maxAgeMs = this.ttlMs): Promise<T> {
    const hit = this.done.get(key);
    if (hit && this.now() - hit.at < Math.min(maxAgeMs, this.ttlMs)) return hit.value;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const call = load().then(
      (value) => {
        this.inFlight.delete(key);
        if (this.done.size >= this.maxEntries) this.done.delete(this.done.keys().next().value as string);
        this.done.delete(key);
        this.done.set(key, { value, at: this.now() });
        return value;
      },
      (err: unknown) => {
        this.inFlight.delete(key);
        throw err;
      },
    );
    this.inFlight.set(key, call);
    return call;
  }
}
