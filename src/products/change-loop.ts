import { setTimeout as sleep } from 'node:timers/promises';
import type { Deadline } from './deadline.js';
import { ProductError } from './outcomes.js';
import type { ProductRepository, Signal, StoredProduct, Written } from './repository.js';
import type { Product } from './schema.js';

/** Decides whether a change may go ahead on the version it read (an `If-Match` check, say). */
export type Precondition = (current: Product) => boolean;

/** A write that lost a race: applied again to the new version, or given up as the deadline allowed no retry. */
export type ConflictOutcome = 'retried' | 'exhausted';

/**
 * One change to one product: given what is stored, the conditional write to make, or `done` when there is nothing
 * to write (for a change that can be done already). It throws a `ProductError` to refuse.
 */
export interface Change<Done extends 'done' = never> {
  /** With one, a lost race means the caller's version is stale; without, the change is applied again. */
  readonly precondition: Precondition | undefined;
  decide(stored: StoredProduct | undefined, signal: Signal): Promise<Written | 'conflict'> | Done;
}

export const stale = () => new ProductError('stale_etag', 'the product changed since that ETag');

/** Full jitter (exponential backoff, each wait random up to its cap), so that racing writers spread out. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(200, 5 * 2 ** attempt);
}

/** Hands a stored write's outbox to the drainer, and waits for it within the deadline. */
export type Deliver = (id: string, written: Pick<Written, 'outbox'>, deadline: Deadline) => Promise<void>;

export interface ChangeLoopDeps {
  readonly repository: Pick<ProductRepository, 'get'>;
  readonly deliver: Deliver;
  readonly onConflict?: ((outcome: ConflictOutcome) => void) | undefined;
}

/**
 * The one optimistic-concurrency loop every change goes through: read, decide, write on condition that nothing
 * changed, and on a lost race back off and go again, within the deadline. Resolves to what was written, or `done`
 * when the change was done already.
 */
export type ChangeLoop = <Done extends 'done' = never>(
  id: string,
  change: Change<Done>,
  deadline: Deadline,
) => Promise<Written | Done>;

export function createChangeLoop({ repository, deliver, onConflict }: ChangeLoopDeps): ChangeLoop {
  // Changes to one product made in this process take turns (a read and a conditional write each), so that they
  // never race each other; only writers in other processes can, and they are retried with backoff.
  const turns = new Map<string, Promise<void>>();
  function inTurn<T>(id: string, work: () => Promise<T>): Promise<T> {
    const result = (turns.get(id) ?? Promise.resolve()).then(work);
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    turns.set(id, done);
    void done.then(() => {
      if (turns.get(id) === done) turns.delete(id);
    });
    return result;
  }

  /** Waits before the next attempt after a lost race, or gives up when the deadline would not allow another. */
  async function backoff(attempt: number, deadline: Deadline): Promise<void> {
    const wait = backoffMs(attempt);
    // Room for the wait and one more read and write.
    if (deadline.remaining() < wait + 50) {
      onConflict?.('exhausted');
      throw new ProductError('conflict_exhausted', 'the product is changing too often; try again');
    }
    onConflict?.('retried');
    await sleep(wait);
  }

  return async <Done extends 'done'>(id: string, change: Change<Done>, deadline: Deadline) => {
    for (let attempt = 0; ; attempt += 1) {
      const written = await inTurn(id, async () =>
        change.decide(await repository.get(id, deadline.signal), deadline.signal),
      );
      if (written === 'conflict') {
        // Someone else wrote first. With a precondition the caller asked for exactly that version: tell it. Without,
        // the change is applied again to the new version, so no update is lost.
        if (change.precondition) throw stale();
        await backoff(attempt, deadline);
        continue;
      }
      if (written !== 'done') await deliver(id, written, deadline);
      return written;
    }
  };
}
