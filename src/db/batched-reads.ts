/**
 * Reads by key that arrive together answered by one query: the keys asked before the batch is sent (within
 * the same turn of the event loop, at most `maxBatch`) go in one `read`, and each asker gets its key's value.
 * Every read starts after every one of its askers asked, so no answer is older than its question: triggers
 * of one project polling at one slot share a revision check without any of them taking a stale one.
 */
export class BatchedReads<V> {
  private waiting = new Map<
    string,
    Array<{ resolve: (v: V | null) => void; reject: (e: unknown) => void }>
  >();
  private scheduled = false;

  /** `read` answers the keys it finds; a key it leaves out is answered with null. */
  constructor(
    private readonly read: (keys: string[]) => Promise<Map<string, V>>,
    private readonly maxBatch = 500,
  ) {}

  /** The value of `key`, read in the next batch. */
  get(key: string): Promise<V | null> {
    return new Promise((resolve, reject) => {
      const askers = this.waiting.get(key);
      if (askers) askers.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (this.waiting.size >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.waiting.size === 0) return;
    const batch = this.waiting;
    this.waiting = new Map();
    this.read([...batch.keys()]).then(
      (values) => {
        for (const [key, askers] of batch) for (const a of askers) a.resolve(values.get(key) ?? null);
      },
      (err: unknown) => {
        for (const askers of batch.values()) for (const a of askers) a.reject(err);
      },
    );
  }
}
