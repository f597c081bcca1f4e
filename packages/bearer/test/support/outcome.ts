import assert from 'node:assert/strict';
import type { Outcome, Refusal } from '../../src/authenticator.js';
import type { Principal } from '../../src/principal.js';
import { Refused, type RefusalReason } from '../../src/refusals.js';
import type { Verifier } from '../../src/verifier.js';

/** Verifies `token` and says how it ended: 'accepted', or the refusal reason. */
export async function outcome(verifier: Pick<Verifier, 'check'>, token: string): Promise<RefusalReason | 'accepted'> {
  const verdict = await verifier.check(token);
  return verdict instanceof Refused ? verdict.reason : 'accepted';
}

/** A refusal as a rejection, for `assert.rejects(verify(…), { reason })`. */
export class RefusedError extends Error {
  constructor(readonly reason: RefusalReason) {
    super(reason);
  }
}

/** The principal, or a rejection with the refusal's reason. */
export async function verify(verifier: Pick<Verifier, 'check'>, token: string): Promise<Principal> {
  const verdict = await verifier.check(token);
  if (verdict instanceof Refused) throw new RefusedError(verdict.reason);
  return verdict;
}

/**
 * What the verifier answers without an async step: the subject, the refusal's reason, or `undefined` when it
 * answers with a promise (left to settle on its own).
 */
export function answerNow(verifier: Pick<Verifier, 'check'>, token: string): string | undefined {
  const verdict = verifier.check(token);
  if (verdict instanceof Promise) {
    verdict.catch(() => undefined);
    return undefined;
  }
  return verdict instanceof Refused ? verdict.reason : verdict.subject;
}

/** The refusal an authenticator answered, asserting that it refused (and showing what it admitted if not). */
export async function refusalOf(outcome: Outcome | Promise<Outcome>): Promise<Refusal> {
  const settled = await outcome;
  assert.ok('refusal' in settled, `refused, not admitted as ${JSON.stringify(settled)}`);
  return settled.refusal;
}
