import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { HttpProblem } from '../src/http/errors.js';
import type { Route } from '../src/http/route.js';
import { createCursorCodec } from '../src/products/cursor.js';
import { ProductError, productOutcomes, type ProductOutcome } from '../src/products/outcomes.js';
import { outcomeAnswers, problemOf, productRoutes, type OutcomeAnswer } from '../src/products/routes.js';
import type { ProductService } from '../src/products/service.js';

const root = join(import.meta.dirname, '..');
const routes = productRoutes({
  products: {} as ProductService,
  cursors: createCursorCodec(Buffer.alloc(32, 1)),
});

/**
 * What is wrong with an outcome table: an outcome with no answer, or one that is not a client or store error, or whose
 * status no products route documents (so a client reading /openapi.json could not expect it).
 */
function tableFaults(
  table: Readonly<Partial<Record<ProductOutcome, OutcomeAnswer>>>,
  declared: readonly Route[],
): string[] {
  const documented = new Set(
    declared.flatMap(({ doc }) => [
      ...Object.keys(doc?.answers ?? {}).map(Number),
      // The store's 503 is added to every route that uses it (openapi.ts).
      ...(doc?.usesStore ? [503] : []),
    ]),
  );
  return productOutcomes.flatMap((outcome) => {
    const answer = table[outcome];
    if (!answer) return [`${outcome}: no answer`];
    if (answer.status < 400 || answer.status > 599) return [`${outcome}: ${answer.status} is not an error`];
    if (!/^[a-z_]+$/.test(answer.code)) return [`${outcome}: code ${answer.code}`];
    if (!documented.has(answer.status)) return [`${outcome}: ${answer.status} is documented on no route`];
    return [];
  });
}

describe('the products outcomes, mapped to HTTP in one table', () => {
  it('gives every outcome of the domain a documented error status and a stable code', () => {
    assert.deepEqual(tableFaults(outcomeAnswers, routes), []);
  });

  it('answers each outcome with its status, code, description, pointers and Retry-After', () => {
    for (const outcome of productOutcomes) {
      const cause = new Error('the SDK said so');
      const problem = problemOf(new ProductError(outcome, 'told the client', { '/name': ['x'] }, { cause }));
      assert.ok(problem instanceof HttpProblem);
      assert.equal(problem.status, outcomeAnswers[outcome].status, outcome);
      assert.equal(problem.code, outcomeAnswers[outcome].code, outcome);
      assert.equal(problem.description, 'told the client');
      assert.deepEqual(problem.errors, { '/name': ['x'] });
      // The log line of a 503 names what the store said (test/store-outage.test.ts reads it).
      assert.equal(problem.cause, cause);
    }
    // A busy product and a store that cannot answer now tell the client when to try again (RFC 9110 §10.2.3).
    assert.equal(problemOf(new ProductError('conflict_exhausted', 'busy')).retryAfterSeconds, 1);
    assert.equal(problemOf(new ProductError('store_unavailable', 'down')).retryAfterSeconds, 1);
    assert.equal(problemOf(new ProductError('not_found', 'no')).retryAfterSeconds, undefined);
  });

  it('keeps the error codes clients have always been sent', () => {
    // The wire contract (test/contract.test.ts pins these too, through the API).
    assert.deepEqual(
      Object.fromEntries(productOutcomes.map((o) => [o, `${outcomeAnswers[o].status} ${outcomeAnswers[o].code}`])),
      {
        not_found: '404 not_found',
        gone: '410 gone',
        stale_etag: '412 precondition_failed',
        conflict_exhausted: '409 conflict',
        patch_test_failed: '409 test_failed',
        invalid_patch: '400 invalid_patch',
        invalid_product: '400 invalid_product',
        idempotency_mismatch: '422 idempotency_key_reused',
        store_unavailable: '503 temporarily_unavailable',
        unstorable: '422 unstorable',
      },
    );
  });

  it('turns a ProductError a handler throws into its answer, and leaves any other error alone', async () => {
    const [list] = routes;
    assert.ok(list);
    const throwing = (error: Error) =>
      productRoutes({
        products: { list: () => Promise.reject(error) } as unknown as ProductService,
        cursors: createCursorCodec(Buffer.alloc(32, 1)),
      })[0]?.handler;
    const ctx = { query: {}, path: '/products', set: () => undefined };
    await assert.rejects(
      Promise.resolve(throwing(new ProductError('store_unavailable', 'down'))?.(ctx as never, () => Promise.resolve())),
      { status: 503, code: 'temporarily_unavailable' },
    );
    const bug = new TypeError('a bug');
    await assert.rejects(Promise.resolve(throwing(bug)?.(ctx as never, () => Promise.resolve())), (e) => e === bug);
  });

  it('finds a table that misses an outcome, answers with a success or names an undocumented status', () => {
    // Negative controls: the checker above is not a rubber stamp.
    const { gone: _gone, ...missing } = outcomeAnswers;
    assert.deepEqual(tableFaults(missing, routes), ['gone: no answer']);
    assert.deepEqual(tableFaults({ ...outcomeAnswers, not_found: { status: 200, code: 'not_found' } }, routes), [
      'not_found: 200 is not an error',
    ]);
    assert.deepEqual(tableFaults({ ...outcomeAnswers, gone: { status: 418, code: 'gone' } }, routes), [
      'gone: 418 is documented on no route',
    ]);
  });
});

