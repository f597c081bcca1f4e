// Child process of `npm run bench`: the direct SDK calls, made from a process that does nothing else, so that their
// CPU per call is not inflated by the load generator's heap. Reads one command per line on stdin, answers one line.
import { createInterface } from 'node:readline';
import { createWithOutbox, documentsAt, getProduct, putProduct, storedFields } from './direct-store.js';

export type DirectOp = 'get' | 'create' | 'put';
export interface DirectCommand {
  readonly op: DirectOp;
  readonly seconds: number;
  readonly connections: number;
  readonly id: string;
  readonly fields: object;
  /** Calls per second, with `count` calls in all, instead of as many as `seconds` allows: the fixed-rate method. */
  readonly rate?: number;
  readonly count?: number;
}
export interface DirectResult {
  readonly ok: number;
  readonly elapsed: number;
  readonly cpuSeconds: number;
}

const [endpoint = ''] = process.argv.slice(2);
const documents = documentsAt(endpoint);

async function run(command: DirectCommand): Promise<DirectResult> {
  const item = storedFields(command.fields);
  const ops: Record<DirectOp, () => Promise<unknown>> = {
    get: () => getProduct(documents, command.id),
    create: () => createWithOutbox(documents, item),
    put: () => putProduct(documents, item),
  };
  const op = ops[command.op];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const until = started + command.seconds * 1000;
  let ok = 0;
  if (command.rate !== undefined) {
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < (command.count ?? 0); i += 1) {
      const wait = started + (i * 1000) / command.rate - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const call: Promise<unknown> = op().then(() => {
        ok += 1;
        inFlight.delete(call);
      });
      inFlight.add(call);
      if (inFlight.size >= command.connections) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } else
    await Promise.all(
      Array.from({ length: command.connections }, async () => {
        while (performance.now() < until) {
          await op();
          ok += 1;
        }
      }),
    );
  const used = process.cpuUsage(cpuBefore);
  return { ok, elapsed: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

for await (const line of createInterface({ input: process.stdin })) {
  process.stdout.write(`${JSON.stringify(await run(JSON.parse(line) as DirectCommand))}\n`);
}
