import { fullFormats } from 'ajv-formats/dist/formats.js';
import { z } from 'zod';

/**
 * The message for a value of the wrong type, in the house style of every message a client reads: what the field must
 * be ("must be a number"), or "is required" when it is missing.
 */
const expected = (what: string) => ({
  error: (issue: { readonly input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`),
});

/** ISO 4217 codes as the runtime knows them (Intl), so `ZZZ` is refused although it looks like one. */
const currencies = Intl.supportedValuesOf('currency') as [string, ...string[]];

/** A product's id: 128 random bits, base64url. URL-safe and unguessable. */
export const productIdPattern = /^[A-Za-z0-9_-]{22}$/;

/**
 * RFC 3986's URI grammar as a JSON Schema validator applies `format: uri`, which is what the OpenAPI document promises
 * of `imageURL`: the very check Ajv's formats make, so the service accepts no value a client's validator refuses. The
 * WHATWG URL parser alone is not enough: it takes spaces, non-ASCII, `%zz` and `{}|^"<>`, which it would change.
 */
const uriFormat = fullFormats.uri;
if (typeof uriFormat !== 'function') throw new Error('ajv-formats: the uri format is no longer a function');
const rfc3986Uri = uriFormat;

/** Absolute http(s) with a host, valid to RFC 3986 and to the URL parser browsers use; never normalised. */
function isHttpUri(value: string): boolean {
  return /^https?:\/\/[^/?#]/i.test(value) && rfc3986Uri(value) && URL.canParse(value);
}

const httpUri = z
  .string(expected('an absolute http(s) URI (RFC 3986)'))
  .max(2048, 'must be at most 2048 characters')
  .refine(isHttpUri, 'must be an absolute http(s) URI (RFC 3986)')
  .meta({ format: 'uri' })
  .describe('An absolute http(s) URI (RFC 3986) of the product image, stored as sent');

/** The fields a client writes. Unknown fields are refused, so a typo never passes silently. */
export const productFields = z
  .strictObject(
    {
      name: z
        .string(expected('a string'))
        .trim()
        .min(1, 'must not be blank')
        .max(200, 'must be at most 200 characters')
        .describe('The product series name, e.g. "Trek Domane"'),
      imageURL: httpUri,
      description: z
        .string(expected('a string'))
        .max(2000, 'must be at most 2000 characters')
        .optional()
        .describe('Free text shown on the product page'),
      price: z
        .strictObject(
          {
            amount: z
              .number(expected('a number'))
              .nonnegative('must not be negative')
              .max(1_000_000_000, 'must be at most 1000000000')
              // Exact, not a float `multipleOf(0.01)`: the number as written has at most two decimals (1e-20 and 5e-324
              // do not, and DynamoDB cannot even store the latter).
              .refine((amount) => /^\d+(\.\d{1,2})?$/.test(String(amount)), 'must be in whole cents, such as 19.99')
              .describe("In the currency's units, with at most two decimals"),
            currency: z.enum(currencies, expected('an ISO 4217 code such as USD')),
          },
          expected('an object with amount and currency'),
        )
        .optional()
        .describe('List price'),
      tags: z
        .array(
          z.string(expected('a string')).trim().min(1, 'must not be blank').max(50, 'must be at most 50 characters'),
          expected('a list of strings'),
        )
        .max(100, 'must hold at most 100 tags')
        .refine((tags) => new Set(tags).size === tags.length, 'must not repeat a tag')
        .optional()
        .describe('Catalogue tags for filtering'),
    },
    expected('a JSON object'),
  )
  .meta({ id: 'ProductInput' });
export type ProductFields = z.infer<typeof productFields>;

/** The names of the fields a client writes, from the schema itself: what an update stores or removes. */
export const productFieldNames = Object.keys(productFields.shape) as readonly (keyof ProductFields)[];

/** What the server adds; a client can never set or patch these. */
export const serverFields = ['id', 'version', 'lastModified'] as const;

export const product = productFields
  .extend({
    id: z.string().regex(productIdPattern),
    version: z.int().positive().describe('Increases by one with every change; the ETag carries it'),
    lastModified: z.iso.datetime(),
  })
  .meta({ id: 'Product' });
export type Product = z.infer<typeof product>;

export const productPage = z
  .strictObject({
    items: z.array(product),
    next: z.string().nullable().describe('Opaque cursor of the next page, or null on the last page'),
  })
  .meta({ id: 'ProductPage' });

export const snapshotPage = z
  .strictObject({
    items: z.array(product.extend({ deleted: z.boolean() })),
    next: z.string().nullable(),
  })
  .meta({ id: 'SnapshotPage' });

/** RFC 6902 operations, checked for shape before fast-json-patch applies them. */
const pointer = z
  .string(expected('a JSON Pointer (RFC 6901)'))
  .regex(/^(\/([^~]|~[01])*)*$/, 'must be a JSON Pointer (RFC 6901)');
export const jsonPatch = z
  .array(
    z.discriminatedUnion(
      'op',
      [
        z.strictObject({ op: z.literal('add'), path: pointer, value: z.unknown() }),
        z.strictObject({ op: z.literal('replace'), path: pointer, value: z.unknown() }),
        z.strictObject({ op: z.literal('test'), path: pointer, value: z.unknown() }),
        z.strictObject({ op: z.literal('remove'), path: pointer }),
        z.strictObject({ op: z.literal('move'), path: pointer, from: pointer }),
        z.strictObject({ op: z.literal('copy'), path: pointer, from: pointer }),
      ],
      expected('an operation whose op is add, remove, replace, move, copy or test'),
    ),
    expected('a JSON Patch: a list of operations'),
  )
  .min(1, 'must hold at least one operation')
  .max(100, 'must hold at most 100 operations')
  .meta({ id: 'JsonPatch' });
export type JsonPatch = z.infer<typeof jsonPatch>;

export const problem = z
  .object({
    error: z.string(),
    error_description: z.string(),
    errors: z.record(z.string(), z.array(z.string())).optional().describe('Messages keyed by JSON Pointer'),
  })
  .meta({ id: 'Error' });

/** zod issues as `{"/price/amount": ["…"]}`: every problem, keyed by the JSON Pointer of the field. */
export function issuesByPointer(error: z.ZodError): Record<string, string[]> {
  const byPointer: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
    for (const path of keys) {
      const at = path.map((part) => `/${String(part).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
      const message = issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message;
      (byPointer[at] ??= []).push(message);
    }
  }
  return byPointer;
}
