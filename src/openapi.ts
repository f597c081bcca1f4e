import { z } from 'zod';
import type { Access, GroupRule } from '@product-service/bearer';
import { errorCodes } from './http/errors.js';
import type { Answer, Route } from './http/route.js';
import './products/schema.js';

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const retryAfter = { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 0 } } };

export interface OpenApiOptions {
  readonly routes: readonly Route[];
  /** The OAuth2 token endpoint clients use (the embedded issuer's, or the Cognito domain's). */
  readonly tokenUrl: string | undefined;
  readonly scopes: Readonly<Record<string, string>>;
}

/** The scopes a route's access demands: the docs and the enforcement share one source. */
export function scopesOf(access: Access): readonly string[] {
  if (access.kind !== 'authenticated' || !access.scopes) return [];
  return 'allOf' in access.scopes ? access.scopes.allOf : access.scopes.anyOf;
}

/** What a step-up rule adds to the 401 (RFC 9470 §3), in words: who is asked, and for what. */
function stepUpOf(access: Access): string {
  if (access.kind !== 'authenticated' || !access.stepUp) return '';
  const { maxAgeSec, acrValues, peopleOnly } = access.stepUp;
  const needs = [
    ...(maxAgeSec === undefined ? [] : [`a sign-in at most ${maxAgeSec} s old (\`max_age\`)`]),
    ...(acrValues === undefined ? [] : [`an \`acr\` of ${acrValues.join(', ')} (\`acr_values\`)`]),
  ];
  const who = peopleOnly ? 'a person (a token with a username)' : 'the token';
  return `; or \`insufficient_user_authentication\` (RFC 9470 §3) when ${who} lacks ${needs.join(' and ')}`;
}

/** A group rule in words, with every way in it names. */
function groupNeeds(rule: GroupRule): { readonly lacks: string; readonly otherwise: string } {
  const ways = [`the group ${rule.anyOf.join(' or ')}`];
  if (rule.orScopes) ways.push(`the scope ${rule.orScopes.join(' ')}`);
  const machines = rule.orMachinesWithScopes?.join(' ');
  return {
    lacks: ways.join(' or '),
    otherwise: machines
      ? `; a machine client (a token without a username) may have the scope ${machines} instead of the group`
      : '',
  };
}

/** What authentication and the store add to a route's own answers, from its access and whether it uses the store. */
function answersOf(route: Route & { readonly doc: NonNullable<Route['doc']> }): Record<number, Answer | string> {
  const answers: Record<number, Answer | string> = { ...route.doc.answers };
  const { access } = route;
  if (access.kind === 'authenticated') {
    const own = answers[400];
    const malformed = 'a malformed `Authorization` header or a token in the query (RFC 6750 §3.1)';
    answers[400] =
      own === undefined
        ? `Bad request: ${malformed}`
        : `${typeof own === 'string' ? own : own.description}; or ${malformed}`;
    answers[401] = `No token, or a bad one: \`WWW-Authenticate\` says why (RFC 6750 §3.1)${stepUpOf(access)}`;
    if (access.scopes || access.groups) {
      const groups = access.groups ? groupNeeds(access.groups) : undefined;
      const needs = [
        ...(access.scopes ? [`the scope ${scopesOf(access).join(' ')}`] : []),
        ...(groups ? [groups.lacks] : []),
      ];
      answers[403] = `The token lacks ${needs.join(' or ')} (\`insufficient_scope\`)${groups?.otherwise ?? ''}`;
    }
  }
  // Node's HTTP server answers these before any route runs (src/http/listen.ts), whatever the operation.
  answers[417] = 'An `Expect` other than `100-continue` (RFC 9110 §10.1.1); the connection is closed';
  answers[431] = 'The request headers are larger than the server takes, 16 KiB in all (RFC 6585 §5)';
  if (access.kind === 'authenticated' || route.doc.usesStore) {
    answers[503] = {
      description: `The issuer's keys${route.doc.usesStore ? ' or the product store' : ''} cannot be had now; try again after \`Retry-After\``,
      headers: retryAfter,
    };
  }
  return answers;
}

/** The `error` code of the answers of authentication and the store (RFC 6750 §3.1, RFC 9110 §15.6.4). */
const codes: Readonly<Record<number, string>> = {
  ...errorCodes,
  401: 'invalid_token',
  403: 'insufficient_scope',
  422: 'unprocessable',
  503: 'temporarily_unavailable',
};

