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
