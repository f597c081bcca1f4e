// What the image test gives the container where the task definition takes a value from AWS: one list, which
// `npm run test:image` runs the image with and test/image.test.ts resolves the template against under `npm test`, so
// that a variable added to the template without a local value fails there first.
import { randomBytes } from 'node:crypto';
import { productScopes } from '../../src/app.js';
import type { LocalValues } from './task-definition.js';

export const userPoolId = 'local_ImageTest';
export const machineClient = { id: 'image-test-machine', secret: 'image-test-machine-secret', scopes: productScopes };
export const smokeClient = { id: 'image-test-smoke', secret: 'image-test-smoke-secret', scopes: productScopes };
export const webClient = { id: 'image-test-web', redirectUris: ['http://127.0.0.1/'] };
export const topicArn = 'arn:aws:sns:us-east-1:000000000000:product-service-image-test-events';

/** The addresses of what stands in for AWS on this machine. */
export interface Endpoints {
  /** The issuer's `iss`: `{COGNITO_ISSUER_URL}/{userPoolId}`. */
  readonly issuer: string;
  readonly tokenUrl: string;
  readonly dynamodb: string;
  readonly sns: string;
  readonly otlp: string;
}

export function localValues(endpoints: Endpoints): LocalValues {
  return {
    standIns: {
      // The Cognito stack's exports: the user pool, its token endpoint, its machine, web and smoke clients.
      USER_POOL_ID: userPoolId,
      OAUTH_TOKEN_URL: endpoints.tokenUrl,
      ALLOWED_CLIENT_IDS: [machineClient.id, webClient.id, smokeClient.id].join(','),
      // The stack's region, tables, topic and Secrets Manager secret.
      AWS_REGION: 'us-east-1',
      PRODUCTS_TABLE_NAME: 'Products',
      PRODUCTS_SNAPSHOT_TABLE_NAME: 'ProductSnapshots',
      PRODUCT_EVENTS_TOPIC_ARN: topicArn,
      CURSOR_SECRET: randomBytes(32).toString('base64url'),
    },
    replaced: {
      OTEL_EXPORTER_OTLP_ENDPOINT: {
        value: endpoints.otlp,
        why: "the collector sidecar's receiver, 127.0.0.1:4318 in the task, is here an OTLP receiver on a free port",
      },
    },
    // Only here, each because AWS is not: the issuer's base URL (Cognito's is
    // https://cognito-idp.<region>.amazonaws.com), the DynamoDB and SNS endpoints (AWS_ENDPOINT_URL_SNS is the SDK's
    // own variable), and credentials, which ECS gives the task through its role and the local endpoints take as any.
    localOnly: {
      COGNITO_ISSUER_URL: endpoints.issuer.slice(0, -userPoolId.length - 1),
      DYNAMODB_ENDPOINT: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SNS: endpoints.sns,
      AWS_ACCESS_KEY_ID: 'image-test',
      AWS_SECRET_ACCESS_KEY: 'image-test',
    },
  };
}