/** A source file under src/products/, as a path from the root and its text. */
interface Source {
  readonly path: string;
  readonly text: string;
}

function productSources(): Source[] {
  const dir = join(root, 'src/products');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => ({ path: relative(root, join(dir, name)), text: readFileSync(join(dir, name), 'utf8') }));
}

/** A line a status-scan waiver excuses: a number that is someone else's HTTP status (DynamoDB's), never ours. */
const waiver = 'status-scan:';

/** Where a source names HTTP: the HttpProblem type, an import from src/http/, or a 4xx or 5xx status number. */
function httpMentions({ path, text }: Source): string[] {
  return text.split('\n').flatMap((line, i) => {
    const at = `${path}:${i + 1}`;
    if (line.includes(waiver)) return [];
    const found: string[] = [];
    if (/\bHttpProblem\b/.test(line)) found.push(`${at} HttpProblem`);
    if (/from '(\.\.\/)+http\//.test(line)) found.push(`${at} imports src/http/`);
    if (/(?<![\w.§-])[45]\d\d(?![\w.])/.test(line)) found.push(`${at} names a status: ${line.trim()}`);
    return found;
  });
}

describe('the products domain speaks no HTTP', () => {
  const sources = productSources();
  const domain = sources.filter(({ path }) => path !== 'src/products/routes.ts');

  it('names no status, no HttpProblem and no src/http/ outside its routes', () => {
    assert.ok(domain.length >= 10, 'the domain files were found');
    assert.deepEqual(domain.flatMap(httpMentions), []);
  });

  it('waives only the store reading DynamoDB’s own answers, once', () => {
    const waived = domain.flatMap(({ path, text }) =>
      text.split('\n').flatMap((line) => (line.includes(waiver) ? [path] : [])),
    );
    assert.deepEqual(waived, ['src/products/store/client.ts']);
  });

  it('finds the statuses of the routes, and of a domain that throws them (negative controls)', () => {
    const routesFile = sources.find(({ path }) => path === 'src/products/routes.ts');
    assert.ok(routesFile);
    const inRoutes = httpMentions(routesFile).join('\n');
    assert.match(inRoutes, /imports src\/http\//);
    assert.match(inRoutes, /HttpProblem/);
    assert.match(inRoutes, /names a status: not_found: \{ status: 404/);
    const broken = {
      path: 'src/products/service.ts',
      text: [
        "import { HttpProblem } from '../http/errors.js';",
        "const gone = () => new Error('x');",
        'const busy = { status: 503 };',
        '// answers 409 when the deadline passes',
        'const rfc = "RFC 9110 §9.2.2"; const cap = Math.min(200, 5);',
      ].join('\n'),
    };
    assert.deepEqual(
      httpMentions(broken).map((found) => found.split(' ')[0]),
      [
        'src/products/service.ts:1',
        'src/products/service.ts:1',
        'src/products/service.ts:3',
        'src/products/service.ts:4',
      ],
    );
  });

  it('has lint refuse an import of src/http/ in the domain, and allow it in the routes', async () => {
    // The project's own config, this one rule only, and no type information (the rule needs none): a second, not 40.
    const eslint = new ESLint({
      cwd: root,
      ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
      overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } } },
    });
    const code = "import { HttpProblem } from '../http/errors.js';\nexport const problem = HttpProblem;\n";
    const rulesFired = async (filePath: string) =>
      (await eslint.lintText(code, { filePath: join(root, filePath) }))
        .flatMap(({ messages }) => messages)
        .map(({ ruleId }) => ruleId);
    assert.ok((await rulesFired('src/products/service.ts')).includes('no-restricted-imports'));
    assert.ok((await rulesFired('src/products/store/client.ts')).includes('no-restricted-imports'));
    assert.ok(!(await rulesFired('src/products/routes.ts')).includes('no-restricted-imports'));
  });
});
