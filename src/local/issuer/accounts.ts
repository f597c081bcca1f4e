import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { LocalUser } from '../../config.js';

/** The user pool's people and their Cognito groups, by the `sub` their tokens carry. */
export interface Accounts {
  /** The person a `sub` names, if any. */
  bySub(sub: string | undefined): LocalUser | undefined;
  /** The `sub` of the person these credentials are for, or undefined for a wrong username or password. */
  check(username: string | null, password: string): string | undefined;
}

/** Compared in constant time, so that a wrong password takes as long as a right one. */
function samePassword(expected: string, given: string): boolean {
  const [a, b] = [createHash('sha256').update(expected).digest(), createHash('sha256').update(given).digest()];
  return timingSafeEqual(a, b);
}

export function createAccounts(people: readonly LocalUser[]): Accounts {
  // Cognito's `sub` of a user is a UUID; here one per user per run, and the username beside it.
  const users = new Map<string, LocalUser>(people.map((user) => [randomUUID(), user]));
  return {
    bySub: (sub) => (sub === undefined ? undefined : users.get(sub)),
    check(username, password) {
      const found = [...users].find(([, user]) => user.username === username);
      return found && samePassword(found[1].password, password) ? found[0] : undefined;
    },
  };
}
