/** A clock the test moves by hand, for the verifier's and key set's `now` option. */
export interface TestClock {
  readonly now: () => number;
  advance(ms: number): void;
}

export function createTestClock(start = Date.now()): TestClock {
  let time = start;
  return {
    now: () => time,
    advance(ms) {
      time += ms;
    },
  };
}
