import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import {
  allOf,
  claimCheck,
  claimEquals,
  claimIncludes,
  createRoutePolicy,
  optionalAccess,
  publicAccess,
  requireGroups,
  requireScopes,
  type Access,
  type Authenticator,
  type Principal,
} from '@product-service/bearer';
import { access as koaAccess, createBearerAuth, type AuthState } from '@product-service/bearer-koa';
import * as bearerExpress from '@product-service/bearer-express';
import { bearer as bearerFastify } from '@product-service/bearer-fastify';
import { createNodeBearer, writeRefusal } from '@product-service/bearer-node';

/**
 * The one app every adapter serves, each in its own framework's idiom, so that the table runs against each alike:
 *
 * | route          | access                                                         |
 * | -------------- | -------------------------------------------------------------- |
 * | `GET /public`  | public                                                         |
 * | `GET /feed`    | optional                                                       |
 * | `GET /items`   | scope `items/read`                                             |
 * | `POST /items`  | scope `items/write`                                            |
 * | `GET /admins`  | group `admins`, and no other way in                            |
 * | `GET /reports` | group `admins`, or any token granting `reports/read`           |
 * | `GET /sync`    | group `admins`, or a machine client granting `items/sync`      |
 * | `GET /org`     | scope `items/read`, and claim `org_id` equal to `org_42`       |
 * | `GET /mfa`     | claim `amr` including `mfa`                                    |
 * | `GET /acme`    | claim `tenant` is `acme`, by a check of the app's own          |
 * | `GET /private` | none named: a valid token (closed)                             |
 * | anything else  | none named: 401 without a token, 404                           |
 *
 * Every route answers `{ "subject": … }`: the principal's subject, or null.
 */
const isAcme = (claims: Readonly<Record<string, unknown>>) => claims['tenant'] === 'acme';

export const access = {
  public: publicAccess,
  feed: optionalAccess,
  read: requireScopes('items/read'),
  write: requireScopes('items/write'),
  admins: requireGroups('admins'),
  reports: requireGroups('admins', { orScopes: ['reports/read'] }),
  sync: requireGroups('admins', { orMachinesWithScopes: ['items/sync'] }),
  // express-oauth2-jwt-bearer's claimEquals / claimIncludes / claimCheck, as core access rules.
  org: allOf(requireScopes('items/read'), claimEquals('org_id', 'org_42')),
  mfa: claimIncludes('amr', 'mfa'),
  acme: claimCheck(isAcme, 'tenant acme only'),
};

export interface RunningAdapter {
  readonly url: string;
  close(): Promise<void>;
}

export type AdapterName = 'koa' | 'express' | 'fastify' | 'node';

const answer = (principal: Principal | undefined) => ({ subject: principal?.subject ?? null });

async function listen(server: Server): Promise<RunningAdapter> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Koa: each @koa/router route declares its access with access(); the middleware reads it off the router. */
function koa(authenticator: Authenticator): Promise<RunningAdapter> {
  const app = new Koa<AuthState>();
  const router = new Router<AuthState>();
  const ok = (ctx: Koa.ParameterizedContext<AuthState>) => {
    ctx.body = answer(ctx.state.principal);
  };
  router.get('/public', koaAccess(access.public), ok);
  router.get('/feed', koaAccess(access.feed), ok);
  router.get('/items', koaAccess(access.read), ok);
  router.post('/items', koaAccess(access.write), ok);
  router.get('/admins', koaAccess(access.admins), ok);
  router.get('/reports', koaAccess(access.reports), ok);
  router.get('/sync', koaAccess(access.sync), ok);
  router.get('/org', koaAccess(access.org), ok);
  router.get('/mfa', koaAccess(access.mfa), ok);
  router.get('/acme', koaAccess(access.acme), ok);
  router.get('/private', ok);
  app.use(createBearerAuth({ authenticator, router }));
  app.use(router.routes());
  const handle = app.callback();
  return listen(createServer((req, res) => void handle(req, res)));
}

