import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';

const pages = ['README.md', ...readdirSync('docs').map((name) => join('docs', name))].filter((path) =>
  path.endsWith('.md'),
);
const text = (path: string) => readFileSync(path, 'utf8');
const scripts = Object.keys((JSON.parse(text('package.json')) as { scripts: Record<string, string> }).scripts);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

/** The page's text outside fenced code blocks, where a `#` line is a comment and not a heading. */
const prose = (page: string) => text(page).replace(/^```[\s\S]*?^```/gm, '');
const headings = (page: string, level: string) =>
  [...prose(page).matchAll(new RegExp(`^${level} (.+)$`, 'gm'))].map((match) => match[1] ?? '');

// The README is the front page; the depth is in docs/, each page with its own contents list (#21).
describe('the README and docs/', () => {
  it('has a README under 15 KB with the two commands a newcomer needs', () => {
    const readme = text('README.md');
    assert.ok(Buffer.byteLength(readme) < 15_000, `README.md is ${Buffer.byteLength(readme)} bytes`);
    assert.match(readme, /^npm ci && npm start /m);
    assert.match(readme, /^npm ci && npm test /m);
  });

  it('names only npm scripts that exist', () => {
    for (const page of pages) {
      for (const [, script = ''] of text(page).matchAll(/npm run (?:--silent )?([a-z][\w-]*(?::[\w-]+)*)/g)) {
        assert.ok(scripts.includes(script), `${page} names npm run ${script}`);
      }
    }
  });

  it('opens every page of docs/ with a contents list of exactly its sections', () => {
    for (const page of pages.filter((path) => path.startsWith('docs'))) {
      const listed = [...text(page).matchAll(/^- \[[^\]]+\]\(#([^)]+)\)$/gm)].map((match) => match[1]);
      assert.deepEqual(listed, headings(page, '##').map(slug), page);
    }
  });

  it('links only to files and sections that exist', () => {
    for (const page of pages) {
      for (const [, target = ''] of text(page).matchAll(/\]\((?!https?:|mailto:)([^)\s]+)\)/g)) {
        const [file = '', anchor] = target.split('#');
        const path = file === '' ? page : join(dirname(page), file);
        assert.ok(existsSync(path), `${page} links to ${target}`);
        if (anchor === undefined || !path.endsWith('.md')) continue;
        const anchors = [...headings(path, '#{1,6}')].map(slug);
        assert.ok(anchors.includes(anchor), `${page} links to ${target}: no such section`);
      }
    }
  });
});

/** The text of a `##` section of a page, up to the next `##`. */
function section(page: string, heading: string): string {
  const all = text(page);
  const start = all.indexOf(`\n## ${heading}\n`);
  assert.ok(start !== -1, `${page} has no section "${heading}"`);
  const end = all.indexOf('\n## ', start + 1);
  return all.slice(start, end === -1 ? undefined : end);
}

/** Each numbered step of a checklist (`1. **Name.** …`), with the text up to the next step. */
function steps(checklist: string): Map<string, string> {
  const found = [...checklist.matchAll(/^\d+\. \*\*(.+?)\*\*/gm)];
  return new Map(
    found.map((match, i) => [match[1] ?? '', checklist.slice(match.index, found[i + 1]?.index ?? checklist.length)]),
  );
}

// Issue #28: what a first deploy to a fresh account needs, in order, each with a command to run.
describe('docs/deploy.md: the first deploy to a fresh account', () => {
  const checklist = section('docs/deploy.md', 'First deploy to a fresh account');
  const needed: [RegExp, RegExp][] = [
    [/AWS CLI v2/, /aws --version/],
    [/issued ACM certificate in the pipeline's region/, /aws acm describe-certificate/],
    [/Service-linked roles/, /bash infra\/bootstrap-account\.sh/],
    [/Parameter files/, /npm test/],
    [/connection handshake/, /aws codeconnections get-connection/],
    [/pipeline stack/, /aws cloudformation deploy --stack-name product-service-pipeline/],
    [/DNS/, /LoadBalancerDnsName/],
    [/first `catalog-admins` member/, /admin-add-user-to-group .*--group-name catalog-admins/],
  ];

  it('is a checklist of the eight steps, in order, each with a command in a code block', () => {
    const listed = [...steps(checklist)];
    assert.equal(listed.length, needed.length, listed.map(([name]) => name).join(' / '));
    needed.forEach(([name, command], i) => {
      const [heading = '', body = ''] = listed[i] ?? [];
      assert.match(heading, name, `step ${i + 1}`);
      const code = [...body.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
      assert.match(code.replace(/\\\n\s*/g, ''), command, `step ${i + 1}: ${heading}`);
    });
  });

  it('gives each failure a first deploy can meet its symptom, cause and fix', () => {
    const rows = checklist.split('\n').filter((line) => /^\| (?!symptom|---)/.test(line));
    assert.ok(rows.length >= 8, `${rows.length} rows`);
    for (const symptom of [/service linked role/, /ROLLBACK_COMPLETE/, /Certificate/, /ENOTFOUND/, /51,200 bytes/]) {
      assert.ok(
        rows.some((row) => symptom.test(row)),
        String(symptom),
      );
    }
    for (const row of rows) assert.equal(row.split(' | ').length, 3, row);
  });

  it('tunes thresholds in the parameter files, and calls an override by hand temporary', () => {
    const alarms = section('docs/deploy.md', 'Alarms and the dashboard');
    assert.match(alarms, /in `infra\/parameters\/<env>\.service\.json`/);
    assert.match(alarms, /override by hand[^.]*is\s+temporary/);
    for (const page of pages) {
      // The trap of #28: tuning advice that the next push silently undoes.
      assert.doesNotMatch(text(page), /[Tt]une[^.]*with\s+`--parameter-overrides/, page);
    }
  });

  it('is no rubber stamp: a checklist without the service-linked roles, or with the old tuning advice, is caught', () => {
    const without = checklist.replace(/^3\. \*\*Service-linked roles\.\*\*[\s\S]*?(?=^4\. )/m, '');
    assert.equal(steps(without).size, needed.length - 1);
    assert.match(
      'Tune the two thresholds with `--parameter-overrides Max5xxRatePercent=…`',
      /[Tt]une[^.]*with\s+`--parameter-overrides/,
    );
  });
});
