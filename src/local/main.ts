// `npm start`: with no issuer configured, the service on an embedded Cognito-shaped issuer and an embedded DynamoDB
// (local mode); with USER_POOL_ID or OIDC_ISSUER, the service exactly as src/server.ts runs it in AWS.
import { protectedResourceMetadataUrl } from '@product-service/bearer';
import { createService } from '../app.js';
import type { LocalConfig } from '../config.js';
import { serve } from '../serve.js';
import { createLocalService, isLocalService, type LocalService } from './service.js';
import { localWebClientId } from './web-client.js';

function banner(service: LocalService, local: LocalConfig, port: number, resourceUrl: string | undefined): string {
  const { clientId, clientSecret } = local;
  const people = local.users.map(
    (user) => `${user.username}${user.groups.length ? ` (${user.groups.join(', ')})` : ''}`,
  );
  const base = `http://localhost:${port}`;
  return `${[
    '',
    `ProductService is running locally on ${base} with an embedded Cognito-shaped issuer.`,
    '',
    'Get a token and call the API:',
    `  TOKEN=$(npm run --silent token -- --token-url ${service.localIssuer.tokenUrl} --client ${clientId}:${clientSecret})`,
    `  curl -i ${base}/hello`,
    `  curl -i -H "Authorization: Bearer $TOKEN" ${base}/example`,
    `  curl -i -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
    `    -d '{"name":"Trek Domane","imageURL":"https://images.example.com/domane.png"}' ${base}/products`,
    `  curl -i -H "Authorization: Bearer $TOKEN" ${base}/products`,
    '',
    `People (${people.join(', ')}) sign in at the hosted login, ${service.localIssuer.authorizeUrl}:`,
    `  in a browser, open ${base}/docs, press Authorize, and under authorizationCode enter client_id ${localWebClientId};`,
    `  then sign in with a username above and its password in LOCAL_USERS (by default <username>-password).`,
    `  A person's token for curl:  TOKEN=$(npm run --silent token -- --user ${local.users[0]?.username ?? 'admin'})`,
    `  The README's "Walk-through: a person" has the rest.`,
    '',
    `Interactive docs: ${base}/docs  (Authorize with client_id ${clientId} and its secret)`,
    `OpenAPI document: ${base}/openapi.json`,
    ...(resourceUrl ? [`Protected resource metadata (RFC 9728): ${protectedResourceMetadataUrl(resourceUrl)}`] : []),
    '',
  ].join('\n')}\n`;
}

await serve({
  build: (config) => (config.local ? createLocalService(config) : createService(config)),
  banner: (service, config, port) =>
    config.local && isLocalService(service) ? banner(service, config.local, port, config.auth.resourceUrl) : undefined,
});
