/** A clock the test moves by hand: its `now` goes to the core's `now` option and to `startTestIssuer({ now })`. */
export interface TestClock {
  /** Epoch milliseconds. */
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
