import { AuthRefusal } from './errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one JWS part (header or payload), already known to be base64url, to a JSON object, or refuses the token as
 * malformed.
 */
export function decodeJsonPart(part: string): { readonly text: string; readonly value: Record<string, unknown> } {
  let text: string;
  let value: unknown;
  try {
    text = strictUtf8.decode(Buffer.from(part, 'base64url'));
    value = JSON.parse(text);
  } catch (error) {
    throw new AuthRefusal('malformed_token', { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AuthRefusal('malformed_token');
  return { text, value: value as Record<string, unknown> };
}

/**
 * True when some object in `text` (already known to be valid JSON) names a member twice. RFC 7515 §4 and RFC 7519 §4
 * let a parser keep the last one, but two components that choose differently (a parser differential) would read
 * different claims from one signed token, so such tokens are refused. A single pass over the text: an AST parser
 * (momoa) did the same at about 20 µs per part, which every new token would pay.
 */
export function hasDuplicateMember(text: string): boolean {
  const open: Set<string>[] = [];
  // For each nesting level: is it an object (whose strings alternate key, value) or an array?
  const isObject: boolean[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '{') {
      open.push(new Set());
      isObject.push(true);
      expectKey = true;
    } else if (c === '[') {
      isObject.push(false);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      if (isObject.pop() === true) open.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = isObject[isObject.length - 1] === true;
    } else if (c === '"') {
      // The closing quote: the next one not escaped (preceded by an even run of backslashes).
      // The text is valid JSON, so there is one; the opening quote ends any run of backslashes counted back.
      let end = text.indexOf('"', i + 1);
      for (;;) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 92) backslashes += 1;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (expectKey) {
        const raw = text.slice(i + 1, end);
        // Escapes are decoded ("\u0073cope" is "scope"), so that they cannot hide a duplicate.
        const name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        const names = open[open.length - 1];
        if (names?.has(name)) return true;
        names?.add(name);
        expectKey = false;
      }
      i = end;
    }
  }
  return false;
}