function responseOf(status: number, answer: Answer | string): Record<string, unknown> {
  const given = typeof answer === 'string' ? { description: answer } : answer;
  const { description, schema, headers } = given;
  const body = schema ?? (status >= 400 ? 'Error' : undefined);
  // An error body a person can read on the page, rather than one generated from the schema (`additionalProp1`).
  const example =
    given.example ??
    (body === 'Error' ? { error: codes[status] ?? 'bad_request', error_description: description } : undefined);
  return {
    description,
    ...(headers ? { headers } : {}),
    ...(body === undefined
      ? {}
      : {
          content: {
            'application/json': {
              schema: typeof body === 'string' ? ref(body) : body,
              ...(example === undefined ? {} : { example }),
            },
          },
        }),
  };
}

/** The zod schemas registered for the API, as OpenAPI components (JSON Schema 2020-12, without `$schema` or `$id`). */
function componentSchemas(): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(z.globalRegistry, {
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const components: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _schema, $id: _id, ...rest } = schema as Record<string, unknown>;
    components[id] = rest;
  }
  return components;
}

/** How a client gets a token: `oauth2` with a token endpoint, `bearer` (pasted) without. */
type Scheme = 'oauth2' | 'bearer';

/** One operation: its summary, parameters, body, every answer and the scopes it needs. */
function operationOf(route: Route & { readonly doc: NonNullable<Route['doc']> }, scheme: Scheme) {
  const { doc, access } = route;
  const responses = Object.fromEntries(
    Object.entries(answersOf(route)).map(([status, answer]) => [status, responseOf(Number(status), answer)]),
  );
  return {
    summary: doc.summary,
    operationId: doc.operationId,
    tags: [doc.tag],
    ...(doc.parameters ? { parameters: doc.parameters } : {}),
    ...(doc.request
      ? {
          requestBody: {
            required: true,
            content: { [doc.request.type]: { schema: ref(doc.request.schema), example: doc.request.example } },
          },
        }
      : {}),
    responses,
    security: access.kind === 'public' ? [] : [{ [scheme]: [...scopesOf(access)] }],
  };
}

/** Every documented route, by OpenAPI path (`/products/{id}`) and method. */
function pathsOf(routes: readonly Route[], scheme: Scheme): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (!route.doc) continue;
    (paths[route.path.replace(/:(\w+)/g, '{$1}')] ??= {})[route.method.toLowerCase()] = operationOf(
      { ...route, doc: route.doc },
      scheme,
    );
  }
  return paths;
}

/** How the page gets a token: the OAuth2 flows of the token endpoint, or a pasted bearer token without one. */
function securitySchemes(options: OpenApiOptions): Record<string, unknown> {
  const { tokenUrl, scopes } = options;
  if (tokenUrl === undefined) {
    return { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token' } };
  }
  // Cognito serves the hosted login beside the token endpoint, on the user pool's domain; so does the local issuer.
  const authorizationUrl = tokenUrl.endsWith('/oauth2/token')
    ? tokenUrl.replace(/\/oauth2\/token$/, '/oauth2/authorize')
    : undefined;
  return {
    oauth2: {
      type: 'oauth2',
      flows: {
        // Machines: the client_credentials grant with the app client's secret.
        clientCredentials: { tokenUrl, scopes },
        // People: the hosted login on the same domain (Cognito's /oauth2/authorize), with PKCE.
        ...(authorizationUrl
          ? {
              authorizationCode: {
                authorizationUrl,
                tokenUrl,
                scopes: { openid: 'Who you are', email: 'Your email address', ...scopes },
              },
            }
          : {}),
      },
    },
  };
}

const info = {
  title: 'ProductService',
  version: '0.1.0',
  description:
    'A products API behind OAuth2 bearer tokens from AWS Cognito or any OpenID Connect issuer. Every error is ' +
    '`{"error", "error_description"}`. A method a path does not serve is 405 with `Allow`; a path that does ' +
    'not exist is 404 (401 without a token). Before any operation is known, the HTTP server answers a request ' +
    'that is not valid HTTP/1.1 with 400, one whose headers or body arrive too slowly with 408, and chunk ' +
    'extensions that are too large with 413, and closes the connection.',
};

const tags = [
  { name: 'products', description: 'The products API: every route needs a token with a products scope' },
  {
    name: 'health',
    description: 'Health, readiness, counters, this document and the protected resource metadata (RFC 9728)',
  },
];

/** OpenAPI 3.1, generated from the zod schemas that validate requests and from the routes' access. */
export function createOpenApiDocument(options: OpenApiOptions): Record<string, unknown> {
  // With a token endpoint, the page can get a token itself (client_credentials); without one (an OIDC issuer whose
  // OAUTH_TOKEN_URL is not set), a person pastes a token: never a URL that nothing serves.
  const scheme: Scheme = options.tokenUrl === undefined ? 'bearer' : 'oauth2';
  return {
    openapi: '3.1.0',
    info,
    tags,
    paths: pathsOf(options.routes, scheme),
    components: { schemas: componentSchemas(), securitySchemes: securitySchemes(options) },
    security: [{ [scheme]: [] }],
  };
}
