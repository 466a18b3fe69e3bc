import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Client } from '@temporalio/client';
import { createApp } from '../../src/api/app';
import type { Ledger } from '../../src/db/ledger';
import type { AccessStore } from '../../src/db/access';
import { ReceiverStore } from '../../src/db/receivers';
import type { SessionStore } from '../../src/db/sessions';
import type { OverviewStore } from '../../src/db/overview';
import type { ChangeStore } from '../../src/db/changes';
import { TemporalHealth } from '../../src/api/temporal-health';

/** The API in front of a stand-in Temporal client (never started: with no server to probe, Temporal counts as up). */
async function serve(client: Client): Promise<Server> {
  const app = createApp({
    client,
    taskQueue: 'unused',
    ledger: {} as Ledger,
    access: {} as AccessStore,
    // Notifications without event ids and no webhook token have no replay keys: the store is asked only to
    // keep each answer for the admin page, which fails here (no database) and is only logged.
    receivers: new ReceiverStore({} as never),
    sessions: {} as SessionStore,
    overview: {} as OverviewStore,
    changes: {} as ChangeStore,
    health: new TemporalHealth(client),
  });
  return new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
}

/** Waits until `probe` holds; the bounds are generous: this box may be loaded by other tests. */
async function until(probe: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A registry's push notification of `repository:1.0.0` on reg.example; an answer that waits on what the test
 * holds back fails in 10 s with this message rather than at the test's timeout.
 */
async function notifyPush(server: Server, repository: string): Promise<Response> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('the answer waited on the held-back signal or lookup')),
      10_000,
    );
  });
  const answer = fetch(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/registry?feed=reg.example`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ action: 'push', target: { repository, tag: '1.0.0' } }] }),
    },
  );
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A trigger can close between the visibility listing and its signal (visibility is eventually consistent,
 * so this race cannot be staged reliably on a real server): the others must still be signalled and the
 * answer must say which one was missed. A loaded server's slow signal goes on after the answer, which lists
 * it as pending. The Temporal client here is a stand-in for exactly those cases.
 */
test('one trigger closed since the listing does not cost the others their signal; a slow signal does not hold the answer', async () => {
  const signalled: string[] = [];
  const queries: string[] = [];
  // A loaded server: the slow signal is taken only when the test lets it, long after the answer.
  let letSlowIn: () => void = () => undefined;
  const slowHeld = new Promise<void>((resolve) => (letSlowIn = resolve));
  const client = {
    workflow: {
      async *list({ query }: { query: string }) {
        queries.push(query);
        // As the server answers: each with the packages it watches.
        const watching = { get: () => ['reg.example/a/b'] };
        for (const id of ['alive-1', 'gone', 'alive-2', 'slow'])
          yield { workflowId: `trigger/p/${id}`, typedSearchAttributes: watching };
      },
      getHandle: (id: string) => ({
        signal: async () => {
          if (id.endsWith('gone')) throw new Error('workflow execution already completed');
          if (id.endsWith('slow')) await slowHeld;
          signalled.push(id);
        },
      }),
    },
  } as unknown as Client;
  const server = await serve(client);
  try {
    const res = await notifyPush(server, 'a/b');
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({
      packages: ['reg.example/a/b'],
      triggers: ['trigger/p/alive-1', 'trigger/p/alive-2', 'trigger/p/slow'],
      pending: ['trigger/p/slow'],
      missed: ['trigger/p/gone'],
    });
    // The sender did not wait for the slow signal (`pending` above, and not signalled yet), which still
    // arrives once the server takes it. (No clock: on a loaded box a wall-time bound says more about the box
    // than the code.)
    expect(signalled.sort()).toEqual(['trigger/p/alive-1', 'trigger/p/alive-2']);
    letSlowIn();
    await until(() => signalled.length === 3, 'the slow signal');
    expect(signalled.sort()).toEqual(['trigger/p/alive-1', 'trigger/p/alive-2', 'trigger/p/slow']);
    expect(queries).toEqual([
      "WorkflowType = 'trigger' AND ExecutionStatus = 'Running' AND FeedTriggersPackages IN ('reg.example/a/b')",
    ]);
  } finally {
    letSlowIn();
    await new Promise((r) => server.close(r));
  }
});

/**
 * Watchers are read again in the background once their list is 2 s old: the answer uses the old list, and
 * a trigger started since (which the new read finds) is signalled when the read comes back.
 */
test('a trigger started since the watchers were read is signalled by the background read', async () => {
  const signalled: string[] = [];
  let running = ['trigger/q/first'];
  let reads = 0;
  const client = {
    workflow: {
      async *list() {
        reads++;
        const watching = { get: () => ['reg.example/c/d'] };
        for (const workflowId of running) yield { workflowId, typedSearchAttributes: watching };
      },
      getHandle: (id: string) => ({ signal: async () => void signalled.push(id) }),
    },
  } as unknown as Client;
  const server = await serve(client);
  const notify = async () => {
    const res = await notifyPush(server, 'c/d');
    return ((await res.json()) as { triggers: string[] }).triggers;
  };
  try {
    expect(await notify()).toEqual(['trigger/q/first']);
    running = ['trigger/q/first', 'trigger/q/second'];
    expect([await notify(), reads]).toEqual([['trigger/q/first'], 1]);
    // 2.1 s later (the clock moved on, not waited for).
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 2100);
    // Stale: answered from the old list at once, read again behind the answer.
    expect(await notify()).toEqual(['trigger/q/first']);
    await until(() => signalled.includes('trigger/q/second'), 'the background read');
    expect(reads).toBe(2);
    expect(signalled.filter((id) => id === 'trigger/q/second')).toEqual(['trigger/q/second']);
    expect(await notify()).toEqual(['trigger/q/first', 'trigger/q/second']);
  } finally {
    jest.restoreAllMocks();
    await new Promise((r) => server.close(r));
  }
});

/** A visibility query far slower than 2 s: the answer names the package as deferred; its watchers still hear. */
test('a slow watcher lookup is finished behind the answer, shared by the notifications meanwhile', async () => {
  const signalled: string[] = [];
  let reads = 0;
  // The visibility query answers only when the test lets it, long after the 2 s an answer waits for it.
  let answerLookup: () => void = () => undefined;
  const lookupHeld = new Promise<void>((resolve) => (answerLookup = resolve));
  const client = {
    workflow: {
      async *list() {
        reads++;
        await lookupHeld;
        yield { workflowId: 'trigger/r/late', typedSearchAttributes: { get: () => ['reg.example/e/f'] } };
      },
      getHandle: (id: string) => ({ signal: async () => void signalled.push(id) }),
    },
  } as unknown as Client;
  const server = await serve(client);
  const notify = async () => {
    const res = await notifyPush(server, 'e/f');
    return res.json();
  };
  try {
    const answers = await Promise.all([notify(), notify()]);
    // Answered after the 2 s the lookup is given, not after the lookup: the trigger it finds is not in the
    // answers (deferred), and nothing is signalled yet.
    expect(signalled).toEqual([]);
    expect(answers).toEqual([
      { packages: ['reg.example/e/f'], triggers: [], deferred: ['reg.example/e/f'] },
      { packages: ['reg.example/e/f'], triggers: [], deferred: ['reg.example/e/f'] },
    ]);
    expect(reads).toBe(1);
    answerLookup();
    await until(() => signalled.length > 0, 'the late lookup');
    await new Promise((r) => setTimeout(r, 200));
    // Both notifications' signals coalesced into the one or two the trigger was sent.
    expect(signalled.length).toBeGreaterThanOrEqual(1);
    expect(new Set(signalled)).toEqual(new Set(['trigger/r/late']));
  } finally {
    answerLookup();
    await new Promise((r) => server.close(r));
  }
});
