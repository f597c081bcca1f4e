import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestIssuer } from '@product-service/bearer-testing';

/**
 * The TypeScript code blocks of the pages users copy from: every package README and docs/authentication.md. A block's
 * info string may say what else is done with it beside the type check: `ts run` runs it to its end (exit 0), `ts
 * serve` runs it as a server on port 3000 and puts the quick-start requests to it (`quickStartRequests`).
 */
export const quickStartPages = [
  'packages/bearer/README.md',
  'packages/bearer-koa/README.md',
  'packages/bearer-express/README.md',
  'packages/bearer-fastify/README.md',
  'packages/bearer-node/README.md',
  'packages/bearer-testing/README.md',
  'docs/authentication.md',
];

export interface CodeBlock {
  /** `packages/bearer/README.md:10`: the page and the line of the opening fence, for failures. */
  readonly at: string;
  /** A file name for the block in the consumer project. */
  readonly file: string;
  readonly mode: 'check' | 'run' | 'serve';
  readonly code: string;
}

const fence = /^```(?<info>.*)$/;

/** The ```ts and ```typescript blocks of a Markdown text, in order. */
export function typeScriptBlocks(page: string, markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const info = fence
      .exec(lines[index] ?? '')
      ?.groups?.info?.trim()
      .split(/\s+/);
    if (!info) continue;
    const end = lines.findIndex((line, i) => i > index && line.startsWith('```'));
    assert.ok(end > index, `${page}:${index + 1}: a code block that is never closed`);
    const [language, ...words] = info;
    if (language === 'ts' || language === 'typescript') {
      const mode = words.includes('serve') ? 'serve' : words.includes('run') ? 'run' : 'check';
      const slug = page.replace(/^packages\//, '').replace(/\W+/g, '-');
      const code = lines.slice(index + 1, end).join('\n');
      blocks.push({ at: `${page}:${index + 1}`, file: `${slug}-${index + 1}.ts`, mode, code: `${code}\n` });
    }
    index = end;
  }
  return blocks;
}

export function quickStartBlocks(root: string): CodeBlock[] {
  return quickStartPages.flatMap((page) => typeScriptBlocks(page, readFileSync(join(root, page), 'utf8')));
}

/** Writes the blocks and the compiler options into a consumer project (`blocks/*.ts`, `tsconfig.json`). */
export function writeBlocks(project: string, blocks: readonly CodeBlock[]): void {
  mkdirSync(join(project, 'blocks'), { recursive: true });
  for (const block of blocks) writeFileSync(join(project, 'blocks', block.file), block.code);
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(quickStartTsconfig));
}

