import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Refused } from '../src/refusals.js';
import { decodeJsonPart, hasDuplicateMember } from '../src/token-parts.js';

// The duplicate-member check reads JSON by hand, so it is held against generated documents whose duplicates are
// known: PROPERTY_RUNS (default 1000; set it higher to search longer).
const runs = Number(process.env['PROPERTY_RUNS'] ?? 1000);

type Value = null | boolean | number | string | Value[] | { readonly members: readonly Member[] };
interface Member {
  readonly name: string;
  /** Written with every character as \uXXXX: the same name to a parser, other text to a scanner. */
  readonly escaped: boolean;
  readonly value: Value;
}

// Names that collide, that JSON.parse treats specially, and that hold a quote, a backslash or a colon.
const names = ['a', 'b', 'scope', '__proto__', 'constructor', 'é', 'a"b', 'x\\', 'k:v', ''];
const { value } = fc.letrec<{ value: Value; members: Member[] }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom<Value>(null, true, 1.5e3, -0, 'plain', 'a:b', '{"x":1}', '\\', '\\"', 'x\\'),
    tie('members').map((members) => ({ members })),
    fc.array(tie('value'), { maxLength: 4 }),
  ),
  members: fc.array(fc.record({ name: fc.constantFrom(...names), escaped: fc.boolean(), value: tie('value') }), {
    maxLength: 5,
  }),
}));
const topLevel = fc.array(fc.record({ name: fc.constantFrom(...names), escaped: fc.boolean(), value }), {
  maxLength: 8,
});

function nameText({ name, escaped }: Member): string {
  if (!escaped) return JSON.stringify(name);
  // JSON's \u escapes are UTF-16 code units.
  const units = Array.from({ length: name.length }, (_, i) => `\\u${name.charCodeAt(i).toString(16).padStart(4, '0')}`);
  return `"${units.join('')}"`;
}

function write(v: Value, space: string): string {
  if (Array.isArray(v)) return `[${v.map((item) => write(item, space)).join(`,${space}`)}]`;
  if (v !== null && typeof v === 'object') {
    const members = v.members.map((m) => `${nameText(m)}${space}:${space}${write(m.value, space)}`);
    return `{${space}${members.join(`,${space}`)}${space}}`;
  }
  return JSON.stringify(v);
}

function namedTwice(v: Value): boolean {
  if (Array.isArray(v)) return v.some(namedTwice);
  if (v === null || typeof v !== 'object') return false;
  const seen = new Set(v.members.map((m) => m.name));
  return seen.size !== v.members.length || v.members.some((m) => namedTwice(m.value));
}

describe('the duplicate-member check (RFC 7519 §4, RFC 7515 §4: a parser differential)', () => {
  it('finds a member named twice in any object, however its name is written, and only then', () => {
    fc.assert(
      fc.property(topLevel, fc.constantFrom('', ' ', '\n\t'), (members, space) => {
        const document: Value = { members };
        const text = write(document, space);
        assert.equal(hasDuplicateMember(text, JSON.parse(text)), namedTwice(document), text);
      }),
      { numRuns: runs },
    );
  });

  it('refuses such a part, and a part nested as deep as the size cap allows without overflowing the stack', () => {
    const encode = (text: string) => Buffer.from(text).toString('base64url');
    assert.deepEqual(decodeJsonPart(encode('{"a":{"a":1},"b":[{"a":2},{"a":3}]}')), {
      a: { a: 1 },
      b: [{ a: 2 }, { a: 3 }],
    });
    assert.ok(decodeJsonPart(encode('{"a":1,"b":{"c":2,"\\u0063":3}}')) instanceof Refused);
    const deep = `{"a":${'['.repeat(6000)}${']'.repeat(6000)}}`;
    assert.deepEqual(Object.keys(decodeJsonPart(encode(deep))), ['a']);
  });
});
