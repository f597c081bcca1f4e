import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

interface Operation {
  readonly responses: Readonly<Record<string, { content?: Record<string, { schema?: object }> }>>;
}
interface Document {
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
}

/** What a body breaks of the document: undefined when it validates. */
export type ResponseCheck = (method: string, path: string, status: number, body: unknown) => string | undefined;

/**
 * Holds answers to the service's own `/openapi.json` as a client's validator would: a JSON Schema 2020-12 validator
 * (Ajv) with formats (`uri`, `date-time`), not the zod schemas the document was made from. An answer whose status the
 * operation does not list, or whose body its schema refuses, is reported. The smoke suite holds a deployment to the
 * document it serves with it, and the contract tests hold this checkout's service to its own; it lives in smoke/
 * because the suite imports nothing from outside it.
 */
export function responseValidator(document: object): ResponseCheck {
  // strict: false, since OpenAPI 3.1 schemas carry `example` and the document itself is not a schema.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(document, 'openapi.json');
  const { paths } = document as Document;
  const templates = Object.keys(paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  const pointer = (...parts: string[]) => parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1'));
  const compiled = new Map<string, ValidateFunction>();

  return (method, path, status, body) => {
    const template = templates.find(({ pattern }) => pattern.test(path.split('?')[0] ?? ''))?.template;
    const operationName = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
    if (template === undefined) return `${path} is not in the document`;
    const operation = paths[template]?.[operationName];
    if (operation === undefined) return `${method} ${template} is not in the document`;
    const answer = operation.responses[String(status)];
    if (answer === undefined) return `${method} ${template} does not list ${status}`;
    if (answer.content?.['application/json']?.schema === undefined) return undefined;
    const ref = `openapi.json#/${pointer('paths', template, operationName, 'responses', String(status)).join('/')}/content/application~1json/schema`;
    const validate = compiled.get(ref) ?? compiled.set(ref, ajv.compile({ $ref: ref })).get(ref);
    if (validate === undefined) throw new Error(`no schema at ${ref}`);
    if (validate(body)) return undefined;
    return `${method} ${template} ${status}: ${ajv.errorsText(validate.errors)}`;
  };
}