/** tsc's `blocks/express-README-md-9.ts(4,7): error …` as `packages/bearer-express/README.md:13:7: error …`. */
export function onThePage(tscOutput: string, blocks: readonly CodeBlock[]): string {
  const byFile = new Map(blocks.map((block) => [block.file, block.at]));
  return tscOutput.replace(/blocks\/([^(]+)\((\d+),(\d+)\)/g, (whole, file: string, line: string, column: string) => {
    const at = byFile.get(file);
    if (!at) return whole;
    const [page, fenceLine] = at.split(':');
    return `${page}:${Number(fenceLine) + Number(line)}:${column}`;
  });
}

/**
 * The consumer project's compiler options: strict, ES modules as Node runs them, and only what Node's type stripping
 * can run (`erasableSyntaxOnly`, `verbatimModuleSyntax`: a type imported without `type` fails here, not at run
 * time). Every block is a module of its own, so that two blocks' top-level names do not collide.
 */
export const quickStartTsconfig = {
  compilerOptions: {
    module: 'nodenext',
    target: 'ES2023',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    verbatimModuleSyntax: true,
    erasableSyntaxOnly: true,
    moduleDetection: 'force',
    noUnusedLocals: true,
    types: ['node'],
  },
  include: ['blocks/*.ts'],
};

/** The quick starts name this pool; the runs answer its JWKS from the test kit's issuer (`redirectPreload`). */
export const quickStartPool = { userPoolId: 'us-east-1_AbC123', clientId: 'my-app-client' };
const cognitoOrigin = 'https://cognito-idp.us-east-1.amazonaws.com';

/**
 * Loaded before a block (`node --import`): the block's `fetch` of the pool's discovery and JWKS goes to the test
 * kit's issuer, the only thing changed. Everything else, the block's code and the installed packages, runs as is.
 */
const redirectPreload = `
const issuer = process.env.QUICK_START_ISSUER;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : input);
  if (url.origin !== ${JSON.stringify(cognitoOrigin)}) return realFetch(input, init);
  return realFetch(new URL(url.pathname + url.search, issuer), init);
};
`;

export interface QuickStartRequest {
  readonly method: string;
  readonly path: string;
  /** Which token, if any: a machine's with `items/read`, a machine's without scopes, a person's in `admins`. */
  readonly token?: 'reader' | 'noScope' | 'admin';
  readonly status: number;
}

/**
 * What every served quick start does, whatever its framework: `GET /hello` open, `GET /items` for `items/read`,
 * `DELETE /items/:id` for people in `admins` (machines refused), anything else closed.
 */
export const quickStartRequests: readonly QuickStartRequest[] = [
  { method: 'GET', path: '/hello', status: 200 },
  { method: 'GET', path: '/items', status: 401 },
  { method: 'GET', path: '/items', token: 'noScope', status: 403 },
  { method: 'GET', path: '/items', token: 'reader', status: 200 },
  { method: 'DELETE', path: '/items/1', token: 'reader', status: 403 },
  { method: 'DELETE', path: '/items/1', token: 'admin', status: 204 },
  { method: 'GET', path: '/elsewhere', status: 401 },
];

export interface BlockRun {
  readonly at: string;
  /** Each request as `GET /items reader → 200`, with what came back when it differs. */
  readonly answers: string[];
  readonly exitCode: number | null;
  readonly output: string;
}

const port = 3000;

async function accepting(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Runs the `run` and `serve` blocks of a consumer project (`blocks/*.ts`, the packages installed beside them) one
 * after the other under plain Node (type stripping, no tsx, no `source` condition), with a test issuer standing in for
 * the pool.
 */
export async function runQuickStarts(project: string, blocks: readonly CodeBlock[]): Promise<BlockRun[]> {
  writeFileSync(join(project, 'redirect.mjs'), redirectPreload);
  const issuer = await startTestIssuer({ userPoolId: quickStartPool.userPoolId });
  const iss = `${cognitoOrigin}/${quickStartPool.userPoolId}`;
  const base = { iss, client_id: quickStartPool.clientId };
  const tokens = {
    reader: await issuer.cognitoAccessToken({ ...base, scope: 'items/read' }),
    noScope: await issuer.cognitoAccessToken({ ...base, scope: '' }),
    admin: await issuer.cognitoAccessToken({ ...base, username: 'ada', 'cognito:groups': ['admins'], scope: 'openid' }),
  };
  const runs: BlockRun[] = [];
  try {
    for (const block of blocks.filter((b) => b.mode !== 'check')) {
      assert.equal(await accepting(), false, `port ${port} is taken: ${block.at} could not listen on it`);
      const child = spawn(process.execPath, ['--import', './redirect.mjs', join('blocks', block.file)], {
        cwd: project,
        env: { ...process.env, NODE_OPTIONS: '', QUICK_START_ISSUER: issuer.baseUrl },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = once(child, 'exit').then(([code]) => code as number | null);
      const answers: string[] = [];
      if (block.mode === 'serve') {
        const deadline = Date.now() + 15_000;
        while (!(await accepting()) && Date.now() < deadline && child.exitCode === null) await sleep(50);
        for (const request of quickStartRequests) {
          const headers: Record<string, string> = request.token
            ? { authorization: `Bearer ${tokens[request.token]}` }
            : {};
          const status = await fetch(`http://127.0.0.1:${port}${request.path}`, { method: request.method, headers })
            .then(async (response) => (await response.arrayBuffer(), response.status))
            .catch((error: unknown) => String(error));
          const asked = `${request.method} ${request.path} ${request.token ?? 'no token'}`;
          answers.push(
            status === request.status ? `${asked} → ${status}` : `${asked} → ${status}, not ${request.status}`,
          );
        }
        child.kill('SIGTERM');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const exitCode = await exited;
      clearTimeout(timer);
      runs.push({ at: block.at, answers, exitCode: block.mode === 'serve' ? 0 : exitCode, output });
    }
  } finally {
    await issuer.close();
  }
  return runs;
}