/**
 * Express: app-level bearer() with the open routes in its policy, route middleware for scopes, groups and claims: the
 * middleware `requireGroups` takes the core's arguments, so each group route is written as the others write it.
 */
function expressApp(authenticator: Authenticator): Promise<RunningAdapter> {
  const app = express();
  const policy = createRoutePolicy([
    { method: 'GET', path: '/public', access: access.public },
    { method: 'GET', path: '/feed', access: access.feed },
  ]);
  const ok: express.RequestHandler = (req, res) => void res.json(answer(bearerExpress.authOf(req)?.principal));
  app.use(bearerExpress.bearer({ authenticator, policy }));
  app.get('/public', ok);
  app.get('/feed', ok);
  app.get('/items', bearerExpress.requireScopes('items/read'), ok);
  app.post('/items', bearerExpress.requireScopes('items/write'), ok);
  app.get('/admins', bearerExpress.requireGroups('admins'), ok);
  app.get('/reports', bearerExpress.requireGroups('admins', { orScopes: ['reports/read'] }), ok);
  app.get('/sync', bearerExpress.requireGroups('admins', { orMachinesWithScopes: ['items/sync'] }), ok);
  // The claim checks as Auth0's express-oauth2-jwt-bearer users write them: one middleware each, after the scope.
  app.get('/org', bearerExpress.requireScopes('items/read'), bearerExpress.claimEquals('org_id', 'org_42'), ok);
  app.get('/mfa', bearerExpress.claimIncludes('amr', 'mfa'), ok);
  app.get('/acme', bearerExpress.claimCheck(isAcme, 'tenant acme only'), ok);
  app.get('/private', ok);
  return listen(createServer(app));
}

/** Fastify: each route's access in its config, the plugin's onRequest hook; a real listen, for sameness. */
async function fastify(authenticator: Authenticator): Promise<RunningAdapter> {
  const app = Fastify();
  await app.register(bearerFastify, { authenticator });
  const ok = (request: { principal: Principal | undefined }) => answer(request.principal);
  app.get('/public', { config: { access: access.public } }, ok);
  app.get('/feed', { config: { access: access.feed } }, ok);
  app.get('/items', { config: { access: access.read } }, ok);
  app.post('/items', { config: { access: access.write } }, ok);
  app.get('/admins', { config: { access: access.admins } }, ok);
  app.get('/reports', { config: { access: access.reports } }, ok);
  app.get('/sync', { config: { access: access.sync } }, ok);
  app.get('/org', { config: { access: access.org } }, ok);
  app.get('/mfa', { config: { access: access.mfa } }, ok);
  app.get('/acme', { config: { access: access.acme } }, ok);
  app.get('/private', ok);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** node:http: a route table of its own, each route's access passed to authenticate(). */
function node(authenticator: Authenticator): Promise<RunningAdapter> {
  const bearer = createNodeBearer({ authenticator });
  const routes = new Map<string, Access | undefined>([
    ['GET /public', access.public],
    ['GET /feed', access.feed],
    ['GET /items', access.read],
    ['POST /items', access.write],
    ['GET /admins', access.admins],
    ['GET /reports', access.reports],
    ['GET /sync', access.sync],
    ['GET /org', access.org],
    ['GET /mfa', access.mfa],
    ['GET /acme', access.acme],
    ['GET /private', undefined],
  ]);
  return listen(
    createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      // HEAD is a GET without a body (RFC 9110 §9.3.2): it needs what GET needs.
      const key = `${req.method === 'HEAD' ? 'GET' : (req.method ?? '')} ${path}`;
      void Promise.resolve(bearer.authenticate(req, routes.get(key))).then((outcome) => {
        if ('refusal' in outcome) return writeRefusal(res, outcome.refusal);
        const found = routes.has(key);
        res.writeHead(found ? 200 : 404, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(found ? answer(outcome.principal) : { error: 'not_found' }));
      });
    }),
  );
}

export const adapters: Readonly<Record<AdapterName, (authenticator: Authenticator) => Promise<RunningAdapter>>> = {
  koa,
  express: expressApp,
  fastify,
  node,
};
