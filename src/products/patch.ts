import fastJsonPatch from 'fast-json-patch';
import { ProductError } from './outcomes.js';
import {
  issuesByPointer,
  productFields,
  serverFields,
  type JsonPatch,
  type Product,
  type ProductFields,
} from './schema.js';

function isServerField(pointer: string): boolean {
  return serverFields.some((field) => pointer === `/${field}` || pointer.startsWith(`/${field}/`));
}

/** A patch that would change what the server sets, with what is wrong by pointer (into the patch or the product). */
function serverFieldsTouched(pointers: readonly string[]): ProductError {
  return new ProductError(
    'invalid_patch',
    'id, version and lastModified are set by the server',
    Object.fromEntries(pointers.map((at) => [at, ['must not change id, version or lastModified']])),
  );
}

/** Refuses, before any store call, a patch that names a server field in a path. */
export function checkPaths(operations: JsonPatch): void {
  const touched = operations.flatMap((op, i) =>
    op.op !== 'test' && [op.path, 'from' in op ? op.from : ''].some(isServerField) ? [`/${i}/path`] : [],
  );
  if (touched.length > 0) throw serverFieldsTouched(touched);
}

/** `before` with the patch applied, as a document of any shape; a failed `test` or a patch that does not apply is refused. */
function patched(before: Product, operations: JsonPatch): unknown {
  try {
    return fastJsonPatch.applyPatch(structuredClone(before), operations as fastJsonPatch.Operation[], true, false)
      .newDocument;
  } catch (error) {
    if (error instanceof fastJsonPatch.JsonPatchError && error.name === 'TEST_OPERATION_FAILED') {
      throw new ProductError('patch_test_failed', `the patch's test operation ${String(error.index ?? '')} failed`);
    }
    throw new ProductError('invalid_patch', 'the patch does not apply to this product');
  }
}

/** The patch applied to `before`: the client fields of the result, validated, or a `ProductError` saying why not. */
export function applyPatch(before: Product, operations: JsonPatch): ProductFields {
  const document = patched(before, operations);
  // A root operation ("path": "") can make the document anything at all.
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ProductError('invalid_product', 'the patched product is not an object', {
      '': ['must be a product object'],
    });
  }
  const result = document as Record<string, unknown>;
  // The same rule as for paths, for a root replace that carries other (or no) server fields.
  const changed = serverFields.filter((field) => result[field] !== before[field]);
  if (changed.length > 0) throw serverFieldsTouched(changed.map((field) => `/${field}`));
  const fields = Object.fromEntries(
    Object.entries(result).filter(([name]) => !(serverFields as readonly string[]).includes(name)),
  );
  const parsed = productFields.safeParse(fields);
  if (!parsed.success) {
    throw new ProductError('invalid_product', 'the patched product is not valid', issuesByPointer(parsed.error));
  }
  return parsed.data;
}
