import type { FastifyPluginCallback, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import {
  createAuthenticator,
  type Access,
  type Authenticator,
  type AuthenticatorOptions,
  type Outcome,
  type Principal,
  type Refusal,
  type RefusalReason,
  type RoutePolicy,
} from '@product-service/bearer';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified principal; `undefined` on a public route or for an anonymous caller on an optional one. */
    principal: Principal | undefined;
    /** Why the request was refused, for the request log. */
    authRefusal: RefusalReason | undefined;
  }
  interface FastifyContextConfig {
    /** What the route needs (`publicAccess`, `optionalAccess`, `requireScopes(…)`); a valid token when absent. */
    access?: Access;
  }
}

export interface FastifyBearerOptionsWithAuthenticator {
  readonly authenticator: Pick<Authenticator, 'authenticate'>;
  /** Access for routes whose config names none; else the authenticator's own policy. Closed by default either way. */
  readonly policy?: RoutePolicy;
  /** Writes a refusal (the service's own error writer); by default its status, headers and JSON body as they are. */
  readonly answer?: (request: FastifyRequest, reply: FastifyReply, refusal: Refusal) => void;
}

/** An authenticator of your own (to warm it up, ask `ready()`), or the options to build one. */
export type FastifyBearerOptions =
  | FastifyBearerOptionsWithAuthenticator
  | (AuthenticatorOptions & Pick<FastifyBearerOptionsWithAuthenticator, 'answer'>);

/** Writes a refusal as it is: its status, its headers (`WWW-Authenticate`, `Cache-Control`, `Retry-After`), JSON. */
export function writeRefusal(_request: FastifyRequest, reply: FastifyReply, refusal: Refusal): void {
  void reply.code(refusal.status).headers(refusal.headers).send(refusal.body);
}

const plugin: FastifyPluginCallback<FastifyBearerOptions> = (fastify, options, done) => {
  const authenticator = 'authenticator' in options ? options.authenticator : createAuthenticator(options);
  const policy = 'authenticator' in options ? options.policy : undefined;
  const answer = options.answer ?? writeRefusal;

  fastify.decorateRequest('principal', undefined);
  fastify.decorateRequest('authRefusal', undefined);

  /** Answers a refusal (and so ends the hook chain without `done`), or lets the request go on. */
  function settle(request: FastifyRequest, reply: FastifyReply, done: () => void, outcome: Outcome): void {
    // A valid token refused for a missing scope or group still names its principal, for the request log.
    request.principal = outcome.principal;
    if ('refusal' in outcome) {
      request.authRefusal = outcome.refusal.reason;
      answer(request, reply, outcome.refusal);
      return;
    }
    done();
  }

  // A callback hook, not an async one: an outcome the authenticator gives at once (a remembered token, a refusal
  // before any key is needed) goes on or is answered without a promise.
  const onRequest: onRequestHookHandler = (request, reply, done) => {
    const url = request.url;
    const mark = url.indexOf('?');
    const path = mark === -1 ? url : url.slice(0, mark);
    const access = request.routeOptions.config.access ?? policy?.accessFor(request.method, path);
    const outcome = authenticator.authenticate(
      {
        method: request.method,
        path,
        query: mark === -1 ? '' : url.slice(mark + 1),
        headers: request.headers,
        rawHeaders: request.raw.rawHeaders,
      },
      access,
    );
    if (outcome instanceof Promise) {
      // A writer that throws is reported as the hook's error, as a sync one would be.
      outcome.then((o) => settle(request, reply, done, o), done).catch(done);
    } else {
      settle(request, reply, done, outcome);
    }
  };
  fastify.addHook('onRequest', onRequest);
  done();
};

/**
 * The Fastify plugin: every route needs what its `config.access` says (`{ config: { access: requireScopes('x') } }`),
 * else what the policy says, else a valid token; the principal is on `request.principal`. Registered with
 * fastify-plugin, so its hook covers the routes of the instance it is registered on.
 */
export const bearer = fp(plugin, { fastify: '5.x', name: '@product-service/bearer-fastify' });
