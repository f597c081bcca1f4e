import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export type Child = ChildProcessByStdio<null, Readable, null>;

export type ChildWithStderr = ChildProcessByStdio<null, Readable, Readable>;

export interface SpawnTsOptions {
  /** Pipe stderr as well as stdout (read it with `textOf`); ignored otherwise. */
  readonly stderr?: boolean;
  /** Only `env`, not the parent's environment as well: for a test of what happens when something is not set. */
  readonly onlyEnv?: boolean;
}

/** Runs a TypeScript entry point in its own Node process, as `npm test` runs the sources; its stdout piped. */
export function spawnTs(
  entry: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: { stderr: true } & SpawnTsOptions,
): ChildWithStderr;
export function spawnTs(
  entry: string,
  args?: readonly string[],
  env?: NodeJS.ProcessEnv,
  options?: SpawnTsOptions,
): Child;
export function spawnTs(
  entry: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
  options: SpawnTsOptions = {},
): Child | ChildWithStderr {
  const command = ['--conditions=source', '--import', 'tsx', entry, ...args];
  const environment = options.onlyEnv ? env : { ...process.env, ...env };
  if (options.stderr) return spawn(process.execPath, command, { stdio: ['ignore', 'pipe', 'pipe'], env: environment });
  return spawn(process.execPath, command, { stdio: ['ignore', 'pipe', 'ignore'], env: environment });
}

/** Everything `stream` writes from now on, read when asked. */
export function textOf(stream: Readable): () => string {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

/** The child's exit code (null when a signal ended it), once it has exited. */
export function exitOf(child: Child | ChildWithStderr): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code: number | null) => resolve(code)));
}

/** Every stdout line of `child` is handed to `onLine`; resolves with the first line for which `match` is true. */
export function watchLines(child: Child, onLine: (line: string) => void = () => undefined) {
  const lines = createInterface({ input: child.stdout });
  lines.on('line', onLine);
  return {
    first(match: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no such line in time')), timeoutMs);
        const listener = (line: string) => {
          if (!match(line)) return;
          clearTimeout(timer);
          lines.off('line', listener);
          resolve(line);
        };
        lines.on('line', listener);
        child.once('exit', (code) => reject(new Error(`the process exited (${String(code)}) first`)));
      });
    },
  };
}

export interface StoreProcess {
  readonly endpoint: string;
  /** SIGSTOP: the store keeps its connections and answers nothing, as a frozen host would. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  close(): Promise<void>;
}

/** dynalite in a process of its own, with the service's tables. */
export async function startStoreProcess(): Promise<StoreProcess> {
  const child = spawnTs('test/support/dynalite-main.ts');
  const line = await watchLines(child).first(() => true);
  const { endpoint } = JSON.parse(line) as { endpoint: string };
  return {
    endpoint,
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
    close: () => stop(child),
  };
}

/** Ends a child (resuming it first, should it be stopped) and waits for it to be gone. */
export async function stop(child: Child): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT');
  child.kill('SIGKILL');
  await exited;
}

/**
 * The environment of the service as it runs in AWS, pointed at a JWKS server and a store the test controls: an OIDC
 * issuer, a DynamoDB endpoint (dynalite takes any credentials), JSON logs on a free port.
 */
export function awsLikeEnv(issuer: { issuer: string; jwksUri: string }, storeEndpoint: string): Record<string, string> {
  return {
    PORT: '0',
    LOG_FORMAT: 'json',
    OIDC_ISSUER: issuer.issuer,
    JWKS_URI: issuer.jwksUri,
    DYNAMODB_ENDPOINT: storeEndpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    CURSOR_SECRET: 'test-cursor-secret-shared-by-the-tasks-0123',
  };
}
