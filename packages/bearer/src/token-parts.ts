import { refused, type Refused } from './refusals.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one JWS part (header or payload), already known to be base64url, to a JSON object that names no member
 * twice, or the refusal `malformed_token`.
 */
export function decodeJsonPart(part: string): Record<string, unknown> | Refused {
  let text: string;
  let value: unknown;
  try {
    text = strictUtf8.decode(Buffer.from(part, 'base64url'));
    value = JSON.parse(text);
  } catch {
    return refused('malformed_token');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return refused('malformed_token');
  if (hasDuplicateMember(text, value)) return refused('malformed_token');
  return value as Record<string, unknown>;
}

/**
 * True when some object in `text` names a member twice; `value` is `JSON.parse(text)`. RFC 7515 §4 and RFC 7519 §4
 * let a parser keep the last one, but two components that choose differently (a parser differential) would read
 * different claims from one signed token, so such tokens are refused.
 *
 * JSON.parse keeps one member per name (escapes decoded: `"\u0073cope"` is `"scope"`), so a duplicate is a member
 * name in the text that the parsed value lacks: the two counts differ. Counting builds nothing per member, where a
 * set of names per object cost about twice as much, and an AST parser (momoa) about 20 µs per part.
 */
export function hasDuplicateMember(text: string, value: unknown): boolean {
  return memberNamesInText(text) !== membersIn(value);
}

/** Member names in valid JSON text: outside strings, a colon follows each name and appears nowhere else. */
function memberNamesInText(text: string): number {
  let names = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 58 /* : */) {
      names += 1;
    } else if (c === 34 /* " */) {
      // The closing quote: the next one not escaped (preceded by an even run of backslashes). The text is valid
      // JSON, so there is one; the opening quote ends any run of backslashes counted back.
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 92 /* \ */) backslashes += 1;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      // Not reached for valid JSON; should the scan be wrong, the token is refused rather than the loop restarted.
      if (end === -1) return -1;
      i = end;
    }
  }
  return names;
}

/**
 * Own members of every object in a parsed JSON value, nested ones included. Iterative, as JSON.parse is: a token
 * of deeply nested arrays within the size cap must not overflow the stack.
 */
function membersIn(value: unknown): number {
  let members = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null) continue;
    if (Array.isArray(next)) {
      for (const item of next as unknown[]) if (typeof item === 'object' && item !== null) pending.push(item);
      continue;
    }
    for (const name in next) {
      members += 1;
      const member = (next as Record<string, unknown>)[name];
      if (typeof member === 'object' && member !== null) pending.push(member);
    }
  }
  return members;
}
