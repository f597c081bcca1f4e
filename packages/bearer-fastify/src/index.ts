import type {
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
} from 'fastify';
import fp from 'fastify-plugin';
import type {
  Access,
  Authenticator,
  AuthenticatorOptions,
  Principal,
  Refusal,
  RefusalReason,
  RoutePolicy,
} from '@product-service/bearer';
import { createGate, settle, toAuthRequest, type Settlement } from '@product-service/bearer/adapter';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified principal; `undefined` on a public route or for an anonymous caller on an optional one. */
    principal: Principal | undefined;
    /** Why the request was refused, for the request log. */
    authRefusal: RefusalReason | undefined;
  }
  interface FastifyContextConfig {
    /**
     * What the route needs (`publicAccess`, `optionalAccess`, `requireScopes(…)`); when absent, what the policy says,
     * else a valid token (the RFC 9728 metadata path excepted: public unless named).
     */
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
  const gate = createGate(options);
  const answer = options.answer ?? writeRefusal;

  fastify.decorateRequest('principal', undefined);
  fastify.decorateRequest('authRefusal', undefined);

  // A refusal is answered, and so ends the hook chain without `done`.
  const settlement: Settlement<[FastifyRequest, FastifyReply, HookHandlerDoneFunction], void> = {
    admit(principal, request, _reply, done) {
      request.principal = principal;
      done();
    },
    refuse(refusal, principal, request, reply) {
      request.principal = principal;
      request.authRefusal = refusal.reason;
      answer(request, reply, refusal);
    },
  };

  // A callback hook, not an async one: an outcome the authenticator gives at once (a remembered token, a refusal
  // before any key is needed) goes on or is answered without a promise.
  const onRequest: onRequestHookHandler = (request, reply, done) => {
    const outcome = gate.check(toAuthRequest(request.raw), request.routeOptions.config.access);
    const settled = settle(outcome, settlement, request, reply, done);
    // A check or a writer that fails is reported as the hook's error, as a sync one would be.
    if (settled instanceof Promise) settled.catch(done);
  };
  fastify.addHook('onRequest', onRequest);
  done();
};

/**
 * The Fastify plugin: every route needs what its `config.access` says (`{ config: { access: requireScopes('x') } }`),
 * else what the policy says, else a valid token; the RFC 9728 metadata path is public unless a route or rule names
 * it. The principal is on `request.principal`. Registered with fastify-plugin, so its hook covers the routes of the
 * instance it is registered on, and runs before the `onRequest` hooks of plugins registered after it.
 */
export const bearer = fp(plugin, { fastify: '5.x', name: '@product-service/bearer-fastify' });
