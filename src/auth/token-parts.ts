import { parse, iterator, type ObjectNode } from '@humanwhocodes/momoa';
import { base64url } from 'jose';
import { AuthRefusal } from './errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one JWS part (header or payload) to a JSON object, refusing duplicate member names: RFC 7515 §4 and
 * RFC 7519 §4 allow a parser to keep the last one, but two components that pick differently (parser differential)
 * would then read different claims from the same signed token.
 */
export function decodeJsonPart(part: string): Record<string, unknown> {
  let text: string;
  try {
    text = strictUtf8.decode(base64url.decode(part));
  } catch (error) {
    throw new AuthRefusal('malformed_token', { cause: error });
  }
  let document;
  try {
    document = parse(text);
  } catch (error) {
    throw new AuthRefusal('malformed_token', { cause: error });
  }
  if (document.body.type !== 'Object') throw new AuthRefusal('malformed_token');
  for (const { node, phase } of iterator(document)) {
    if (phase !== 'enter' || node.type !== 'Object') continue;
    const names = new Set<string>();
    for (const member of (node as ObjectNode).members) {
      const name = member.name.type === 'String' ? member.name.value : member.name.name;
      if (names.has(name)) throw new AuthRefusal('malformed_token');
      names.add(name);
    }
  }
  return JSON.parse(text) as Record<string, unknown>;
}
